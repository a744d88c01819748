"""What a private berthd's two stores and the host hold, and where they disagree.

berthd's view is its API; berth-containerd's is its gRPC API (asked directly, as
berthd does) and its directories; the host's is /proc, the mount table and the
cgroup tree. `problems` lists every disagreement in words, for an assert to print.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import uuid
from dataclasses import dataclass
from typing import Iterator

import grpc
import httpx

from berth.proto import containerd_pb2 as pb
from berth.proto import containerd_pb2_grpc as rpc
from tests.daemon.conftest import Berthd, _cleanup, _pids_mentioning
from tests.host import alive, mounts_under, parent_of

# gRPC's own words, which a user must never be shown
RAW_GRPC = re.compile(r"stream removed|socket closed|statuscode|rst_stream|grpc|_inactiverpcerror|"
                      r"failed to connect to all addresses", re.I)


@contextlib.contextmanager
def private_berthd(*extra_args: str) -> Iterator[Berthd]:
    """A berthd of its own (not the session's): these tests kill it, and read its stores whole."""
    suffix = uuid.uuid4().hex[:8]
    root = tempfile.mkdtemp(prefix="berthd-crash-")
    os.chmod(root, 0o755)
    d = Berthd(root=root, group=f"berth-test-{suffix}", cgroup_parent=f"berth-test-{suffix}",
               extra_args=list(extra_args))
    try:
        yield d
    finally:
        _cleanup(d)


@dataclass
class Containerd:
    containers: dict[str, pb.Container]
    tasks: dict[str, pb.Task]


def containerd_view(d: Berthd) -> Containerd:
    with grpc.insecure_channel("unix:" + os.path.join(d.exec_root, "containerd.sock")) as ch:
        ctrs = rpc.ContainersStub(ch).List(pb.ListContainersRequest(), wait_for_ready=True, timeout=30)
        tasks = rpc.TasksStub(ch).List(pb.ListTasksRequest(), wait_for_ready=True, timeout=30)
    return Containerd({c.id: c for c in ctrs.containers}, {t.id: t for t in tasks.tasks})


def berthd_view(api: httpx.Client) -> dict[str, dict]:
    ids = [c["Id"] for c in api.get("/containers/json", params={"all": 1}).json()]
    out = {}
    for cid in ids:
        r = api.get(f"/containers/{cid}/json")
        if r.status_code == 200:
            out[cid] = r.json()
    return out


def _listdir(path: str) -> list[str]:
    try:
        return sorted(os.listdir(path))
    except FileNotFoundError:
        return []


def shims(d: Berthd) -> list[int]:
    """Live shims of this berthd's containerd: they carry its command line, reparented to init."""
    ctrd = d.containerd_pid()
    return [p for p in _pids_mentioning(d.root)
            if alive(p) and p != ctrd and (d.proc is None or p != d.proc.pid) and _parent(p) != ctrd]


def _parent(pid: int) -> int:
    try:
        return parent_of(pid)
    except (OSError, IndexError):
        return 0


def problems(d: Berthd, api: httpx.Client) -> list[str]:
    """Where berthd, berth-containerd and their directories disagree (empty: they agree)."""
    out: list[str] = []
    ours = berthd_view(api)
    theirs = containerd_view(d)
    state = os.path.join(d.exec_root, "containerd")
    for cid, c in ours.items():
        st = c["State"]
        task = theirs.tasks.get(cid)
        if cid not in theirs.containers:
            out.append(f"{cid[:12]}: shown by the API, unknown to containerd")
        if st["Running"]:
            if task is None or task.status != pb.RUNNING or task.pid != st["Pid"]:
                out.append(f"{cid[:12]}: running pid {st['Pid']} but containerd's task is {task}")
            elif not alive(st["Pid"]):
                out.append(f"{cid[:12]}: running pid {st['Pid']} is not alive")
        else:
            if task is not None:
                out.append(f"{cid[:12]}: {st['Status']} but containerd still has its task ({task.status})")
            if os.path.exists(os.path.join(state, "tasks", cid)):
                out.append(f"{cid[:12]}: {st['Status']} but its task directory (shim) is still there")
            if c["HostConfig"].get("AutoRemove"):
                out.append(f"{cid[:12]}: --rm and {st['Status']}, not removed")
        if RAW_GRPC.search(st.get("Error") or ""):
            out.append(f"{cid[:12]}: State.Error in gRPC's words: {st['Error']!r}")
    for cid in theirs.containers:
        if cid not in ours:
            out.append(f"{cid[:12]}: in containerd, unknown to berthd")
    for cid in theirs.tasks:
        if cid not in ours:
            out.append(f"{cid[:12]}: containerd has a task for a container berthd does not know")
    for name in _listdir(os.path.join(d.data_root, "containerd", "snapshots", "active")):
        if name not in theirs.containers:
            out.append(f"{name[:12]}: active snapshot without a container in containerd")
    for name in _listdir(os.path.join(state, "tasks")):
        if name not in theirs.tasks:
            out.append(f"{name[:12]}: task directory without a task in containerd")
    cdir = os.path.join(d.data_root, "containers")
    for name in _listdir(cdir):
        files = _listdir(os.path.join(cdir, name))
        if "config.v2.json" not in files:
            out.append(f"{name[:12]}: container directory without config.v2.json: {files}")
        elif name not in ours:
            out.append(f"{name[:12]}: config.v2.json of a container the API does not show")
        out.extend(f"{name[:12]}: leftover {f}" for f in files if ".tmp." in f)
    return out


def leaks(d: Berthd) -> list[str]:
    """After everything is removed: what is still on the host (mounts, cgroups, shims)."""
    out = [f"mount {m}" for m in mounts_under(d.root)]
    for hier in _listdir("/sys/fs/cgroup"):
        base = os.path.join("/sys/fs/cgroup", hier, d.cgroup_parent)
        out.extend(f"cgroup {hier}/{d.cgroup_parent}/{sub}" for sub in _listdir(base)
                   if os.path.isdir(os.path.join(base, sub)))
    out.extend(f"shim pid {p}" for p in shims(d))
    out.extend(f"stdin fifo {f}" for f in _listdir(os.path.join(d.exec_root, "fifo")))
    return out
