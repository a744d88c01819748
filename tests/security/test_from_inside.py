"""From inside busybox containers, as an attacker would try: every escape attempt of
probe.c, under Docker's defaults and with the knobs that lift them, on berth and on
Debian's dockerd in the same run (same image, same program, same answers).

Where this kernel lacks a feature (no kexec, no modules, no /proc/kcore, no sysrq), the
allowed answer is ENOSYS/ENOENT rather than ok: the refusals (EPERM, EROFS) are what
the tests are about, and they come before the kernel looks at the feature."""

from __future__ import annotations

import pytest

from berth.daemon.security.caps import engine_caps
from tests.security.conftest import Dockerd, probe

REFUSED_BY_DEFAULT = {
    "mount": "EPERM", "umount": "EPERM", "unshare-mnt": "EPERM", "keyctl": "EPERM", "add_key": "EPERM",
    "reboot": "EPERM", "kexec_load": "EPERM", "init_module": "EPERM", "finit_module": "EPERM",
    "bpf": "EPERM", "perf_event_open": "EPERM", "clock_settime": "EPERM", "swapon": "EPERM",
    "ptrace-outside": "ESRCH",  # the host's processes are not even there to be named
    "open-block": "EPERM",  # mknod is allowed (cgroup "m"), opening the node is not
    "proc-sys-kernel": "EROFS", "sethostname": "EPERM", "setns-host": "EPERM",  # its own pid 1's namespace: setns needs CAP_SYS_ADMIN
}

_NO_CAP = ("kexec_load", "init_module", "finit_module")

# dockerd 20.10 knows no CAP_BPF/PERFMON/CHECKPOINT_RESTORE, and its --privileged fails on a host
# whose bounding set lacks CAP_SYS_MODULE ("unable to apply caps"): the closest docker can do here
_DOCKER_OLD = ("CAP_BPF", "CAP_PERFMON", "CAP_CHECKPOINT_RESTORE")
NEAR_PRIVILEGED = [x for c in engine_caps() if c not in _DOCKER_OLD for x in ("--cap-add", c)] + [
    "--security-opt", "seccomp=unconfined", "--security-opt", "systempaths=unconfined"]


def test_the_default_confinement_refuses_every_escape_as_docker_does(berthd, dockerd: Dockerd, outside: int) -> None:
    ours = probe(berthd.env, [], outside)
    theirs = probe(dockerd.env, [], outside)
    assert {k: ours[k] for k in REFUSED_BY_DEFAULT} == REFUSED_BY_DEFAULT
    assert ours == theirs


def test_privileged_lifts_it_all_with_the_engines_own_capabilities(berthd, dockerd: Dockerd, outside: int) -> None:
    ours = probe(berthd.env, ["--privileged"], outside)
    for name in ("mount", "unshare-mnt", "add_key", "perf_event_open", "proc-sys-kernel", "sethostname",
                 "mknod-block", "setns-host"):
        assert ours[name] == "ok", name
    for name in ("umount", "reboot", "bpf", "clock_settime"):  # allowed, then refused for its harmless argument
        assert ours[name] == "EINVAL", name
    assert ours["swapon"] == "ENOENT"
    assert ours["open-block"] not in ("EPERM", "EACCES")  # every device: the cgroup lets it open (ENXIO: no disk)
    assert ours["ptrace-outside"] == "ESRCH"  # still its own pid namespace
    theirs = probe(dockerd.env, NEAR_PRIVILEGED, outside)
    theirs.pop("open-block")  # docker's near-privileged keeps the device cgroup
    assert {k: v for k, v in ours.items() if k != "open-block"} == theirs


@pytest.mark.parametrize("flags, allowed", [
    (["--cap-add", "SYS_ADMIN"], {"mount": "ok", "unshare-mnt": "ok", "umount": "EINVAL", "sethostname": "ok", "setns-host": "ok",
                                  "bpf": "EINVAL", "perf_event_open": "ok"}),
    (["--cap-add", "sys_time", "--cap-add", "CAP_SYS_BOOT"], {"clock_settime": "EINVAL", "reboot": "EINVAL"}),
    # no filter: the kernel itself answers (kexec and modules: ENOSYS where it has none, else EPERM: no caps)
    (["--security-opt", "seccomp=unconfined"], {"add_key": "ok", "keyctl": "ENOKEY", "perf_event_open": "ok",
                                                "bpf": "EINVAL", "clock_settime": "EINVAL",
                                                **{k: "ENOSYS or EPERM" for k in _NO_CAP}}),
])
def test_each_knob_lifts_what_it_names_and_nothing_else(berthd, dockerd: Dockerd, outside: int,
                                                        flags: list[str], allowed: dict[str, str]) -> None:
    ours = probe(berthd.env, flags, outside)
    for name, refused in REFUSED_BY_DEFAULT.items():
        assert ours[name] in allowed.get(name, refused).split(" or "), name
    assert ours == probe(dockerd.env, flags, outside)


def test_cap_drop_all_leaves_no_capability(berthd, dockerd: Dockerd, outside: int) -> None:
    ours = probe(berthd.env, ["--cap-drop", "ALL"], outside, "chroot")
    assert ours == {"chroot": "EPERM"} == probe(dockerd.env, ["--cap-drop", "ALL"], outside, "chroot")
