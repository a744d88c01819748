"""Device rules take effect without a moment in which the container's own setup is denied.

The init builds /dev (mknod of the default nodes) while the runtime places it in its
cgroup. A runtime that programs the rules after the init joined, deny-all first and
then allow by allow, lets a mknod land between the two: the start fails with EPERM
now and then. And an update written the same way denies, for a moment, the devices
a running container uses. These tests start many containers at once with Docker's
rules, and change the rules of running processes while they keep using /dev/null.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import tempfile
import time
import uuid
from typing import Any, Iterator

import pytest

from berth.runc import cgroups
from berth.runc.cgroups import CgroupError
from berth.runc.cgroups.devices_v1 import DeviceState, from_list, from_rules, rule_text, transition
from host import cgroup_dirs, free_char_major

v1_only = pytest.mark.skipif(cgroups.is_unified(), reason="the v1 device controller is tested here")

PARALLEL = 20
ROUNDS = 8
EXTRA_NODES = 32  # linux.devices entries: more mknods at the moment the init joins its cgroup
UPDATES = 10


def _allow(kind: str, major: int | None = None, minor: int | None = None, access: str = "rwm") -> dict[str, Any]:
    rule: dict[str, Any] = {"allow": True, "type": kind, "access": access}
    if major is not None:
        rule["major"] = major
    if minor is not None:
        rule["minor"] = minor
    return rule


# Docker's default rules, as berthd sends them (daemon/spec.py): deny all, then the allow list.
DOCKER_RULES: list[dict[str, Any]] = [
    {"allow": False, "access": "rwm"},
    _allow("c", access="m"), _allow("b", access="m"),
    _allow("c", 1, 3), _allow("c", 1, 8), _allow("c", 1, 7), _allow("c", 5, 0),
    _allow("c", 1, 5), _allow("c", 1, 9), _allow("c", 136), _allow("c", 5, 2),
    _allow("c", 10, 200),
]
DOCKER_LIST = {"c *:* m", "b *:* m", "c 1:3 rwm", "c 1:8 rwm", "c 1:7 rwm", "c 5:0 rwm", "c 1:5 rwm", "c 1:9 rwm",
               "c 136:* rwm", "c 5:2 rwm", "c 10:200 rwm"}


def _docker_rules(extra: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    return json.loads(json.dumps(DOCKER_RULES + (extra or [])))


def _free_char_major() -> int:
    major = free_char_major()
    if major is None:
        pytest.skip("no free experimental char major on this host")
    return major


def _cgroups_path(bundle_dir: str) -> str:
    with open(os.path.join(bundle_dir, "config.json")) as f:
        return json.load(f)["linux"]["cgroupsPath"]


# --- the transition, as devices.list and the rules say ------------------------------

def test_a_fresh_cgroup_gets_deny_all_first_then_only_the_allows():
    writes = transition(from_list("a *:* rwm\n"), from_rules(DOCKER_RULES))
    assert (writes[0][0], rule_text(writes[0][1], writes[0][2])) == (False, "a *:* rwm")
    assert all(allow for allow, _, _ in writes[1:])
    assert {rule_text(key, access) for _, key, access in writes[1:]} == DOCKER_LIST


def test_the_same_rules_again_write_nothing():
    current = from_list("\n".join(sorted(DOCKER_LIST)) + "\n")
    assert current == from_rules(DOCKER_RULES)
    assert transition(current, from_rules(DOCKER_RULES)) == []


def test_a_change_within_deny_mode_writes_only_what_differs():
    current = from_list("\n".join(sorted(DOCKER_LIST | {"c 1:11 rw"})) + "\n")
    target = from_rules(DOCKER_RULES + [_allow("c", 10, 229), _allow("c", 1, 3, "r")])
    writes = [(allow, rule_text(key, access)) for allow, key, access in transition(current, target)]
    # c 1:11 goes (a deny removes it), c 10:229 comes; c 1:3 already had r: untouched.
    assert writes == [(False, "c 1:11 rw"), (True, "c 10:229 rwm")]


def test_rules_merge_and_cancel_as_the_kernel_does():
    state = from_rules([{"allow": False, "access": "rwm"}, _allow("c", 1, 3, "r"), _allow("c", 1, 3, "w"),
                        _allow("c", 1, 5), {"allow": False, "type": "c", "major": 1, "minor": 5, "access": "m"}])
    assert state == DeviceState(False, {(1, 3, "c"): "rw", (1, 5, "c"): "rw"})


def test_allow_mode_is_reset_with_allow_all_then_denies():
    target = from_rules([{"allow": True, "access": "rwm"}, {"allow": False, "type": "c", "major": 1, "minor": 11}])
    writes = [(allow, rule_text(key, access)) for allow, key, access in transition(from_list("a *:* rwm"), target)]
    assert writes == [(True, "a *:* rwm"), (False, "c 1:11 rwm")]


def test_a_hole_in_a_wildcard_rule_is_refused():
    with pytest.raises(CgroupError, match="cannot punch hole in existing wildcard rule"):
        from_rules(DOCKER_RULES + [{"allow": False, "type": "c", "major": 1, "minor": 3, "access": "m"}])


# --- a populated v1 cgroup: rule changes never deny what stays allowed ---------------------

@pytest.fixture
def v1_cgroup() -> Iterator[Any]:
    m = cgroups.open_manager(f"/berth-test-dev-{uuid.uuid4().hex[:12]}", "c")
    m.create()
    yield m
    for pid in m.pids():
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    for _ in range(100):
        if not m.pids():
            break
        time.sleep(0.01)
    m.destroy()


def _null_writer(out: Any, into: Any) -> subprocess.Popen:
    """A shell writing /dev/null in a tight loop, placed in the cgroup before it starts."""
    script = "while :; do echo x > /dev/null || echo null-denied; done"
    return subprocess.Popen(["/bin/busybox", "sh", "-c", script], stdout=out, stderr=subprocess.STDOUT,
                            preexec_fn=lambda: into.apply(os.getpid()))


@v1_only
def test_changing_the_rules_of_a_busy_v1_cgroup_never_denies_dev_null(v1_cgroup, tmp_path):
    major = _free_char_major()
    v1_cgroup.set({"devices": _docker_rules()})
    with open(tmp_path / "out", "w+b") as out:
        proc = _null_writer(out, v1_cgroup)
        try:
            for i in range(200):
                extra = [_allow("c", major, i)] if i % 2 == 0 else []
                v1_cgroup.set({"devices": _docker_rules(extra)})
                listed = set(open(os.path.join(v1_cgroup.paths()["devices"], "devices.list")).read().splitlines())
                assert listed == DOCKER_LIST | ({f"c {major}:{i} rwm"} if extra else set())
            assert proc.poll() is None
        finally:
            proc.kill()
            proc.wait()
        out.seek(0)
        assert b"null-denied" not in out.read()


# --- containers -----------------------------------------------------------------------------

def _with_docker_rules(spec: dict[str, Any]) -> None:
    spec["linux"].setdefault("resources", {})["devices"] = _docker_rules()
    spec["linux"]["devices"] = [{"path": f"/dev/extra{i}", "type": "c", "major": 1, "minor": 3, "fileMode": 0o666}
                                for i in range(EXTRA_NODES)]


@v1_only
def test_parallel_starts_with_docker_device_rules_all_run(berth_runc, bundle):
    """20 containers at once, eight rounds: every one runs its command, none fails to start."""
    script = "test -c /dev/tty && echo x > /dev/null && echo x > /dev/extra31 && echo ran"
    bundles = [bundle(["sh", "-c", script], edit=_with_docker_rules) for _ in range(PARALLEL)]
    failures: list[str] = []
    for rnd in range(ROUNDS):
        started = []
        for i, b in enumerate(bundles):
            out = tempfile.TemporaryFile()
            proc = subprocess.Popen([berth_runc.binary, "--root", berth_runc.root, "run", "--bundle", b,
                                     f"par-{rnd}-{i}"], stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
            started.append((f"par-{rnd}-{i}", proc, out))
        for name, proc, out in started:
            try:
                rc = proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                proc.kill()
                rc = proc.wait()
            out.seek(0)
            text = out.read().decode(errors="replace")
            out.close()
            if rc != 0 or text != "ran\n":
                failures.append(f"{name}: exit {rc}: {text.strip()}")
    assert failures == [], f"{len(failures)} of {PARALLEL * ROUNDS} failed:\n" + "\n".join(failures)
    assert berth_runc.ids() == []
    assert [d for b in bundles for d in cgroup_dirs(_cgroups_path(b))] == []


def _probe(berth_runc: Any, cid: str) -> str:
    """Open /dev/probe from an exec in the container: "allowed" (ENXIO: no driver) or "denied"."""
    out = berth_runc("exec", cid, "sh", "-c", "exec 3</dev/probe", timeout=30)
    if "No such device or address" in out.stderr:
        return "allowed"
    if "Operation not permitted" in out.stderr:
        return "denied"
    raise AssertionError(f"probe: exit {out.returncode}: {out.stderr}")


@v1_only
def test_update_of_device_rules_takes_effect_and_dev_null_stays_usable(berth_runc, bundle, cid, tmp_path):
    major = _free_char_major()
    script = (f"mknod /dev/probe c {major} 0 || exit 1; "
              "while :; do echo x > /dev/null || echo null-denied; done")

    def edit(spec: dict[str, Any]) -> None:
        spec["linux"].setdefault("resources", {})["devices"] = _docker_rules()
        for caps in spec["process"]["capabilities"].values():
            caps.append("CAP_MKNOD")  # Docker's default set has it; runc's default spec does not

    b = bundle(["sh", "-c", script], edit=edit)
    with open(tmp_path / "out", "w+b") as out:
        run = subprocess.run([berth_runc.binary, "--root", berth_runc.root, "run", "-d", "--bundle", b, cid],
                             stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, timeout=60)
        assert run.returncode == 0
        for _ in range(200):  # the node is made by the container's first command
            if _probe_exists(berth_runc, cid):
                break
            time.sleep(0.05)
        assert _probe(berth_runc, cid) == "denied"
        rfile = tmp_path / "r.json"
        for i in range(UPDATES):
            allow = i % 2 == 0
            rfile.write_text(json.dumps({"devices": _docker_rules([_allow("c", major, 0)] if allow else [])}))
            berth_runc("update", "-r", str(rfile), cid, check=True)
            assert _probe(berth_runc, cid) == ("allowed" if allow else "denied"), f"after update {i}"
        assert berth_runc.state(cid)["status"] == "running"  # the loop ran through every update
        berth_runc("kill", cid, "KILL", check=True)
        out.seek(0)
        text = out.read().decode(errors="replace")
    assert "null-denied" not in text


def _probe_exists(berth_runc: Any, cid: str) -> bool:
    return berth_runc("exec", cid, "test", "-c", "/dev/probe", timeout=30).returncode == 0
