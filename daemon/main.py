"""berthd: the Docker Engine API daemon. Flags are named as dockerd's."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys

from .config import Config

# dockerd's levels (its log.SetLevel's) as Python's; trace is as far as debug goes here.
_LEVELS = {"trace": "debug", "debug": "debug", "info": "info", "warn": "warning", "warning": "warning",
           "error": "error", "fatal": "critical", "panic": "critical"}


def parse_args(argv: list[str] | None = None) -> Config:
    d = Config()  # the defaults live there
    p = argparse.ArgumentParser(prog="berthd", description="berth's Docker Engine API daemon")
    p.add_argument("-H", "--host", default=d.host, help="daemon socket to listen on (unix://PATH)")
    p.add_argument("--data-root", default=d.data_root)
    p.add_argument("--exec-root", default=d.exec_root)
    p.add_argument("-G", "--group", default=d.group, help="group that may use the API socket")
    p.add_argument("-p", "--pidfile", default=None)
    p.add_argument("--containerd", default=None,
                   help="address of a berth-containerd to use instead of starting one")
    p.add_argument("--cgroup-parent", default=d.cgroup_parent)
    p.add_argument("--default-runtime", default=d.default_runtime)
    p.add_argument("--add-runtime", action="append", default=[], metavar="NAME=PATH")
    p.add_argument("-D", "--debug", action="store_true", help="Enable debug mode")
    p.add_argument("-l", "--log-level", default=d.log_level,
                   help='Set the logging level ("debug"|"info"|"warn"|"error"|"fatal") (default "info")')
    p.add_argument("-b", "--bridge", default=d.bridge,
                   help='Attach containers to a network bridge ("none": no default bridge network)')
    p.add_argument("--bip", default=d.bip, help="Specify network bridge IP (CIDR)")
    p.add_argument("--default-address-pool", action="append", default=[], metavar="base=CIDR,size=N",
                   help="Default address pools for node specific local networks")
    p.add_argument("--veth-prefix", default=d.veth_prefix, help="prefix of the host-side veth names")
    p.add_argument("--nft-table", default=d.nft_table, help="berth's nftables table (ip family)")
    a = p.parse_args(argv)
    log_level = "debug" if a.debug else _LEVELS.get(a.log_level.lower())
    if log_level is None:
        p.error(f"invalid logging level: {a.log_level}")
    if not a.host.startswith("unix://"):
        p.error(f"only unix:// hosts are supported: {a.host}")
    runtimes: dict[str, str] = {}
    for item in a.add_runtime:
        name, eq, path = item.partition("=")
        if not eq or not name or not path:
            p.error(f"--add-runtime wants NAME=PATH: {item}")
        runtimes[name] = path
    try:
        pools = [_address_pool(v) for v in a.default_address_pool] or d.default_address_pools
    except ValueError as e:
        p.error(f"--default-address-pool: {e}")
    if not a.veth_prefix or len(a.veth_prefix) > 8:
        p.error("--veth-prefix: 1 to 8 characters")
    cfg = Config(host=a.host, data_root=os.path.abspath(a.data_root),
                 exec_root=os.path.abspath(a.exec_root), group=a.group, pidfile=a.pidfile,
                 containerd=a.containerd, cgroup_parent=a.cgroup_parent,
                 default_runtime=a.default_runtime, runtimes=runtimes,
                 log_level=log_level, bridge=a.bridge, bip=a.bip, default_address_pools=pools,
                 veth_prefix=a.veth_prefix, nft_table=a.nft_table)
    if cfg.default_runtime not in cfg.runtime_names():
        p.error(f"--default-runtime {cfg.default_runtime}: no such runtime (add it with --add-runtime)")
    return cfg


def _address_pool(value: str) -> tuple[str, int]:
    """dockerd's base=CIDR,size=N."""
    import ipaddress

    fields = dict(part.split("=", 1) for part in value.split(",") if "=" in part)
    if "base" not in fields or "size" not in fields:
        raise ValueError(f"invalid pool {value!r}: want base=CIDR,size=N")
    base, size = ipaddress.ip_network(fields["base"]), int(fields["size"])
    if base.version != 4 or not base.prefixlen <= size <= 30:
        raise ValueError(f"invalid pool {value!r}")
    return str(base), size


async def _serve(cfg: Config) -> None:
    import uvicorn
    from uvicorn.protocols.http.h11_impl import H11Protocol

    from . import app as app_module
    from .containers.service import Engine
    from .http import access, protocol, requestlog, versioning
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
    asgi = requestlog.log_requests(access.guard(versioning.strip_version(fastapi_app), cfg.group, gid))
    sock = access.listen_unix(cfg.socket_path, gid)
    server = uvicorn.Server(uvicorn.Config(
        asgi, http=protocol.make_protocol(H11Protocol, containers_router.hijacker(engine, gid)), lifespan="on",
        # uvicorn logs through berthd's handler (log_config=None); requests are logged
        # by requestlog, once each, instead of by uvicorn's access log.
        log_level=cfg.log_level, log_config=None, access_log=False, timeout_graceful_shutdown=5))
    ours = os.stat(cfg.socket_path).st_ino
    try:
        await server.serve(sockets=[sock])
    finally:
        # Only our own socket: a successor may already listen at the same path.
        try:
            if os.stat(cfg.socket_path).st_ino == ours:
                os.unlink(cfg.socket_path)
        except FileNotFoundError:
            pass


def main(argv: list[str] | None = None) -> None:
    cfg = parse_args(argv)
    if os.geteuid() != 0:
        sys.exit("berthd needs to be started as root")
    logging.basicConfig(level=cfg.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for chatty in ("asyncio", "grpc"):  # their debug is a line per call (grpc: "Loaded running loop")
        logging.getLogger(chatty).setLevel(max(logging.INFO, logging.getLogger().level))
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
