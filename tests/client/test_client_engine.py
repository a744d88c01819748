"""The CLI's story end to end against a real engine: import, run, ps, logs, stop, rm, and mistakes.

Needs an engine: a private berthd (tests/client/conftest.py), or BERTH_TEST_HOST.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid

import pytest


@pytest.fixture
def berth(engine_host):
    def run(*args: str, stdin=None) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "berth.client.main", "-H", engine_host, *args],
                              capture_output=True, text=True, stdin=stdin, timeout=60)
    return run


@pytest.fixture
def name() -> str:
    return f"cli-{uuid.uuid4().hex[:10]}"


NET = ("--network", "none")


def test_version_shows_client_and_server(berth):
    result = berth("version")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Client:\n Version:           0.1.0\n")
    assert "\nServer:" in result.stdout and "  API version:" in result.stdout


def test_info_counts_containers_and_images(berth, image):
    result = berth("info")
    assert result.returncode == 0, result.stderr
    assert re.search(r"^ Containers: \d+$", result.stdout, re.M)
    assert re.search(r"^ Images: [1-9]\d*$", result.stdout, re.M)


def test_an_imported_image_is_listed(berth, image):
    result = berth("images")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("REPOSITORY   ")
    row = next(line for line in result.stdout.splitlines() if line.startswith(image + " "))
    assert re.match(rf"{image}\s+latest\s+[0-9a-f]{{12}}\s+.+ ago\s+\d[\d.]*[kMG]?B$", row)
    # same columns; their widths follow the CREATED text, which may change between two calls
    assert berth("image", "ls").stdout.splitlines()[0].split() == result.stdout.splitlines()[0].split()
    inspected = json.loads(berth("image", "inspect", image).stdout)
    assert inspected[0]["Id"].startswith("sha256:")
    assert f"{image}:latest" in inspected[0]["RepoTags"]


def test_run_prints_the_output_and_exits_with_the_containers_status(berth, image):
    result = berth("run", "--rm", *NET, image, "sh", "-c", "echo to-out; echo to-err >&2; exit 3")
    assert (result.returncode, result.stdout, result.stderr) == (3, "to-out\n", "to-err\n")


def test_run_passes_env_workdir_user_and_hostname(berth, image):
    result = berth("run", "--rm", *NET, "-e", "GREETING=hi", "-w", "/tmp", "-u", "65534",
                   "--hostname", "box", image, "sh", "-c", 'echo "$GREETING $(pwd) $(id -u) $(hostname)"')
    assert result.returncode == 0, result.stderr
    assert result.stdout == "hi /tmp 65534 box\n"


def test_entrypoint_replaces_the_images_command(berth, image):
    result = berth("run", "--rm", *NET, "--entrypoint", "echo", image, "via", "entrypoint")
    assert (result.returncode, result.stdout) == (0, "via entrypoint\n")


def test_rm_leaves_nothing_behind(berth, image, name):
    assert berth("run", "--rm", *NET, "--name", name, image, "true").returncode == 0
    assert name not in berth("ps", "-a").stdout


def test_a_detached_container_through_its_whole_life(berth, image, name):
    started = berth("run", "-d", *NET, "--name", name, image, "sh", "-c", "echo hello; echo oops >&2; sleep 600")
    assert started.returncode == 0, started.stderr
    cid = started.stdout.strip()
    assert re.fullmatch(r"[0-9a-f]{64}", cid)

    ps = berth("ps").stdout.splitlines()
    assert ps[0].split() == ["CONTAINER", "ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"]
    row = next(line for line in ps if line.endswith(name))
    assert row.startswith(cid[:12] + "   ")
    assert re.search(r'"sh -c \'echo hello; …"\s+.+ ago\s+Up ', row)
    assert cid[:12] in berth("ps", "-q").stdout.split()
    assert cid in berth("ps", "-q", "--no-trunc").stdout.split()

    for _ in range(600):  # until the container has printed both lines (it then sleeps)
        logs = berth("logs", name)
        if "hello" in logs.stdout and "oops" in logs.stderr:
            break
    assert (logs.stdout, logs.stderr) == ("hello\n", "oops\n")
    stamped = berth("logs", "-t", name).stdout
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z hello\n", stamped)
    assert berth("logs", "--tail", "0", name).stdout == ""

    stopped = berth("stop", "-t", "1", name)
    assert (stopped.returncode, stopped.stdout) == (0, f"{name}\n")
    assert name not in berth("ps").stdout
    exited = next(line for line in berth("ps", "-a").stdout.splitlines() if line.endswith(name))
    assert re.search(r"Exited \(137\) .+ ago", exited)
    assert berth("wait", name).stdout == "137\n"

    inspected = json.loads(berth("inspect", name).stdout)
    assert inspected[0]["Id"] == cid and inspected[0]["State"]["Status"] == "exited"

    removed = berth("rm", name)
    assert (removed.returncode, removed.stdout) == (0, f"{name}\n")
    assert name not in berth("ps", "-a").stdout


def test_logs_follow_ends_when_the_container_does(berth, image, name):
    assert berth("run", "-d", *NET, "--name", name, image, "sh", "-c", "echo one; sleep 1; echo two").returncode == 0
    followed = berth("logs", "-f", name)
    assert (followed.returncode, followed.stdout) == (0, "one\ntwo\n")
    berth("rm", "-f", name)


def test_create_then_start_and_wait(berth, image, name):
    created = berth("create", *NET, "--name", name, image, "sh", "-c", "exit 7")
    assert created.returncode == 0, created.stderr
    assert "Created" in next(line for line in berth("ps", "-a").stdout.splitlines() if line.endswith(name))
    assert berth("start", name).stdout == f"{name}\n"
    assert berth("wait", name).stdout == "7\n"
    assert berth("container", "rm", name).returncode == 0


def test_start_attach_prints_the_output(berth, image, name):
    assert berth("container", "create", *NET, "--name", name, image, "echo", "attached").returncode == 0
    result = berth("start", "-a", name)
    assert (result.returncode, result.stdout) == (0, "attached\n")
    berth("rm", name)


def test_kill_and_force_remove_a_running_container(berth, image, name):
    assert berth("run", "-d", *NET, "--name", name, image, "sleep", "600").returncode == 0
    assert berth("rm", name).returncode == 1  # docker refuses to remove a running container
    killed = berth("kill", "-s", "KILL", name)
    assert (killed.returncode, killed.stdout) == (0, f"{name}\n")
    assert berth("wait", name).stdout == "137\n"
    assert berth("run", "-d", *NET, "--name", name + "-2", image, "sleep", "600").returncode == 0
    assert berth("rm", "-f", name, name + "-2").stdout == f"{name}\n{name}-2\n"


def test_a_command_that_does_not_exist_exits_127(berth, image, name):
    result = berth("run", *NET, "--name", name, image, "no-such-command")
    assert result.returncode == 127
    assert result.stderr.startswith("berth: Error response from daemon: ")
    assert "no-such-command" in result.stderr
    assert result.stderr.endswith("\n\nRun 'berth run --help' for more information\n")
    assert name not in berth("ps").stdout  # nothing left running
    berth("rm", "-f", name)


def test_a_command_that_cannot_be_invoked_exits_126(berth, image):
    result = berth("run", "--rm", *NET, image, "/etc/passwd")
    assert result.returncode == 126
    assert "permission denied" in result.stderr


def test_an_unknown_image_is_looked_for_then_reported(berth):
    result = berth("run", *NET, "no-such-image-anywhere")
    assert result.returncode == 125
    assert result.stderr.startswith("Unable to find image 'no-such-image-anywhere:latest' locally\n"
                                    "berth: Error response from daemon: ")


def test_a_name_in_use_is_refused(berth, image, name):
    assert berth("create", *NET, "--name", name, image).returncode == 0
    result = berth("run", *NET, "--name", name, image, "true")
    assert result.returncode == 125
    assert f'The container name "/{name}" is already in use' in result.stderr
    berth("rm", name)


@pytest.mark.parametrize("command", ["stop", "rm", "logs", "wait", "start"])
def test_unknown_containers_get_dockers_message(berth, command):
    result = berth(command, "no-such-container")
    assert result.returncode == 1
    assert result.stderr.startswith("Error response from daemon: No such container: no-such-container\n")


def test_inspect_of_nothing_prints_an_empty_list(berth):
    result = berth("inspect", "no-such-thing")
    assert (result.returncode, result.stdout, result.stderr) == (1, "[]\n", "Error: No such object: no-such-thing\n")


def test_import_from_stdin(berth, busybox_tar):
    with open(busybox_tar, "rb") as tar:
        imported = berth("import", "-", "cli-stdin:v1", stdin=tar)
    assert imported.returncode == 0, imported.stderr
    assert re.fullmatch(r"sha256:[0-9a-f]{64}\n", imported.stdout)
    assert re.search(r"^cli-stdin\s+v1\s", berth("images").stdout, re.M)


def test_runtime_picks_debians_runc_for_one_container(berth, image, name):
    result = berth("run", "--runtime", "runc", "--name", name, *NET, image, "sh", "-c", "echo via runc")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "via runc\n"
    assert json.loads(berth("inspect", name).stdout)[0]["HostConfig"]["Runtime"] == "runc"
    assert berth("rm", name).returncode == 0

    result = berth("run", "--rm", "--runtime", "nosuch", *NET, image, "true")
    assert result.returncode == 125
    assert result.stderr == "berth: Error response from daemon: unknown or invalid runtime name: nosuch\n" \
        "\nRun 'berth run --help' for more information\n"


def test_inspect_format_prints_one_line_per_object(berth, image, name):
    assert berth("run", "-d", "--name", name, *NET, image, "sleep", "60").returncode == 0
    result = berth("inspect", "-f", "{{.Name}} {{.State.Running}} {{json .Config.Cmd}}", name)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f'/{name} true ["sleep","60"]\n'
    pid = berth("container", "inspect", "--format", "{{.State.Pid}}", name).stdout.strip()
    assert pid.isdigit() and os.path.exists(f"/proc/{pid}")
    assert berth("image", "inspect", "-f", "{{.Id}}", image).stdout.startswith("sha256:")

    bad = berth("inspect", "-f", "{{foo}}", name)
    assert (bad.returncode, bad.stderr) == (64, 'template parsing error: template: :1: function "foo" not defined\n')
    missing = berth("inspect", "-f", "{{.Nope}}", name)
    assert missing.returncode == 1 and 'map has no entry for key "Nope"' in missing.stderr
    assert berth("rm", "-f", name).returncode == 0
