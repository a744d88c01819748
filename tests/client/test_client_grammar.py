"""Bad command lines get docker's words and exit codes, without any daemon."""

import os
import subprocess
import sys

import pytest

from berth.client import flags
from berth.client.commands import lookup


def berth(*args: str, host: str = "unix:///nonexistent/berth.sock") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "berth.client.main", "-H", host, *args],
                          capture_output=True, text=True)


def parse(*words: str) -> flags.Parsed:
    spec, _, used = lookup(list(words))
    assert spec is not None
    return flags.parse(spec, list(words[used:]))


def test_run_flags_stop_at_the_image_so_the_command_keeps_its_own():
    parsed = parse("run", "--rm", "-e", "A=1", "-eB=2", "busybox", "sh", "-c", "echo -e hi")
    assert parsed.opts["rm"] is True
    assert parsed.opts["env"] == ["A=1", "B=2"]
    assert parsed.args == ["busybox", "sh", "-c", "echo -e hi"]


def test_other_commands_take_flags_anywhere():
    parsed = parse("rm", "a", "-f", "b")
    assert parsed.opts["force"] is True and parsed.args == ["a", "b"]


def test_long_and_short_forms_name_the_same_command():
    assert lookup(["container", "ls"])[1] == lookup(["ps"])[1]
    assert lookup(["image", "ls"])[1] == lookup(["images"])[1]
    assert lookup(["image", "import"])[1] == lookup(["import"])[1]


def test_combined_short_flags_and_values():
    parsed = parse("ps", "-aq")
    assert parsed.opts["all"] and parsed.opts["quiet"]
    assert parse("logs", "-n", "5", "c").opts["tail"] == "5"
    assert parse("stop", "--timeout=3", "c").opts["timeout"] == 3


@pytest.mark.parametrize("argv, message", [
    (["ps", "--bogus"], "unknown flag: --bogus"),
    (["ps", "-z"], "unknown shorthand flag: 'z' in -z"),
    (["run", "-e"], "flag needs an argument: 'e' in -e"),
    (["run", "--name"], "flag needs an argument: --name"),
    (["stop", "-t", "x", "a"], 'invalid argument "x" for "-t, --timeout" flag: strconv.ParseInt: '
                               'parsing "x": invalid syntax'),
    (["run", "--rm=foo", "busybox"], 'invalid argument "foo" for "--rm" flag: strconv.ParseBool: '
                                     'parsing "foo": invalid syntax'),
])
def test_bad_flags_exit_125_with_usage(argv, message):
    result = berth(*argv)
    assert result.returncode == 125
    assert result.stderr.startswith(message + "\n\nUsage:  berth " + argv[0])
    assert f"Run 'berth {argv[0]} --help' for more information" in result.stderr


@pytest.mark.parametrize("argv, message", [
    (["rm"], "berth: 'berth rm' requires at least 1 argument"),
    (["logs"], "berth: 'berth logs' requires 1 argument"),
    (["ps", "x"], "berth: 'berth ps' accepts no arguments"),
    (["images", "a", "b"], "berth: 'berth images' requires at most 1 argument"),
    (["container", "run"], "berth: 'berth container run' requires at least 1 argument"),
])
def test_wrong_argument_counts_exit_1(argv, message):
    result = berth(*argv)
    assert result.returncode == 1
    assert result.stderr.startswith(message + "\n\nUsage:  berth ")


def test_unknown_commands_exit_1():
    result = berth("bogus")
    assert result.returncode == 1
    assert result.stderr == "berth: unknown command: berth bogus\n\nRun 'berth --help' for more information\n"
    result = berth("container", "bogus")
    assert result.returncode == 1
    assert result.stderr.startswith("berth: unknown command: berth container bogus\n")


def test_help_describes_the_command_without_a_daemon():
    result = berth("stop", "--help")
    assert result.returncode == 0
    assert result.stdout.startswith("Usage:  berth stop [OPTIONS] CONTAINER [CONTAINER...]\n\n"
                                    "Stop one or more running containers\n")
    assert "  -t, --timeout int" in result.stdout
    assert "Aliases:\n  berth container stop, berth stop" in result.stdout
    assert "Manage images" in berth("image").stdout
    assert "Common Commands:" in berth("--help").stdout


def test_version_prints_the_client_even_when_the_daemon_is_down(tmp_path):
    host = f"unix://{tmp_path}/berth.sock"
    result = berth("version", host=host)
    assert result.returncode == 1
    assert result.stdout.startswith("Client:\n Version:           0.1.0\n")
    assert result.stderr == f"Cannot connect to the berth daemon at {host}. Is the berth daemon running?\n"


def test_berth_host_picks_the_socket(tmp_path):
    host = f"unix://{tmp_path}/elsewhere.sock"
    result = subprocess.run([sys.executable, "-m", "berth.client.main", "ps"], capture_output=True, text=True,
                            env={"BERTH_HOST": host, "PATH": "/usr/bin:/bin"})
    assert result.returncode == 1
    assert host in result.stderr


# What the client must not import on its everyday commands: the daemon's libraries, and the
# standard-library modules whose import costs more than the request itself (bench/cli.py).
HEAVY = ("fastapi", "grpc", "httpx", "pydantic", "http", "asyncio", "ssl", "dataclasses", "typing", "re",
         "enum", "json", "socket", "selectors", "urllib", "contextlib", "functools", "collections",
         "threading", "signal", "inspect", "pathlib", "ipaddress", "argparse")


def _client_only(tmp_path) -> str:
    """A PYTHONPATH with berth's client and common packages and nothing else of berth."""
    import berth.client
    import berth.common

    top = tmp_path / "path" / "berth"
    top.mkdir(parents=True)
    (top / "client").symlink_to(os.path.dirname(berth.client.__file__))
    (top / "common").symlink_to(os.path.dirname(berth.common.__file__))
    return str(tmp_path / "path")


@pytest.mark.parametrize("command", [["--version"], ["ps"], ["ps", "-q"], ["version"],
                                     ["run", "--rm", "busybox", "true"], ["images"], ["rm", "x"]])
def test_the_cli_stays_light(tmp_path, command):
    """The CLI's own import graph, seen without `site`: the editable install's finder
    imports re and pathlib by itself, and a regular install has no such finder."""
    path = _client_only(tmp_path)
    code = ("import sys; from berth.client.main import run; run(sys.argv[1:]);"
            "print(); print(' '.join(sys.modules))")
    result = subprocess.run([sys.executable, "-S", "-c", code, "-H", f"unix://{tmp_path}/x.sock", *command],
                            capture_output=True, text=True, env={"PYTHONPATH": path})
    assert "Cannot connect to the berth daemon" in result.stderr or command == ["--version"], result.stderr
    modules = result.stdout.splitlines()[-1].split()
    assert "berth.client.main" in modules
    assert [m for m in modules if m.split(".")[0] in HEAVY] == []


@pytest.mark.parametrize("command", [["--version"], ["exec", "c", "true"]])
def test_the_installed_launcher_stays_light(tmp_path, command):
    """The `berth` script an install puts on PATH (client/berth) adds nothing heavy:
    pip's console-script launcher would import re (and enum, functools...) at every start.
    The script this venv's install put next to its python, so that a packaging change
    back to a console script fails here."""
    path = _client_only(tmp_path)
    launcher = os.path.join(os.path.dirname(sys.executable), "berth")
    result = subprocess.run([sys.executable, "-S", "-X", "importtime", launcher, "-H", f"unix://{tmp_path}/x.sock",
                             *command], capture_output=True, text=True, env={"PYTHONPATH": path})
    assert result.returncode == (0 if command == ["--version"] else 1), result.stderr
    modules = [line.rsplit("|", 1)[1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")]
    assert "berth.client.main" in modules
    assert [m for m in modules if m.split(".")[0] in HEAVY] == []
