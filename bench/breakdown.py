"""Where the time of `berth run --rm busybox true` goes, hop by hop.

    .venv/bin/python bench/breakdown.py [--runs 20]

Medians over the runs, each hop measured on its own against one private berthd:
  client   interpreter start + the CLI's imports (`berth --version`, no daemon call)
  api      the requests `run --rm` makes (create, attach, wait, start, exit), from a
           warm Python client: berthd plus everything below it
  ctrd     the same container's gRPC calls straight to berth-containerd
           (Containers.Create, Tasks.Create, Start, Wait, Tasks.Delete, Containers.Delete)
  shim+rt  Tasks.Create alone: bundle, fork of a shim, runtime create
  runtime  berth.runc's library create+start+wait+delete of a bare bundle (bench/runc.py)
So berthd's own share is api - ctrd, containerd's is ctrd - shim+rt - (start/wait/delete).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import engines


def _ms(samples: list[float]) -> str:
    return f"{statistics.median(samples) * 1000:7.1f} ms"


def _api_run(sock: str) -> dict[str, float]:
    t: dict[str, float] = {}
    t0 = time.perf_counter()
    status, body = engines.api(sock, "POST", "/containers/create",
                               json.dumps({"Image": "bench-busybox", "Cmd": ["true"],
                                           "HostConfig": {"AutoRemove": True}}).encode())
    cid = json.loads(body)["Id"]
    t["create"] = time.perf_counter() - t0
    t1 = time.perf_counter()
    engines.api(sock, "POST", f"/containers/{cid}/start")
    t["start"] = time.perf_counter() - t1
    t2 = time.perf_counter()
    engines.api(sock, "POST", f"/containers/{cid}/wait?condition=removed")
    t["wait+remove"] = time.perf_counter() - t2
    t["total"] = time.perf_counter() - t0
    return t


def _ctrd_run(address: str, image_id: str, spec: bytes, n: int) -> dict[str, float]:
    import grpc

    from berth.proto import containerd_pb2 as pb
    from berth.proto import containerd_pb2_grpc as rpc

    ch = grpc.insecure_channel(f"unix://{address}")
    containers, tasks = rpc.ContainersStub(ch), rpc.TasksStub(ch)
    cid = f"bench-{os.getpid()}-{n}"
    t: dict[str, float] = {}
    t0 = time.perf_counter()
    containers.Create(pb.CreateContainerRequest(container=pb.Container(id=cid, image=image_id, spec=spec)))
    t1 = time.perf_counter()
    tasks.Create(pb.CreateTaskRequest(id=cid, log_path="/dev/null"))
    t2 = time.perf_counter()
    tasks.Start(pb.TaskRequest(id=cid))
    tasks.Wait(pb.TaskRequest(id=cid))
    t3 = time.perf_counter()
    tasks.Delete(pb.DeleteTaskRequest(id=cid))
    containers.Delete(pb.DeleteContainerRequest(id=cid))
    t4 = time.perf_counter()
    ch.close()
    t.update({"Containers.Create": t1 - t0, "Tasks.Create (shim+rt)": t2 - t1,
              "Start+Wait": t3 - t2, "Delete both": t4 - t3, "total": t4 - t0})
    return t


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    work = engines.workdir()
    berth = None
    try:
        tar = engines.busybox_tar(work)
        berth = engines.start_berthd(work)
        engines.import_image(berth.sock, tar, "bench-busybox")
        env = berth.env()
        cli = os.path.join(engines.BIN, "berth")
        client = []
        whole = []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            subprocess.run([cli, "--version"], env=env, check=True, stdout=subprocess.DEVNULL)
            client.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            subprocess.run([cli, "run", "--rm", "bench-busybox", "true"], env=env, check=True)
            whole.append(time.perf_counter() - t0)
        api = [_api_run(berth.sock) for _ in range(args.runs)]
        # the spec berthd would send, taken from a container it made
        _, body = engines.api(berth.sock, "POST", "/containers/create",
                              json.dumps({"Image": "bench-busybox", "Cmd": ["true"]}).encode())
        cid = json.loads(body)["Id"]
        import grpc  # noqa: F401  (imported here so its cost is not in the timings)

        from berth.proto import containerd_pb2 as pb
        from berth.proto import containerd_pb2_grpc as rpc

        address = os.path.join(berth.root, "exec", "containerd.sock")
        ch = grpc.insecure_channel(f"unix://{address}")
        made = rpc.ContainersStub(ch).Get(pb.GetContainerRequest(id=cid))
        ch.close()
        ctrd = [_ctrd_run(address, made.image, made.spec, n) for n in range(args.runs)]
        engines.api(berth.sock, "DELETE", f"/containers/{cid}")

        print(f"`berth run --rm busybox true`, medians of {args.runs} runs")
        print(f"  whole command (berth CLI)        {_ms(whole)}")
        print(f"  client start (`berth --version`) {_ms(client)}")
        for key in api[0]:
            print(f"  api {key:<28} {_ms([a[key] for a in api])}")
        for key in ctrd[0]:
            print(f"  ctrd {key:<27} {_ms([c[key] for c in ctrd])}")
        return 0
    finally:
        if berth is not None:
            berth.stop()
        engines.remove_workdir(work)


if __name__ == "__main__":
    sys.exit(main())
