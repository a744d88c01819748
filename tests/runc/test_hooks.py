"""All six OCI hooks run, in runc's order and places, with the state on stdin."""

from __future__ import annotations

import json
import os
import uuid

HOOKS = ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"]


def _hooked_bundle(bundle, log_dir: str, failing: str = "") -> str:
    def edit(spec: dict) -> None:
        hooks = {}
        for name in HOOKS:
            # startContainer runs inside the container, after pivot_root: it sees the bind mount
            where = "/hooklog" if name == "startContainer" else log_dir
            script = 'cat > "$0/$1.json"; echo "$1" >> "$0/order"' + ("; exit 3" if name == failing else "")
            hooks[name] = [{"path": "/bin/sh", "args": ["sh", "-c", script, where, name]}]
        spec["hooks"] = hooks
        spec["mounts"].append({"destination": "/hooklog", "type": "bind", "source": log_dir, "options": ["rbind"]})
    return bundle(["true"], edit=edit)


def test_every_hook_sees_the_state(runtime, bundle, tmp_path):
    log = tmp_path / f"hooks-{runtime.name}"
    log.mkdir()
    b = _hooked_bundle(bundle, str(log))
    cid = f"h-{uuid.uuid4().hex[:8]}"
    runtime("create", "--bundle", b, cid, check=True)
    # runc 1.1 runs poststart at the end of create, not at start
    assert (log / "order").read_text().split() == ["prestart", "createRuntime", "createContainer", "poststart"]
    runtime("start", cid, check=True)
    for _ in range(3000):
        if runtime.state(cid)["status"] == "stopped":
            break
        os.sched_yield()
    runtime("delete", cid, check=True)
    assert (log / "order").read_text().split() == [
        "prestart", "createRuntime", "createContainer", "poststart", "startContainer", "poststop"]
    for name in HOOKS:
        state = json.loads((log / f"{name}.json").read_text())
        assert state["id"] == cid and state["bundle"] == b, name
        if name != "poststop":
            assert state["pid"] > 0, name


def test_hook_states_match_runc(runtimes, bundle, tmp_path):
    seen = {}
    for name, rt in runtimes.items():
        log = tmp_path / name
        log.mkdir()
        rt("run", "--bundle", _hooked_bundle(bundle, str(log)), f"h-{uuid.uuid4().hex[:8]}", check=True)
        seen[name] = {h: json.loads((log / f"{h}.json").read_text())["status"] for h in HOOKS}
    assert seen["berth-runc"] == seen["runc"]


def test_failing_prestart_hook_fails_create(runtime, bundle, tmp_path):
    log = tmp_path / "log"
    log.mkdir()
    cid = f"h-{uuid.uuid4().hex[:8]}"
    out = runtime("create", "--bundle", _hooked_bundle(bundle, str(log), failing="prestart"), cid)
    assert out.returncode == 1
    assert "error running hook #0: error running hook: exit status 3, stdout: , stderr: " in out.stderr
    assert cid not in runtime.ids()
