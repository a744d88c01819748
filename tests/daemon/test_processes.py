"""What ps shows of the chain under berthd: each container's shim as `berth-shim --id ID
...`, and no shim among the processes listed as berth-containerd."""

from __future__ import annotations

import os
import subprocess

import httpx

from tests.daemon.conftest import Berthd, run_container
from tests.host import parent_of


def _argv(pid: int) -> list[str]:
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        return f.read().decode().split("\0")[:-1]


def test_ps_shows_each_shim_by_its_container_and_not_as_berth_containerd(api: httpx.Client,
                                                                        berthd: Berthd) -> None:
    cid = run_container(api, {"Image": "busybox", "Cmd": ["sleep", "1000"]})
    try:
        shim = parent_of(api.get(f"/containers/{cid}/json").json()["State"]["Pid"])
        argv = _argv(shim)
        assert os.path.basename(argv[0]) == "berth-shim" and argv[1:3] == ["--id", cid]
        listed = subprocess.run(["ps", "-eww", "-o", "pid=,args="], capture_output=True, text=True,
                                check=True).stdout
        named = {int(line.split()[0]) for line in listed.splitlines()
                 if "berth-containerd" in line and berthd.root in line}
        containerd = berthd.containerd_pid()
        assert containerd in named and shim not in named
        # besides the gRPC server, only its fork server, which says so
        assert [_argv(pid)[1] for pid in named - {containerd}] == ["fork-server"]
    finally:
        api.delete(f"/containers/{cid}", params={"force": 1})
