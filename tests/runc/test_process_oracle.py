"""The process's environment, the hooks' environment, exec --cap and the errors a user
reads: the same bundle under runc and berth-runc shows the same.

Where a test states the expected output, runc (the `runtime` fixture runs it first)
proves it; where runc's output depends on the machine, both are compared directly.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from typing import Any, Callable

import pytest


def _error_line(stderr: str) -> str:
    return re.sub(r'time="[^"]*" ', "", stderr.strip())


def _env(*items: str, user: dict[str, int] | None = None) -> Callable[[dict[str, Any]], None]:
    def edit(spec: dict[str, Any]) -> None:
        spec["process"]["env"] = [e for e in spec["process"]["env"] if not e.startswith("HOME=")] + list(items)
        if user:
            spec["process"]["user"] = user
    return edit


HOME_CASES: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "none": (_env(), "/root"),
    "empty": (_env("HOME="), "/root"),
    "set-then-emptied": (_env("HOME=/a", "HOME="), "/root"),  # the last one wins, and it is empty
    "emptied-then-set": (_env("HOME=", "HOME=/b"), "/b"),
    "empty-for-nobody": (_env("HOME=", user={"uid": 65534, "gid": 65534}), "/"),
}


@pytest.mark.parametrize("case", list(HOME_CASES))
def test_home_comes_from_passwd_when_none_or_empty(case, runtime, bundle, cid):
    edit, home = HOME_CASES[case]
    out = runtime("run", "--bundle", bundle(["sh", "-c", 'echo "$HOME"; env | grep -c ^HOME='], edit=edit), cid)
    assert (out.returncode, out.stdout, out.stderr) == (0, f"{home}\n1\n", "")


def test_exec_with_an_empty_home_gets_the_users(runtime, bundle, cid):
    runtime("run", "-d", "--bundle", bundle(["sleep", "1000"]), cid, check=True)
    out = runtime("exec", "-e", "HOME=/a", "-e", "HOME=", cid, "sh", "-c", 'echo "$HOME"')
    assert (out.returncode, out.stdout) == (0, "/root\n")


# --- hooks: whose environment, where --------------------------------------------------

_DUMP = 'env | sort > "$0/$1.env"; pwd > "$0/$1.pwd"'


def _hooks_dumping(log_dir: str, spec: dict[str, Any]) -> None:
    """Every hook without an env of its own dumps its environment and directory."""
    spec["process"]["env"] += ["ONE=one", "HOME=", "ONE=two"]
    spec["mounts"].append({"destination": "/hooklog", "type": "bind", "source": log_dir, "options": ["rbind"]})
    spec["hooks"] = {name: [{"path": "/bin/sh", "args": ["sh", "-c", _DUMP, where, name]}]
                     for name, where in (("prestart", log_dir), ("createRuntime", log_dir),
                                         ("createContainer", log_dir), ("startContainer", "/hooklog"),
                                         ("poststart", log_dir))}
    # runc's case from the issue: the process's own variables reach startContainer
    spec["hooks"]["startContainer"].append({"path": "/bin/sh", "args": ["sh", "-c", 'test "$ONE" = two']})


def test_hooks_run_with_runcs_environment_and_directory(runtimes, bundle, tmp_path):
    seen = {}
    logs = {}
    for name in runtimes:
        logs[name] = tmp_path / name
        logs[name].mkdir()
    # one bundle for both (the hooks' directory is the bundle); the log dir is a symlink
    # switched between the runs, so the spec stays byte for byte the same
    link = tmp_path / "log"
    b = bundle(["true"], edit=lambda s: _hooks_dumping(str(link), s))
    caller_env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "CALLER": "x"}
    for name, rt in runtimes.items():
        if link.is_symlink():
            link.unlink()
        link.symlink_to(logs[name])
        out = rt("run", "--bundle", b, f"h-{uuid.uuid4().hex[:8]}", env=caller_env)
        assert out.returncode == 0, out.stderr
        seen[name] = {f.name: f.read_text() for f in sorted(logs[name].iterdir())}
    assert seen["berth-runc"] == seen["runc"]
    runc_seen = seen["runc"]
    assert "CALLER=x" in runc_seen["prestart.env"]  # the runtime's own environment
    assert runc_seen["prestart.pwd"] == f"{b}\n"
    assert "ONE=two" in runc_seen["startContainer.env"] and "HOME=/root" in runc_seen["startContainer.env"]


# --- errors after start: the process's own stderr, runc's words ---------------------------

def _bad_interpreter(rootfs: str) -> None:
    with open(os.path.join(rootfs, "run.sh"), "w") as f:
        f.write("#!/nonexistent\n")
    os.chmod(os.path.join(rootfs, "run.sh"), 0o755)


def _rootfs(bundle_dir: str) -> str:
    with open(os.path.join(bundle_dir, "config.json")) as f:
        return os.path.join(bundle_dir, json.load(f)["root"]["path"])


def test_a_failing_execve_says_so_in_runcs_words(runtime, bundle, cid):
    b = bundle(["/run.sh"], private_rootfs=True)
    _bad_interpreter(_rootfs(b))
    out = runtime("run", "--bundle", b, cid)
    assert (out.returncode, out.stdout, out.stderr) == (1, "", "exec /run.sh: no such file or directory\n")


def test_a_failing_execve_of_exec_says_so_in_runcs_words(runtime, bundle, cid):
    b = bundle(["sleep", "1000"], private_rootfs=True)
    _bad_interpreter(_rootfs(b))
    runtime("run", "-d", "--bundle", b, cid, check=True)
    out = runtime("exec", cid, "/run.sh")
    assert (out.returncode, out.stdout, out.stderr) == (1, "", "exec /run.sh: no such file or directory\n")


def _failing_hook(kind: str) -> Callable[[dict[str, Any]], None]:
    def edit(spec: dict[str, Any]) -> None:
        spec["hooks"] = {kind: [{"path": "/bin/true"},
                                {"path": "/bin/sh", "args": ["sh", "-c", "echo out; echo err >&2; exit 3"]}]}
    return edit


def test_a_failing_start_container_hook_is_not_silent(runtime, bundle, cid):
    out = runtime("run", "--bundle", bundle(["true"], edit=_failing_hook("startContainer")), cid)
    assert (out.returncode, out.stdout) == (1, "")
    assert out.stderr == "error running hook #1: error running hook: exit status 3, stdout: out\n, stderr: err\n\n"


@pytest.mark.parametrize("kind", ["prestart", "createRuntime", "createContainer"])
def test_a_failing_create_hook_keeps_runcs_message(kind, runtime, bundle, cid):
    out = runtime("run", "--bundle", bundle(["true"], edit=_failing_hook(kind)), cid)
    assert (out.returncode, out.stdout, _error_line(out.stderr)) == (1, "", (
        'level=error msg="runc run failed: unable to start container process: error during container init: '
        'error running hook #1: error running hook: exit status 3, stdout: out\\n, stderr: err\\n"'))


# --- exec --cap ------------------------------------------------------------------------

@pytest.mark.parametrize("inheritable", [None, ["CAP_KILL"]], ids=["no-inheritable-set", "with-inheritable"])
def test_exec_cap_sets_what_runc_sets(inheritable, runtimes, bundle):
    def edit(spec: dict[str, Any]) -> None:
        caps = spec["process"]["capabilities"]
        if inheritable is not None:
            caps["inheritable"] = inheritable
            caps["ambient"] = inheritable

    b = bundle(["sleep", "1000"], edit=edit)
    seen = {}
    for name, rt in runtimes.items():
        rt("run", "-d", "--bundle", b, "x", check=True)
        out = rt("exec", "--cap", "CAP_NET_ADMIN", "--cap", "CAP_SYS_ADMIN", "x", "grep", "^Cap", "/proc/self/status")
        seen[name] = (out.returncode, out.stdout)
    assert seen["berth-runc"] == seen["runc"]
    lines = dict(line.split(":\t") for line in seen["runc"][1].splitlines())
    net_admin, sys_admin = 1 << 12, 1 << 21
    for key in ("CapEff", "CapPrm", "CapBnd"):
        assert int(lines[key], 16) & (net_admin | sys_admin) == net_admin | sys_admin, key
    assert int(lines["CapInh"], 16) & (net_admin | sys_admin) == 0
