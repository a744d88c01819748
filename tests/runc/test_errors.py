"""Bad input fails cleanly: non-zero exit, one error line, and nothing left behind."""

from __future__ import annotations

import json
import os

import pytest

from tests.host import cgroup_dirs


def _assert_failed_cleanly(runtime, out, bundle_dir: str | None, cid: str, wording: str) -> None:
    assert out.returncode != 0
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and wording in lines[0], out.stderr
    assert cid not in runtime.ids()
    assert not os.path.exists(os.path.join(runtime.root, cid))
    if bundle_dir and os.path.exists(os.path.join(bundle_dir, "config.json")):
        try:
            with open(os.path.join(bundle_dir, "config.json")) as f:
                cg = json.load(f)["linux"]["cgroupsPath"]
        except (ValueError, KeyError):
            return
        assert cgroup_dirs(cg) == []
        with open("/proc/mounts") as f:
            assert bundle_dir not in f.read()


def test_missing_rootfs(runtime, bundle, cid):
    b = bundle(["true"], edit=lambda s: s["root"].update(path="/nonexistent-rootfs"))
    out = runtime("create", "--bundle", b, cid)
    _assert_failed_cleanly(runtime, out, b, cid, "invalid rootfs: stat /nonexistent-rootfs: no such file or directory")


def test_invalid_json(runtime, bundle, cid):
    b = bundle(["true"])
    with open(os.path.join(b, "config.json"), "w") as f:
        f.write("{bad")
    out = runtime("create", "--bundle", b, cid)
    _assert_failed_cleanly(runtime, out, b, cid, "runc create failed:")


def test_unknown_namespace_type(runtime, bundle, cid):
    b = bundle(["true"], edit=lambda s: s["linux"]["namespaces"].append({"type": "foo"}))
    out = runtime("create", "--bundle", b, cid)
    _assert_failed_cleanly(runtime, out, b, cid, 'namespace {\\"foo\\" \\"\\"} does not exist')


def test_missing_bundle(runtime, cid, tmp_path):
    out = runtime("run", "--bundle", str(tmp_path / "nope"), cid)
    _assert_failed_cleanly(runtime, out, None, cid, "no such file or directory")


def test_command_not_found_fails_create(runtime, bundle, cid):
    b = bundle(["nosuch"])
    out = runtime("create", "--bundle", b, cid)
    _assert_failed_cleanly(runtime, out, b, cid, 'exec: \\"nosuch\\": executable file not found in $PATH')


def test_bad_cwd_fails_create(runtime, bundle, cid):
    b = bundle(["true"], edit=lambda s: s["process"].update(cwd="/etc/passwd"))
    out = runtime("create", "--bundle", b, cid)
    _assert_failed_cleanly(runtime, out, b, cid, "runc create failed:")


def test_failing_mount_fails_create(runtime, bundle, cid):
    b = bundle(["true"], edit=lambda s: s["mounts"].append(
        {"destination": "/x", "type": "bind", "source": "/no/such/source", "options": ["bind"]}))
    out = runtime("create", "--bundle", b, cid)
    _assert_failed_cleanly(runtime, out, b, cid, "runc create failed:")


def test_failing_mount_says_it_failed_during_container_init(runtime, bundle, cid):
    b = bundle(["true"], edit=lambda s: s["mounts"].append(
        {"destination": "/x", "type": "bind", "source": "/no/such/source", "options": ["bind"]}))
    out = runtime("create", "--bundle", b, cid)
    _assert_failed_cleanly(runtime, out, b, cid, "runc create failed: unable to start container process: "
                           'error during container init: error mounting \\"/no/such/source\\" to rootfs at \\"/x\\"')


def test_failing_mknod_names_the_step_and_the_node(runtime, bundle, cid):
    # procfs takes no device node: the mknod of this linux.devices entry fails, with its path.
    b = bundle(["true"], edit=lambda s: s["linux"].update(
        devices=[{"path": "/proc/berth-node", "type": "c", "major": 1, "minor": 3}]))
    with open(os.path.join(b, "config.json")) as f:
        rootfs = json.load(f)["root"]["path"]
    out = runtime("create", "--bundle", b, cid)
    _assert_failed_cleanly(runtime, out, b, cid, "runc create failed: unable to start container process: "
                           "error during container init: error creating device nodes: "
                           f"mknod {rootfs}/proc/berth-node: no such file or directory")


def test_a_limit_the_kernel_refuses_names_the_cgroup_step(runtime, bundle, cid):
    b = bundle(["true"], edit=lambda s: s["linux"].setdefault("resources", {}).update(cpu={"shares": 1}))
    out = runtime("create", "--bundle", b, cid)
    _assert_failed_cleanly(runtime, out, b, cid, "runc create failed: unable to start container process: "
                           "error during container init: error setting cgroup config for procHooks process: "
                           "the minimum allowed cpu-shares is 2")


def test_duplicate_id(runtime, bundle, cid):
    b = bundle(["sleep", "1000"])
    runtime("create", "--bundle", b, cid, check=True)
    pid = runtime.state(cid)["pid"]
    out = runtime("create", "--bundle", b, cid)
    assert out.returncode == 1
    assert out.stderr.strip().endswith('msg="runc create failed: container with given ID already exists"')
    assert runtime.state(cid)["pid"] == pid  # the first one is untouched


@pytest.mark.parametrize("verb", [["state"], ["start"], ["kill"], ["delete"], ["ps"], ["pause"], ["resume"],
                                  ["exec"]])
def test_nonexistent_id(runtime, verb):
    args = [*verb, "no-such-container"] + (["true"] if verb == ["exec"] else [])
    out = runtime(*args)
    assert out.returncode == (255 if verb == ["exec"] else 1)
    assert out.stderr.strip().endswith('container does not exist"'), out.stderr


def test_unknown_signal(runtime, bundle, cid):
    runtime("run", "-d", "--bundle", bundle(["sleep", "1000"]), cid, check=True)
    out = runtime("kill", cid, "FOO")
    assert out.returncode == 1 and 'unknown signal \\"FOO\\"' in out.stderr


def test_missing_argument_prints_usage(runtime):
    out = runtime("state")
    assert out.returncode == 1
    assert out.stdout.startswith("Incorrect Usage.")
    assert out.stderr.strip().endswith('\\"state\\" requires exactly 1 argument(s)"')


def test_json_log_format(runtime, cid):
    out = runtime("--log-format", "json", "state", cid)
    assert out.returncode == 1
    entry = json.loads(out.stderr.strip().splitlines()[-1])
    assert entry["level"] == "error" and entry["msg"] == "container does not exist"


def test_log_file_gets_the_error(runtime, cid, tmp_path):
    log = tmp_path / "runtime.log"
    out = runtime("--log", str(log), "state", cid)
    assert out.returncode == 1
    assert 'msg="container does not exist"' in log.read_text()


def test_unknown_rlimit_fails_create(runtime, bundle, cid):
    b = bundle(["true"], edit=lambda s: s["process"].update(rlimits=[{"type": "RLIMIT_FOO", "soft": 1, "hard": 1}]))
    out = runtime("create", "--bundle", b, cid)
    _assert_failed_cleanly(runtime, out, b, cid, "runc create failed: wrong rlimit value: RLIMIT_FOO")


def test_unknown_capability_is_a_warning(runtime, bundle, cid):
    b = bundle(["true"], edit=lambda s: s["process"]["capabilities"]["bounding"].append("CAP_FOO"))
    out = runtime("run", "--bundle", b, cid)
    assert out.returncode == 0
    assert 'level=warning msg="ignoring unknown or unavailable capabilities: [CAP_FOO]"' in out.stderr


def test_forced_delete_of_an_unknown_id_succeeds(runtime):
    out = runtime("delete", "--force", "no-such-container")
    assert (out.returncode, out.stderr) == (0, "")


def test_a_rootfs_whose_dev_links_out_cannot_write_to_the_host(berth_runc, bundle, tmp_path):
    # Debian's runc 1.1.5 follows such a link (newer runc refuses it): no oracle here.
    outside = tmp_path / "host-dir"
    outside.mkdir()
    (outside / "ptmx").write_text("host file")
    b = bundle(["true"], private_rootfs=True)
    rootfs = os.path.join(b, "rootfs")
    os.rmdir(os.path.join(rootfs, "dev"))
    os.makedirs(os.path.join(rootfs, str(outside).lstrip("/")))
    os.symlink(str(outside), os.path.join(rootfs, "dev"))

    berth_runc("run", "--bundle", b, "devlink")
    berth_runc("delete", "--force", "devlink")

    assert sorted(os.listdir(outside)) == ["ptmx"] and (outside / "ptmx").read_text() == "host file"
