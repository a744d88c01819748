"""berth-containerd: the lifecycle service (flags named as containerd's).

Order matters: the fork server is forked first, while this process has one
thread and no grpc; only then are grpc and the services loaded.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading

from berth.common import CONTAINERD_ADDRESS, CONTAINERD_ROOT, CONTAINERD_STATE
from berth.common.malloc import limit_arenas
from berth.common.sdnotify import notify


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="berth-containerd", description="berth's lifecycle service (gRPC)")
    p.add_argument("-a", "--address", default=CONTAINERD_ADDRESS, help="unix socket to serve gRPC on")
    p.add_argument("--root", default=CONTAINERD_ROOT, help="persistent data: content, snapshots, metadata")
    p.add_argument("--state", default=CONTAINERD_STATE, help="volatile data: task bundles, shim sockets, runtime root")
    p.add_argument("--certs-dir", default="/etc/berth/certs.d",
                   help="per-registry TLS files: DIR/HOST[:PORT]/*.crt (CAs), *.cert and *.key (client)")
    p.add_argument("-l", "--log-level", default="info",
                   choices=["trace", "debug", "info", "warn", "warning", "error", "fatal", "panic"])
    return p.parse_args(argv)


def _level(name: str) -> int:
    return {"trace": logging.DEBUG, "warn": logging.WARNING, "fatal": logging.CRITICAL,
            "panic": logging.CRITICAL}.get(name, getattr(logging, name.upper(), logging.INFO))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=_level(args.log_level), stream=sys.stderr,
                        format="time=%(asctime)s level=%(levelname)s msg=%(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per registry request otherwise
    root, state = os.path.abspath(args.root), os.path.abspath(args.state)
    for d in (root, state):
        os.makedirs(d, mode=0o711, exist_ok=True)
    os.makedirs(os.path.dirname(os.path.abspath(args.address)), mode=0o711, exist_ok=True)

    from .runtime import forkserver

    fork = forkserver.start()
    limit_arenas()  # after the fork: the shims' own heaps are left as they are

    from .containers import ContainerService
    from .content import ContentStore
    from .events import EventBus
    from .images import ImageService
    from .images.pull import Puller
    from .metadata import Metadata
    from .server import serve
    from .snapshots import Snapshotter
    from .runtime.tasks import TaskService

    meta = Metadata(os.path.join(root, "metadata.db"))
    content = ContentStore(os.path.join(root, "content"))
    snapshots = Snapshotter(os.path.join(root, "snapshots"), meta)
    images = ImageService(content, snapshots, meta)
    containers = ContainerService(images, snapshots, meta)
    containers.reclaim()
    events = EventBus()
    tasks = TaskService(state, containers, snapshots, events, fork)
    tasks.recover()
    server = serve(os.path.abspath(args.address), images, containers, tasks, events, Puller(images),
                   args.certs_dir)
    logging.info("serving on %s (root %s, state %s)", args.address, root, state)

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    # berth-containerd.service is Type=notify, as containerd.service; after the handlers,
    # so that a stop right after READY=1 is a clean one
    notify("READY=1")
    stop.wait()
    notify("STOPPING=1")
    # Shims and their containers keep running: they are not ours to stop.
    events.close()
    server.stop(grace=2).wait()
    if fork:
        fork.close()
    try:
        os.unlink(args.address)
    except FileNotFoundError:
        pass
    meta.close()
    logging.shutdown()
    # Handler threads still blocked in a shim wait would hold up the interpreter's
    # exit (the thread pool joins its workers at exit); there is nothing left to flush.
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
