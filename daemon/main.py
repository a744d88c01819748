"""berthd: the Docker Engine API daemon. Flags are named as dockerd's."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys

from .config import Config


def parse_args(argv: list[str] | None = None) -> Config:
    p = argparse.ArgumentParser(prog="berthd", description="berth's Docker Engine API daemon")
    p.add_argument("-H", "--host", default="unix:///run/berth/berth.sock",
                   help="daemon socket to listen on (unix://PATH)")
    p.add_argument("--data-root", default="/var/lib/berth")
    p.add_argument("--exec-root", default="/run/berth")
    p.add_argument("-G", "--group", default="berth", help="group that may use the API socket")
    p.add_argument("-p", "--pidfile", default=None)
    p.add_argument("--containerd", default=None,
                   help="address of a berth-containerd to use instead of starting one")
    p.add_argument("--cgroup-parent", default="berth")
    p.add_argument("--default-runtime", default="berth")
    p.add_argument("--add-runtime", action="append", default=[], metavar="NAME=PATH")
    p.add_argument("-l", "--log-level", default="info",
                   choices=["debug", "info", "warn", "warning", "error", "fatal"])
    a = p.parse_args(argv)
    if not a.host.startswith("unix://"):
        p.error(f"only unix:// hosts are supported: {a.host}")
    runtimes: dict[str, str] = {}
    for item in a.add_runtime:
        name, eq, path = item.partition("=")
        if not eq or not name or not path:
            p.error(f"--add-runtime wants NAME=PATH: {item}")
        runtimes[name] = path
    cfg = Config(host=a.host, data_root=os.path.abspath(a.data_root),
                 exec_root=os.path.abspath(a.exec_root), group=a.group, pidfile=a.pidfile,
                 containerd=a.containerd, cgroup_parent=a.cgroup_parent,
                 default_runtime=a.default_runtime, runtimes=runtimes,
                 log_level={"warn": "warning", "fatal": "critical"}.get(a.log_level, a.log_level))
    if cfg.default_runtime not in cfg.runtime_names():
        p.error(f"--default-runtime {cfg.default_runtime}: no such runtime (add it with --add-runtime)")
    return cfg


async def _serve(cfg: Config) -> None:
    import uvicorn
    from uvicorn.protocols.http.h11_impl import H11Protocol

    from . import app as app_module
    from .containers.service import Engine
    from .http import access, protocol, versioning
    from .libcontainerd import Containerd
    from .libcontainerd.supervisor import ManagedContainerd
    from .routers import containers as containers_router

    gid = access.ensure_group(cfg.group)
    managed = None
    if cfg.containerd is None:
        managed = ManagedContainerd(cfg)
        managed.start()
        managed.supervise()
    engine = Engine(cfg, Containerd(cfg.containerd_address))
    fastapi_app = app_module.build(engine, managed)
    asgi = access.guard(versioning.strip_version(fastapi_app), cfg.group, gid)
    sock = access.listen_unix(cfg.socket_path, gid)
    server = uvicorn.Server(uvicorn.Config(
        asgi, http=protocol.make_protocol(H11Protocol, containers_router.hijacker(engine, gid)), lifespan="on",
        log_level=cfg.log_level, access_log=cfg.log_level == "debug", timeout_graceful_shutdown=5))
    ours = os.stat(cfg.socket_path).st_ino
    _quiet_signals()
    try:
        await server.serve(sockets=[sock])
    finally:
        # Only our own socket: a successor may already listen at the same path.
        try:
            if os.stat(cfg.socket_path).st_ino == ours:
                os.unlink(cfg.socket_path)
        except FileNotFoundError:
            pass


def _quiet_signals() -> None:
    """A SIGTERM or SIGINT is a clean shutdown, as in dockerd: close, clean up, exit 0.

    uvicorn shuts down gracefully on them, then raises the signal again for the handler
    that was there before it; with the default one berthd would die by the signal
    before removing its socket and pid file. That handler is this no-op.
    """
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: None)


def main(argv: list[str] | None = None) -> None:
    cfg = parse_args(argv)
    if os.geteuid() != 0:
        sys.exit("berthd needs to be started as root")
    logging.basicConfig(level=cfg.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for d in (cfg.data_root, cfg.exec_root):
        os.makedirs(d, mode=0o711, exist_ok=True)
    if cfg.pidfile:
        with open(cfg.pidfile, "w") as f:
            f.write(f"{os.getpid()}\n")
    try:
        asyncio.run(_serve(cfg))
    finally:
        if cfg.pidfile:
            try:
                os.unlink(cfg.pidfile)
            except FileNotFoundError:
                pass
