"""The knobs as Docker shows and refuses them: inspect's HostConfig (SecurityOpt, CapAdd,
CapDrop, Privileged, ReadonlyRootfs, Sysctls, Devices), dockerd's refusals, and berth's own
CLI giving the same containers as the docker CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.security.conftest import IMAGE, Dockerd, host_pidns

FIELDS = ("SecurityOpt", "CapAdd", "CapDrop", "Privileged", "ReadonlyRootfs", "Sysctls", "Devices",
          "DeviceCgroupRules")
BERTH = os.path.join(os.path.dirname(sys.executable), "berth")


def _host_config(env: dict[str, str], flags: list[str]) -> dict:
    r = subprocess.run(["docker", "create", "--network", "none", *flags, IMAGE, "true"], env=env, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    cid = r.stdout.strip()
    try:
        out = subprocess.run(["docker", "inspect", cid], env=env, capture_output=True, text=True, check=True)
        return {k: json.loads(out.stdout)[0]["HostConfig"].get(k) for k in FIELDS}
    finally:
        subprocess.run(["docker", "rm", "-f", cid], env=env, capture_output=True)


@pytest.mark.parametrize("flags", [
    [],
    ["--cap-add", "net_admin", "--cap-drop", "CAP_CHOWN", "--cap-drop", "mknod"],
    ["--cap-add", "ALL", "--cap-drop", "NET_RAW"],
    ["--privileged"],
    ["--read-only", "--security-opt", "no-new-privileges", "--security-opt", "seccomp=unconfined"],
    ["--sysctl", "net.ipv4.ip_forward=1", "--sysctl", "kernel.shmmax=65536"],
    ["--device", "/dev/null:/dev/mynull:rw", "--device-cgroup-rule", "c 42:* rmw"],
])
def test_inspect_shows_the_knobs_as_docker_does(berthd, dockerd: Dockerd, flags: list[str]) -> None:
    assert _host_config(berthd.env, flags) == _host_config(dockerd.env, flags)


@pytest.mark.parametrize("flags", [
    ["--cap-add", "NOPE"],
    ["--cap-drop", "CAP_NOPE"],
    ["--security-opt", "nope"],
    ["--security-opt", "nope=1"],
    ["--security-opt", "no-new-privileges=maybe"],
    ["--sysctl", "kernel.hostname=x"],
    ["--device-cgroup-rule", "x 1:2 r"],
])
def test_refusals_are_dockers(berthd, dockerd: Dockerd, flags: list[str]) -> None:
    ours = berthd.docker("create", "--network", "none", *flags, IMAGE, "true")
    theirs = dockerd.docker("create", "--network", "none", *flags, IMAGE, "true")
    assert ours.returncode == theirs.returncode != 0, (ours.stderr, theirs.stderr)
    assert ours.stderr.splitlines()[0] == theirs.stderr.splitlines()[0]


def test_a_missing_device_is_refused_with_dockerds_words(berthd, dockerd: Dockerd) -> None:
    """dockerd finds out at start, berth already at create (the spec is made then)."""
    flags = ["--network", "none", "--device", "/dev/no-such-device", IMAGE, "true"]
    ours = berthd.docker("create", *flags)
    theirs = dockerd.docker("run", "--rm", *flags)
    assert ours.returncode != 0 and theirs.returncode != 0
    assert 'error gathering device information while adding custom device "/dev/no-such-device": ' \
           "no such file or directory" in ours.stderr
    assert 'error gathering device information while adding custom device "/dev/no-such-device": ' \
           "no such file or directory" in theirs.stderr


def test_apparmor_is_refused_clearly_where_the_host_has_none(berthd) -> None:
    r = berthd.docker("create", "--security-opt", "apparmor=docker-default", IMAGE, "true")
    assert r.returncode == 1
    assert "AppArmor is not enabled on this host" in r.stderr


def test_a_seccomp_profile_file_is_read_by_the_client_and_applied(berthd, dockerd: Dockerd, work: str,
                                                                  outside: int) -> None:
    path = os.path.join(work, "no-chroot.json")
    with open(path, "w") as f:
        json.dump({"defaultAction": "SCMP_ACT_ALLOW",
                   "syscalls": [{"names": ["chroot"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]}, f)
    args = ["run", "--rm", "--network", "none", "--security-opt", f"seccomp={path}", IMAGE, "probe",
            host_pidns(), str(outside), "chroot"]
    ours = subprocess.run([BERTH, *args], env={**berthd.env, "BERTH_HOST": berthd.host}, capture_output=True,
                          text=True, timeout=60)
    assert (ours.returncode, ours.stdout) == (0, "chroot EACCES\n"), ours.stderr
    assert dockerd.docker(*args).stdout == ours.stdout


def test_berths_cli_sends_what_dockers_sends(berthd, outside: int) -> None:
    env = {**berthd.env, "BERTH_HOST": berthd.host}
    r = subprocess.run([BERTH, "run", "--rm", "--cap-drop", "all", "--cap-add", "sys_chroot", IMAGE, "probe",
                        host_pidns(), str(outside), "sethostname"], env=env, capture_output=True, text=True)
    assert (r.returncode, r.stdout) == (0, "sethostname EPERM\n"), r.stderr
    bad = subprocess.run([BERTH, "run", "--sysctl", "kernel.foo=1", IMAGE], env=env, capture_output=True, text=True)
    assert bad.returncode == 125
    assert "invalid argument \"kernel.foo=1\" for \"--sysctl\" flag: sysctl 'kernel.foo=1' is not allowed" in bad.stderr


def test_the_oci_spec_has_dockers_defaults(berthd) -> None:
    """/proc/sys read-only, masked paths, no_new_privs with the option, all from inside."""
    r = berthd.docker("run", "--rm", "--security-opt", "no-new-privileges", IMAGE, "sh", "-c",
                      "grep NoNewPrivs /proc/self/status; grep Seccomp: /proc/self/status; "
                      "grep ' /proc/sys ' /proc/mounts | cut -d' ' -f4 | cut -d, -f1; "
                      "grep -c ' /proc/timer_list ' /proc/mounts; grep CapBnd /proc/self/status")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.split("\n")
    assert lines[0].split() == ["NoNewPrivs:", "1"]
    assert lines[1].split() == ["Seccomp:", "2"]
    assert lines[2] == "ro"
    assert lines[3] == "1"
    assert lines[4].split()[1] == "00000000a80425fb"  # Docker's 14 capabilities


def _compiled(berthd) -> set[str]:
    return {f for dp, _, fs in os.walk(berthd.exec_root) if dp.endswith("@seccomp") for f in fs if f.endswith(".bpf")}


def test_the_default_profile_is_compiled_once_for_all_containers(berthd) -> None:
    """berth-runc keeps one compiled BPF per distinct profile under its root (runc/seccomp_cache.py)."""
    assert berthd.docker("run", "--rm", IMAGE, "true").returncode == 0
    before = _compiled(berthd)
    assert before
    assert berthd.docker("run", "--rm", IMAGE, "true").returncode == 0
    assert _compiled(berthd) == before  # the second container compiled nothing
    assert berthd.docker("run", "--rm", "--cap-add", "SYS_NICE", "--cap-add", "SYS_PACCT", IMAGE, "true").returncode == 0
    assert len(_compiled(berthd) - before) == 1  # another profile (those caps' rules): one more
