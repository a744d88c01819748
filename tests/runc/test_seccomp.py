"""berth.runc.seccomp: OCI profiles compiled through libseccomp, loaded in a forked child.

Each test forks; the child loads the filter (with no_new_privs, as an unprivileged
container would) and reports what its syscalls returned through its exit status or
a pipe, so the parent — the test — is never filtered.
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import signal
import socket
import tempfile
from typing import Any, Callable

import pytest

from berth.runc.seccomp import SeccompError, compile_filter

_PR_SET_NO_NEW_PRIVS = 38


def _in_filtered_child(profile: dict[str, Any], probe: Callable[[], Any]) -> Any:
    """Run probe() in a child under `profile`; return its JSON result, or ("signal", n) if killed."""
    filt = compile_filter(profile)
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
            filt.load()
            os.write(w, json.dumps(probe()).encode())
            os._exit(0)
        except BaseException as e:  # noqa: BLE001 - the child must never return into pytest
            os.write(w, json.dumps({"error": repr(e)}).encode())
            os._exit(1)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        out = f.read()
    _, status = os.waitpid(pid, 0)
    filt.release()
    if os.WIFSIGNALED(status):
        return ["signal", os.WTERMSIG(status)]
    return json.loads(out)


def _errno_of(call: Callable[[], Any]) -> int:
    try:
        call()
        return 0
    except OSError as e:
        return e.errno or -1


def _personality(persona: int) -> int:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.personality.argtypes = [ctypes.c_ulong]
    return 0 if libc.personality(persona) != -1 else ctypes.get_errno()


def _allow_all_but(*rules: dict[str, Any]) -> dict[str, Any]:
    return {"defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
            "syscalls": list(rules)}


@pytest.fixture
def scratch() -> Any:
    d = tempfile.mkdtemp(prefix="berth-test-seccomp-")
    yield d
    for name in os.listdir(d):
        os.rmdir(os.path.join(d, name))
    os.rmdir(d)


def test_a_blocked_mkdir_fails_with_eperm_and_nothing_is_created(scratch):
    profile = _allow_all_but({"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": errno.EPERM})
    target = os.path.join(scratch, "x")
    assert _in_filtered_child(profile, lambda: _errno_of(lambda: os.mkdir(target))) == errno.EPERM
    assert not os.path.exists(target)


def test_errno_ret_is_what_the_process_sees_and_eperm_is_the_default(scratch):
    custom = _allow_all_but({"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": errno.EROFS})
    plain = _allow_all_but({"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"})
    target = os.path.join(scratch, "x")
    assert _in_filtered_child(custom, lambda: _errno_of(lambda: os.mkdir(target))) == errno.EROFS
    assert _in_filtered_child(plain, lambda: _errno_of(lambda: os.mkdir(target))) == errno.EPERM


def test_an_errno_default_with_an_allow_list():
    # Deny by default with ENOSYS; allow only what the child needs to report and exit;
    # uname gets its own errno. mkdir, in no rule, gets the default.
    allowed = ["write", "exit_group", "exit", "close", "munmap", "rt_sigaction", "rt_sigprocmask",
               "sigaltstack", "madvise", "brk", "mmap", "getpid"]
    profile = {"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": errno.ENOSYS,
               "syscalls": [{"names": ["uname"], "action": "SCMP_ACT_ERRNO", "errnoRet": errno.EACCES},
                            {"names": allowed, "action": "SCMP_ACT_ALLOW"}]}
    result = _in_filtered_child(profile, lambda: [_errno_of(os.uname), _errno_of(lambda: os.mkdir("/nonexistent"))])
    assert result == [errno.EACCES, errno.ENOSYS]


def test_an_argument_filter_blocks_only_the_matching_call():
    profile = _allow_all_but({"names": ["personality"], "action": "SCMP_ACT_ERRNO", "errnoRet": errno.EINVAL,
                              "args": [{"index": 0, "value": 0x0008, "op": "SCMP_CMP_EQ"}]})
    # 0xffffffff only queries the persona; 0x0008 (ADDR_COMPAT_LAYOUT) would set it.
    assert _in_filtered_child(profile, lambda: [_personality(0xFFFFFFFF), _personality(0x0008)]) == \
        [0, errno.EINVAL]


def test_masked_eq_takes_the_mask_from_value_and_the_datum_from_value_two():
    profile = _allow_all_but({"names": ["socket"], "action": "SCMP_ACT_ERRNO", "errnoRet": errno.EAFNOSUPPORT,
                              "args": [{"index": 0, "value": 0xFF, "valueTwo": socket.AF_UNIX,
                                        "op": "SCMP_CMP_MASKED_EQ"}]})

    def probe() -> list[int]:
        def try_family(family: int) -> int:
            def make() -> None:
                socket.socket(family, socket.SOCK_DGRAM).close()
            return _errno_of(make)
        return [try_family(socket.AF_UNIX), try_family(socket.AF_INET)]

    assert _in_filtered_child(profile, probe) == [errno.EAFNOSUPPORT, 0]


def test_two_conditions_on_one_argument_block_either_value_as_runc_does():
    profile = _allow_all_but({"names": ["personality"], "action": "SCMP_ACT_ERRNO", "errnoRet": errno.EINVAL,
                              "args": [{"index": 0, "value": 0x0008, "op": "SCMP_CMP_EQ"},
                                       {"index": 0, "value": 0x0020, "op": "SCMP_CMP_EQ"}]})
    assert _in_filtered_child(profile, lambda: [_personality(0x0008), _personality(0x0020),
                                                _personality(0xFFFFFFFF)]) == [errno.EINVAL, errno.EINVAL, 0]


def test_kill_action_ends_the_process_with_sigsys():
    profile = _allow_all_but({"names": ["getppid"], "action": "SCMP_ACT_KILL"})
    assert _in_filtered_child(profile, lambda: os.getppid()) == ["signal", signal.SIGSYS]


def test_unknown_syscall_names_are_skipped_and_rules_equal_to_the_default_too():
    filt = compile_filter(_allow_all_but(
        {"names": ["no_such_syscall", "mkdir"], "action": "SCMP_ACT_ERRNO"},
        {"names": ["getpid"], "action": "SCMP_ACT_ALLOW"},
    ))
    assert filt.rules == 1
    filt.release()


@pytest.mark.parametrize("profile, message", [
    ({"defaultAction": "SCMP_ACT_BOGUS"}, "string SCMP_ACT_BOGUS is not a valid action for seccomp"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_Z80"]},
     "string SCMP_ARCH_Z80 is not a valid arch for seccomp"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["read"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_SOME"}]}]},
     "string SCMP_CMP_SOME is not a valid operator for seccomp"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_WHATEVER"]},
     "seccomp flags 'SECCOMP_FILTER_FLAG_WHATEVER' not yet supported by runc"),
])
def test_invalid_profiles_are_refused_with_one_line(profile, message):
    with pytest.raises(SeccompError) as info:
        compile_filter(profile)
    assert str(info.value) == message
