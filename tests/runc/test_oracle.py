"""The same bundle under runc and berth-runc: the process must see the same world.

Each case edits runc's default spec and runs a shell script that prints what a
process can observe (mounts, credentials, limits, names); both runtimes must
print the same bytes and exit with the same status.
"""

from __future__ import annotations

import os
from typing import Any, Callable

import pytest

# mount table without mount ids and peer group numbers, which differ run to run
MOUNTS = r"cut -d' ' -f 5- /proc/self/mountinfo | sed -E 's/ (shared|master|propagate_from):[0-9]+//g'"
STATUS = "grep -E '^(Cap|NoNewPrivs|Uid|Gid|Groups|Seccomp|Sig(Ign|Blk))' /proc/self/status"


def _ns(spec: dict, drop: str = "", add: dict | None = None) -> None:
    nss = [n for n in spec["linux"]["namespaces"] if n["type"] != drop]
    if add:
        nss.append(add)
    spec["linux"]["namespaces"] = nss


def _userns(spec: dict) -> None:
    _ns(spec, add={"type": "user"})
    spec["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    spec["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    # sysfs and cgroup need their own namespaces in a user namespace
    spec["mounts"] = [m for m in spec["mounts"] if m["type"] not in ("sysfs", "cgroup")]


def _user(spec: dict) -> None:
    spec["process"]["user"] = {"uid": 1000, "gid": 1000, "additionalGids": [10, 20], "umask": 0o027}


def _caps(spec: dict) -> None:
    caps = ["CAP_CHOWN", "CAP_NET_RAW", "CAP_KILL"]
    spec["process"]["capabilities"] = {"bounding": caps, "effective": caps[:2], "permitted": caps,
                                       "inheritable": caps[:1], "ambient": caps[:1]}


def _rlimits(spec: dict) -> None:
    spec["process"]["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": 512, "hard": 2048},
                                  {"type": "RLIMIT_NPROC", "soft": 300, "hard": 400},
                                  {"type": "RLIMIT_CORE", "soft": 0, "hard": 1024}]


def _mounts(spec: dict, host_dir: str) -> None:
    spec["mounts"] += [
        {"destination": "/data", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "noexec", "size=1m", "mode=700"]},
        {"destination": "/host-ro", "type": "bind", "source": host_dir, "options": ["rbind", "ro", "nosuid"]},
        {"destination": "/host-rw", "type": "none", "source": host_dir, "options": ["bind", "nodev"]},
        {"destination": "/etc/hostfile", "type": "bind", "source": os.path.join(host_dir, "file"), "options": ["bind", "ro"]},
    ]


def _masked(spec: dict) -> None:
    spec["linux"]["maskedPaths"] = ["/proc/cpuinfo", "/proc/scsi", "/etc/passwd", "/nonexistent"]
    spec["linux"]["readonlyPaths"] = ["/tmp", "/proc/sys", "/missing"]


CASES: dict[str, tuple[Callable[..., None] | None, str]] = {
    "default": (None, f"{MOUNTS}; {STATUS}; id; hostname; ulimit -a; ls -l /dev | cut -c1-10,34-; umask; env; pwd"),
    "no-network-ns": (lambda s: _ns(s, "network"), "cat /proc/net/dev | cut -d: -f1 | sort; " + MOUNTS),
    "no-uts-ns": (lambda s: (_ns(s, "uts"), s.pop("hostname")), "hostname"),
    "cgroup-ns": (lambda s: _ns(s, add={"type": "cgroup"}), f"cat /proc/self/cgroup; {MOUNTS}"),
    "user-ns": (_userns, f"cat /proc/self/uid_map /proc/self/gid_map; id; {STATUS}; {MOUNTS}; ls -ln /dev | cut -c1-24"),
    "user": (_user, f"id; umask; {STATUS}; touch /tmp/x 2>&1; echo $HOME"),
    "caps": (_caps, STATUS),
    "no-new-privs": (lambda s: s["process"].update(noNewPrivileges=True), STATUS),
    "rlimits": (_rlimits, "ulimit -a"),
    "oom-score": (lambda s: s["process"].update(oomScoreAdj=123), "cat /proc/self/oom_score_adj"),
    "masked-and-readonly": (_masked, f"{MOUNTS}; cat /proc/cpuinfo | wc -c; ls /proc/scsi; touch /tmp/x 2>&1 | cut -d: -f2-"),
    "writable-root": (lambda s: s["root"].update(readonly=False), f"{MOUNTS}; touch /made-here && echo made; rm /made-here"),
    "hostname-domainname": (lambda s: s.update(hostname="box", domainname="example.org"), "hostname; domainname"),
    "sysctl": (lambda s: s["linux"].update(sysctl={"net.ipv4.ip_forward": "1", "kernel.msgmax": "4096"}),
               "cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/msgmax"),
    "cwd-env": (lambda s: s["process"].update(cwd="/tmp/work", env=["A=1", "PATH=/bin", "HOME=/h"]), "pwd; env | sort"),
    "exit-code": (None, "exit 42"),
    "devices": (lambda s: s["linux"].update(devices=[{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229,
                                                      "fileMode": 0o640, "uid": 0, "gid": 0}]),
                "ls -l /dev/fuse | cut -c1-10,34-"),
    "rootfs-propagation": (lambda s: s["linux"].update(rootfsPropagation="private"), MOUNTS),
    "bind-propagation": (lambda s: s["mounts"].append({"destination": "/shared-tmp", "type": "bind", "source": "/tmp",
                                                       "options": ["rbind", "rslave", "nosuid", "nodev"]}),
                         MOUNTS + " | grep -v '^/shared-tmp/'"),
    # under the container's fresh /dev, so that the directory is new to both runtimes:
    # over an existing one, runc gives the tmpfs that directory's mode, not mode=
    "tmpfs-options": (lambda s: s["mounts"].append({"destination": "/dev/scratch", "type": "tmpfs", "source": "tmpfs",
                                                    "options": ["ro", "noexec", "size=512k", "mode=1777"]}),
                      MOUNTS + "; ls -ld /dev/scratch | cut -c1-10"),
}


@pytest.fixture(scope="module")
def host_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    d = tmp_path_factory.mktemp("hostdir")
    (d / "file").write_text("from the host\n")
    return str(d)


@pytest.mark.parametrize("case", list(CASES))
def test_same_world_under_both_runtimes(case: str, bundle, run_both, host_dir: str) -> None:
    edit, script = CASES[case]

    def apply(spec: dict[str, Any]) -> None:
        if edit is not None:
            edit(spec)

    b = bundle(["sh", "-c", script], edit=apply)
    out = run_both(b)
    runc, berth = out["runc"], out["berth-runc"]
    assert (berth.returncode, berth.stdout) == (runc.returncode, runc.stdout), berth.stderr
    assert runc.stdout or runc.returncode == 42  # the script printed something, or exited on purpose


def test_mounts_of_every_type_match(bundle, run_both, host_dir: str) -> None:
    b = bundle(["sh", "-c", f"{MOUNTS}; cat /etc/hostfile; ls /host-ro; touch /host-ro/x 2>&1 | cut -d: -f2-"],
               edit=lambda s: _mounts(s, host_dir))
    out = run_both(b)
    assert out["berth-runc"].stdout == out["runc"].stdout, out["berth-runc"].stderr
    assert "from the host" in out["runc"].stdout


def test_no_pivot_matches(bundle, run_both) -> None:
    b = bundle(["sh", "-c", f"{MOUNTS}; ls /"])
    out = run_both(b, "--no-pivot")
    assert out["berth-runc"].stdout == out["runc"].stdout, out["berth-runc"].stderr
