"""Seccomp profiles under Debian's runc and under berth-runc: same output, same exit status."""

from __future__ import annotations

import errno
from typing import Any

import pytest

ARCHES = ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]


def _profile(*rules: dict[str, Any], default: str = "SCMP_ACT_ALLOW") -> dict[str, Any]:
    return {"defaultAction": default, "architectures": ARCHES, "syscalls": list(rules)}


CASES = {
    "mkdir-eperm": (
        _profile({"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": errno.EPERM}),
        "mkdir /dev/shm/x; echo status=$?; ls /dev/shm",
    ),
    "errno-ret": (
        _profile({"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": errno.ENOSPC},
                 {"names": ["no_such_syscall_at_all"], "action": "SCMP_ACT_ERRNO"}),
        "mkdir /dev/shm/x; echo status=$?",
    ),
    "arg-filter": (
        _profile({"names": ["chmod"], "action": "SCMP_ACT_ERRNO",
                  "args": [{"index": 1, "value": 0o777, "op": "SCMP_CMP_EQ"}]},
                 {"names": ["fchmodat"], "action": "SCMP_ACT_ERRNO",
                  "args": [{"index": 2, "value": 0o777, "op": "SCMP_CMP_EQ"}]}),
        "touch /dev/shm/f; chmod 777 /dev/shm/f; echo a=$?; chmod 640 /dev/shm/f; echo b=$?; stat -c %a /dev/shm/f",
    ),
    "kill": (
        _profile({"names": ["uname"], "action": "SCMP_ACT_KILL"}),
        "uname",  # busybox runs uname inside the shell itself (a NOFORK applet): the shell dies
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_seccomp_profile_gives_the_same_results_as_runc(case, run_both, bundle):
    profile, script = CASES[case]

    def edit(spec: dict[str, Any]) -> None:
        spec["linux"]["seccomp"] = profile

    results = run_both(bundle(["sh", "-c", script], edit=edit))
    seen = {name: (p.returncode, p.stdout, p.stderr) for name, p in results.items()}
    assert seen["berth-runc"] == seen["runc"]
    # The container's own status: 0, or 128+SIGSYS (31) for the killed shell.
    assert seen["runc"][0] == (159 if case == "kill" else 0), seen["runc"]
