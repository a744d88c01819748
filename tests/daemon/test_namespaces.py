"""--pid, --ipc, --shm-size, --uts and --cgroupns end to end with the docker CLI against a
private berthd: what the container sees (host pids, a host SysV segment, another container's
processes and /dev/shm, the host's hostname), dockerd's refusals, and no mount left behind."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import httpx
import pytest
from tests.daemon.conftest import Berthd, wait_until


def docker(d: Berthd, *args: str) -> subprocess.CompletedProcess:
    return d.docker(*args, timeout=90)


def names(api: httpx.Client) -> set[str]:
    return {n for c in api.get("/containers/json", params={"all": 1}).json() for n in c["Names"]}


def pins(d: Berthd) -> list[str]:
    """Mounts under the engine's namespaces dir (pins and shm tmpfs)."""
    root = os.path.join(d.exec_root, "namespaces")
    with open("/proc/mounts") as f:
        return [line.split()[1] for line in f if line.split()[1].startswith(root)]


def ns_of(pid: int, kind: str) -> str:
    return os.readlink(f"/proc/{pid}/ns/{kind}")


def state_pid(api: httpx.Client, ref: str) -> int:
    return api.get(f"/containers/{ref}/json").json()["State"]["Pid"]


def test_pid_host_sees_the_hosts_processes(berthd: Berthd, api: httpx.Client) -> None:
    sleeper = subprocess.Popen(["sleep", "600"])
    try:
        r = docker(berthd, "run", "--rm", "--pid=host", "busybox", "ps", "-o", "pid,args")
        assert r.returncode == 0, r.stderr
        assert any(line.split()[:1] == [str(sleeper.pid)] for line in r.stdout.splitlines()), r.stdout
        r = docker(berthd, "run", "--rm", "busybox", "ps", "-o", "pid")
        assert str(sleeper.pid) not in r.stdout.split()
    finally:
        sleeper.kill()
        sleeper.wait()


def test_pid_container_joins_its_namespace(berthd: Berthd, api: httpx.Client) -> None:
    r = docker(berthd, "run", "-d", "--name", "pid-donor", "busybox", "sleep", "600")
    assert r.returncode == 0, r.stderr
    donor = r.stdout.strip()
    try:
        r = docker(berthd, "run", "-d", "--name", "pid-joiner", "--pid=container:pid-donor", "busybox", "sleep", "600")
        assert r.returncode == 0, r.stderr
        host = api.get("/containers/pid-joiner/json").json()["HostConfig"]
        assert host["PidMode"] == f"container:{donor}"  # dockerd stores the id: a rename keeps it
        assert ns_of(state_pid(api, "pid-joiner"), "pid") == ns_of(state_pid(api, "pid-donor"), "pid")
        r = docker(berthd, "exec", "pid-joiner", "ps", "-o", "pid,args")
        assert r.returncode == 0, r.stderr
        sleepers = [line.split()[0] for line in r.stdout.splitlines() if "sleep 600" in line]
        assert len(sleepers) == 2 and "1" in sleepers, r.stdout  # the donor's init is pid 1 here
        docker(berthd, "rm", "-f", "pid-joiner")
        docker(berthd, "stop", "-t", "0", "pid-donor")
        r = docker(berthd, "run", "--rm", "--pid=container:pid-donor", "busybox", "true")
        assert r.returncode == 125
        assert f": container {donor} is not running\n" in r.stderr, r.stderr  # dockerd 20.10's words
    finally:
        docker(berthd, "rm", "-f", "pid-joiner", "pid-donor")
    assert pins(berthd) == []


def test_ipc_host_sees_a_host_segment(berthd: Berthd, api: httpx.Client) -> None:
    r = subprocess.run(["ipcmk", "-M", "4096"], capture_output=True, text=True, check=True)
    shmid = r.stdout.split()[-1]
    try:
        r = docker(berthd, "run", "--rm", "--ipc=host", "busybox", "cat", "/proc/sysvipc/shm")
        assert r.returncode == 0, r.stderr
        assert shmid in [line.split()[1] for line in r.stdout.splitlines()[1:]]
        r = docker(berthd, "run", "--rm", "busybox", "cat", "/proc/sysvipc/shm")
        assert shmid not in [line.split()[1] for line in r.stdout.splitlines()[1:]]
    finally:
        subprocess.run(["ipcrm", "-m", shmid], check=True)


def test_ipc_container_shares_segments_and_dev_shm(berthd: Berthd, api: httpx.Client) -> None:
    r = docker(berthd, "run", "-d", "--name", "ipc-donor", "--ipc=shareable", "busybox", "sh", "-c",
               "echo hi > /dev/shm/mark; ipcmk -M 8192 >/dev/null 2>&1 || true; sleep 600")
    assert r.returncode == 0, r.stderr
    donor = r.stdout.strip()
    try:
        assert wait_until(lambda: docker(berthd, "exec", "ipc-donor", "cat", "/dev/shm/mark").stdout == "hi\n")
        r = docker(berthd, "run", "--rm", "--ipc=container:ipc-donor", "busybox", "cat", "/dev/shm/mark")
        assert r.returncode == 0 and r.stdout == "hi\n", r.stderr
        joiner = docker(berthd, "run", "-d", "--ipc=container:ipc-donor", "busybox", "sleep", "600").stdout.strip()
        assert ns_of(state_pid(api, joiner), "ipc") == ns_of(state_pid(api, "ipc-donor"), "ipc")
        assert api.get(f"/containers/{joiner}/json").json()["HostConfig"]["IpcMode"] == f"container:{donor}"
        docker(berthd, "rm", "-f", joiner)
        # a private donor does not share: dockerd's words
        docker(berthd, "run", "-d", "--name", "ipc-private", "busybox", "sleep", "600")
        r = docker(berthd, "run", "--rm", "--ipc=container:ipc-private", "busybox", "true")
        assert r.returncode == 125
        assert "non-shareable IPC (hint: use IpcMode:shareable for the donor container)" in r.stderr
    finally:
        docker(berthd, "rm", "-f", "ipc-donor", "ipc-private")
    assert pins(berthd) == []


def test_joining_a_stopped_or_removed_donor_fails_the_start_as_dockerd(api: httpx.Client) -> None:
    """dockerd 20.10's words and status (500) for a donor that does not run, at each start;
    one removed since the create says which mode it was for. The state keeps the error."""
    donor = api.post("/containers/create", json={"Image": "busybox", "Cmd": ["sleep", "600"],
                                                 "HostConfig": {"IpcMode": "shareable"}}).json()["Id"]
    made = []
    try:
        for mode, words in (("PidMode", f"container {donor} is not running"),
                            ("IpcMode", f"can't join IPC of container {donor}: container {donor} is not running")):
            cid = api.post("/containers/create", json={"Image": "busybox", "Cmd": ["true"], "HostConfig": {
                mode: f"container:{donor}"}}).json()["Id"]
            made.append(cid)
            r = api.post(f"/containers/{cid}/start")
            assert r.status_code == 500 and r.json()["message"].endswith(": " + words), r.text
            assert api.get(f"/containers/{cid}/json").json()["State"]["Error"].endswith(words)
        assert api.delete(f"/containers/{donor}").status_code == 204
        for cid, words in zip(made, (f"cannot join PID of a non running container: {donor}: No such container: "
                                     f"{donor}", f"can't join IPC of container {donor}: No such container: {donor}"),
                              strict=True):
            r = api.post(f"/containers/{cid}/start")
            assert r.status_code == 500 and r.json()["message"].endswith(": " + words), r.text
    finally:
        for cid in [*made, donor]:
            api.delete(f"/containers/{cid}", params={"force": 1})


def test_shm_size_and_the_defaults_inspect_shows(berthd: Berthd, api: httpx.Client) -> None:
    r = docker(berthd, "run", "--rm", "--shm-size", "128m", "busybox", "df", "-k", "/dev/shm")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[1].split()[1] == str(128 * 1024)
    r = docker(berthd, "run", "--rm", "busybox", "df", "-k", "/dev/shm")
    assert r.stdout.splitlines()[1].split()[1] == str(64 * 1024)
    r = docker(berthd, "run", "--rm", "--ipc=shareable", "--shm-size", "32m", "busybox", "df", "-k", "/dev/shm")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[1].split()[1] == str(32 * 1024)
    r = docker(berthd, "run", "--rm", "--ipc=none", "busybox", "sh", "-c", "grep -c ' /dev/shm ' /proc/mounts")
    assert r.stdout.strip() == "0"
    r = docker(berthd, "create", "busybox", "true")
    cid = r.stdout.strip()
    try:
        host = api.get(f"/containers/{cid}/json").json()["HostConfig"]
        assert host["IpcMode"] == "private" and host["ShmSize"] == 64 << 20
        cgroup_v2 = os.path.exists("/sys/fs/cgroup/cgroup.controllers")
        assert host["CgroupnsMode"] == ("private" if cgroup_v2 else "host")
        assert host["OomKillDisable"] is False and "/proc/kcore" in host["MaskedPaths"]
    finally:
        docker(berthd, "rm", "-f", cid)
    assert pins(berthd) == []


def test_uts_host_and_cgroupns(berthd: Berthd, api: httpx.Client) -> None:
    r = docker(berthd, "run", "--rm", "--uts=host", "busybox", "hostname")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == socket.gethostname()
    r = docker(berthd, "run", "--rm", "--domainname", "example.org", "busybox", "cat", "/proc/sys/kernel/domainname")
    assert r.returncode == 0 and r.stdout.strip() == "example.org", r.stderr
    r = docker(berthd, "run", "--rm", "--uts=host", "--hostname", "x", "busybox", "true")
    assert r.returncode == 125 and "conflicting options: hostname and the UTS mode" in r.stderr
    own = os.readlink("/proc/self/ns/cgroup")
    r = docker(berthd, "run", "--rm", "--cgroupns=private", "busybox", "readlink", "/proc/self/ns/cgroup")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() != own
    r = docker(berthd, "run", "--rm", "--cgroupns=host", "busybox", "readlink", "/proc/self/ns/cgroup")
    assert r.stdout.strip() == own


@pytest.mark.parametrize("host, message", [
    ({"PidMode": "bogus"}, "invalid PID mode: bogus"),
    ({"IpcMode": "bogus"}, "invalid IPC mode: bogus"),
    ({"UTSMode": "bogus"}, "invalid UTS mode: bogus"),
    ({"CgroupnsMode": "bogus"}, "invalid cgroup namespace mode: bogus"),
    ({"ShmSize": -1}, "SHM size can not be less than 0"),
    ({"Isolation": "hyperv"}, "invalid isolation 'hyperv' on linux"),
    ({"IOMaximumIOps": 10}, "Invalid QoS settings: linux does not support Maximum IO Bandwidth or Maximum IO IOps"),
    ({"StorageOpt": {"size": "1G"}}, "--storage-opt is supported only for overlay over xfs with 'pquota' mount option"),
    ({"VolumeDriver": "flocker"}, 'error looking up volume plugin flocker: plugin "flocker" not found'),
    ({"DeviceRequests": [{"Driver": "", "Count": -1, "Capabilities": [["gpu"]]}]},
     'could not select device driver "" with capabilities: [[gpu]]'),
    ({"Annotations": {"": "x"}}, "invalid Annotations: the empty string is not permitted as an annotation key"),
    ({"CpuRealtimePeriod": 1000, "CpuRealtimeRuntime": 2000},
     "cpu real-time runtime cannot be higher than cpu real-time period"),
    ({"BlkioDeviceReadBps": [{"Path": "/dev/null", "Rate": 1024}]}, "/dev/null is not a block device"),
    ({"Cgroup": "container:x"}, "HostConfig.Cgroup (container:x) is not supported by berth"),
    ({"PidMode": "container:nosuch"}, "No such container: nosuch"),  # dockerd 20.10: at create, not start
    ({"IpcMode": "container:nosuch"}, "No such container: nosuch"),
])
def test_refusals_create_nothing(api: httpx.Client, host: dict, message: str) -> None:
    before = names(api)
    r = api.post("/containers/create", json={"Image": "busybox", "HostConfig": host})
    assert r.status_code == 400, r.text
    assert r.json()["message"] == message
    assert names(api) == before


def test_discarded_fields_warn_as_dockerd(api: httpx.Client) -> None:
    r = api.post("/containers/create", json={"Image": "busybox", "HostConfig": {
        "KernelMemory": 64 << 20, "CpuPercent": 50, "OomKillDisable": True}})
    assert r.status_code == 201, r.text
    cid = r.json()["Id"]
    try:
        assert r.json()["Warnings"] == [
            "Your kernel does not support kernel memory limit capabilities or the cgroup is not mounted. "
            "Limitation discarded.",
            "linux does not support CPU percent. Percent discarded.",
            "OOM killer is disabled for the container, but no memory limit is set, this can result in the "
            "system running out of resources."]
        host = api.get(f"/containers/{cid}/json").json()["HostConfig"]
        assert host["KernelMemory"] == 0 and host["CpuPercent"] == 0 and host["OomKillDisable"] is True
    finally:
        api.delete(f"/containers/{cid}", params={"force": 1})


def test_annotations_and_masked_paths_reach_the_spec(berthd: Berthd, api: httpx.Client) -> None:
    r = api.post("/containers/create", json={"Image": "busybox", "Cmd": ["sh", "-c", "cat /proc/kcore | head -c1 | wc -c; sleep 600"],
                                             "HostConfig": {"Annotations": {"com.example.a": "1"}, "MaskedPaths": []}})
    assert r.status_code == 201, r.text
    cid = r.json()["Id"]
    try:
        assert api.post(f"/containers/{cid}/start").status_code == 204
        bundle = os.path.join(berthd.exec_root, "containerd", "tasks", cid, "config.json")
        import json

        with open(bundle) as f:
            spec = json.load(f)
        assert spec["annotations"]["com.example.a"] == "1"
        assert spec["linux"]["maskedPaths"] == []
        assert api.get(f"/containers/{cid}/json").json()["HostConfig"]["MaskedPaths"] == []
    finally:
        api.delete(f"/containers/{cid}", params={"force": 1})


def berth(d: Berthd, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "berth.client.main", "-H", d.host, *args],
                          capture_output=True, text=True, timeout=90)


def test_berths_own_flags(berthd: Berthd, api: httpx.Client) -> None:
    r = berth(berthd, "run", "--rm", "--pid=host", "--uts=host", "--shm-size", "96m", "busybox", "sh", "-c",
              "hostname; df -k /dev/shm | tail -1; ps -o pid | grep -cx ' *1'")
    assert r.returncode == 0, r.stderr
    hostname, df, _ = r.stdout.splitlines()
    assert hostname == socket.gethostname() and df.split()[1] == str(96 * 1024)
    r = berth(berthd, "run", "-d", "--ipc=shareable", "--cgroupns=private", "--oom-kill-disable", "-m", "64m",
              "--memory-swappiness", "10", "busybox", "sleep", "600")
    assert r.returncode == 0, r.stderr
    cid = r.stdout.strip()
    try:
        host = api.get(f"/containers/{cid}/json").json()["HostConfig"]
        assert (host["IpcMode"], host["CgroupnsMode"], host["OomKillDisable"], host["MemorySwappiness"]) == (
            "shareable", "private", True, 10)
        if not os.path.exists("/sys/fs/cgroup/cgroup.controllers"):  # the v1 memory controller's files
            base = os.path.join("/sys/fs/cgroup/memory", berthd.cgroup_parent, cid)
            with open(os.path.join(base, "memory.oom_control")) as f:
                assert "oom_kill_disable 1" in f.read()
            with open(os.path.join(base, "memory.swappiness")) as f:
                assert f.read().strip() == "10"
    finally:
        berth(berthd, "rm", "-f", cid)
    assert pins(berthd) == []


def _a_block_device() -> str:
    for name in sorted(os.listdir("/sys/block")):
        if not name.startswith(("loop", "ram")) and os.path.exists(f"/dev/{name}"):
            return f"/dev/{name}"
    return ""


def test_blkio_throttles_reach_the_cgroup(berthd: Berthd, api: httpx.Client) -> None:
    dev = _a_block_device()
    if not dev or os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
        pytest.skip("needs a block device and the v1 blkio controller")
    r = docker(berthd, "run", "-d", "--device-read-bps", f"{dev}:1mb", "--device-write-iops", f"{dev}:100",
               "busybox", "sleep", "600")
    assert r.returncode == 0, r.stderr
    cid = r.stdout.strip()
    try:
        st = os.stat(dev)
        base = os.path.join("/sys/fs/cgroup/blkio", berthd.cgroup_parent, cid)
        with open(os.path.join(base, "blkio.throttle.read_bps_device")) as f:
            assert f.read().split() == [f"{os.major(st.st_rdev)}:{os.minor(st.st_rdev)}", str(1 << 20)]
        with open(os.path.join(base, "blkio.throttle.write_iops_device")) as f:
            assert f.read().split() == [f"{os.major(st.st_rdev)}:{os.minor(st.st_rdev)}", "100"]
    finally:
        docker(berthd, "rm", "-f", cid)
