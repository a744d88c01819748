"""berthd: the Docker Engine API daemon. Flags are named as dockerd's."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from typing import NoReturn

from berth.common.malloc import limit_arenas

from . import configfile
from .config import Config
from .system import activation
from .system.activation import ActivationError

# dockerd's levels (its log.SetLevel's) as Python's; trace is as far as debug goes here.
_LEVELS = {"trace": "debug", "debug": "debug", "info": "info", "warn": "warning", "warning": "warning",
           "error": "error", "fatal": "critical", "panic": "critical"}


class _Refusing(argparse.ArgumentParser):
    """A parser whose errors are raised (ValueError), not printed and exited on."""

    def error(self, message: str) -> NoReturn:
        raise ValueError(message)


def parse_args(argv: list[str] | None = None, refusing: bool = False) -> Config:
    """The flags and the file. `refusing` (a reload's): argparse's errors raise
    ValueError instead of printing the usage and exiting."""
    d = Config()  # the defaults live there
    parser = _Refusing if refusing else argparse.ArgumentParser
    p = parser(prog="berthd", description="berth's Docker Engine API daemon")
    p.add_argument("-H", "--host", action="append", default=[],
                   help="daemon socket to listen on (unix://PATH, fd:// from systemd, or tcp://HOST:PORT with --tlsverify)")
    p.add_argument("--data-root", default=d.data_root)
    p.add_argument("--exec-root", default=d.exec_root)
    p.add_argument("-G", "--group", default=d.group, help="group that may use the API socket")
    p.add_argument("-p", "--pidfile", default=None)
    p.add_argument("--containerd", default=None,
                   help="address of a berth-containerd to use instead of starting one")
    p.add_argument("--cgroup-parent", default=d.cgroup_parent)
    p.add_argument("--default-runtime", default=d.default_runtime)
    p.add_argument("--add-runtime", action="append", default=[], metavar="NAME=PATH")
    p.add_argument("--insecure-registry", action="append", default=[], metavar="HOST[:PORT]|CIDR",
                   help="a registry to reach over plain HTTP or unverified HTTPS (loopback always is)")
    p.add_argument("--registry-mirror", action="append", default=[], metavar="URL",
                   help="Preferred registry mirror (for docker.io images)")
    p.add_argument("--config-file", default=configfile.DEFAULT, help="Daemon configuration file")
    p.add_argument("--validate", action="store_true", help="Validate daemon configuration and exit")
    p.add_argument("-D", "--debug", action="store_true", help="Enable debug mode")
    p.add_argument("-l", "--log-level", default=d.log_level,
                   help='Set the logging level ("debug"|"info"|"warn"|"error"|"fatal") (default "info")')
    _security_flags(p)
    p.add_argument("-b", "--bridge", default=d.bridge,
                   help='Attach containers to a network bridge ("none": no default bridge network)')
    p.add_argument("--bip", default=d.bip, help="Specify network bridge IP (CIDR)")
    p.add_argument("--default-address-pool", action="append", default=[], metavar="base=CIDR,size=N",
                   help="Default address pools for node specific local networks")
    p.add_argument("--veth-prefix", default=d.veth_prefix, help="prefix of the host-side veth names")
    p.add_argument("--nft-table", default=d.nft_table, help="berth's nftables table (ip family)")
    p.add_argument("--init", action="store_true", help="Run an init in the containers to forward signals "
                                                       "and reap processes")
    p.add_argument("--init-path", default=d.init_path, help="Path to the docker-init binary")
    a = configfile.merge(p, argv)  # flags over daemon.json, dockerd's way (daemon/configfile.py)
    log_level = "debug" if a.debug else _LEVELS.get(a.log_level.lower())
    if log_level is None:
        p.error(f"invalid logging level: {a.log_level}")
    unix_host, fds, tls = _hosts(p, a, d.host)
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
    cfg = Config(host=unix_host, activation=fds, tls=tls, security=_security(p, a),
                 data_root=os.path.abspath(a.data_root),
                 exec_root=os.path.abspath(a.exec_root), group=a.group, pidfile=a.pidfile, config_file=a.config_file,
                 containerd=a.containerd, cgroup_parent=a.cgroup_parent,
                 default_runtime=a.default_runtime, runtimes=runtimes,
                 insecure_registries=_registries(a), registry_mirrors=_mirrors(a),
                 log_level=log_level, bridge=a.bridge, bip=a.bip, default_address_pools=pools,
                 veth_prefix=a.veth_prefix, nft_table=a.nft_table, init=a.init, init_path=a.init_path)
    if cfg.default_runtime not in cfg.runtime_names():
        p.error(f"--default-runtime {cfg.default_runtime}: no such runtime (add it with --add-runtime)")
    return cfg


def _registries(a: argparse.Namespace) -> list[str]:
    from .registry import settings

    try:
        return list(dict.fromkeys(settings.insecure_registry(r) for r in a.insecure_registry))
    except ValueError as e:
        sys.exit(f"failed to start daemon: {e}")


def _mirrors(a: argparse.Namespace) -> list[str]:
    from .registry import settings

    try:
        return settings.mirrors(a.registry_mirror)
    except ValueError as e:
        sys.exit(f"failed to start daemon: {e}")


def _security_flags(p: argparse.ArgumentParser) -> None:
    """dockerd's flags for TLS and for every container's confinement (daemon/security/)."""
    p.add_argument("--tlsverify", action="store_true", help="Use TLS and verify the remote")
    p.add_argument("--tls", action="store_true", help="Use TLS; implied by --tlsverify")
    p.add_argument("--tlscacert", default=None, help="Trust certs signed only by this CA")
    p.add_argument("--tlscert", default=None, help="Path to TLS certificate file")
    p.add_argument("--tlskey", default=None, help="Path to TLS key file")
    p.add_argument("--seccomp-profile", default="", help='Path to seccomp profile ("unconfined" to disable)')
    p.add_argument("--no-new-privileges", action="store_true", help="Set no-new-privileges by default for new containers")
    p.add_argument("--default-ulimit", action="append", default=[], metavar="NAME=SOFT[:HARD]",
                   help="Default ulimits for containers")
    p.add_argument("--userns-remap", default="", help="User/Group setting for user namespaces")


def _hosts(p: argparse.ArgumentParser, a: argparse.Namespace, default: str) -> tuple[str, list[str], object]:
    """At most one unix:// and one tcp:// host, the tcp one only with verified TLS; any
    fd:// hosts (systemd's sockets: daemon/system/activation.py)."""
    from .security import tls

    hosts = a.host or [default]
    unix = [h for h in hosts if h.startswith("unix://")]
    tcp = [h for h in hosts if h.startswith("tcp://")]
    fds = [h.removeprefix("fd://") for h in hosts if h.startswith("fd://")]
    other = [h for h in hosts if h not in unix and h not in tcp and not h.startswith("fd://")]
    if other or len(unix) > 1 or len(tcp) > 1:
        p.error(f"-H: one unix://PATH and one tcp://HOST:PORT at most, and fd://: {' '.join(hosts)}")
    settings = None
    if tcp:
        try:
            settings = tls.settings(tcp[0], a.tlsverify, a.tlscacert, a.tlscert, a.tlskey)
        except ValueError as e:
            p.error(str(e))
    return (unix[0] if unix else ""), fds, settings


def _security(p: argparse.ArgumentParser, a: argparse.Namespace) -> object:
    from .security import settings

    try:
        sec = settings.load(a.seccomp_profile, a.no_new_privileges, a.default_ulimit)
    except ValueError as e:
        p.error(str(e))
    sec.remap = _remap(a.userns_remap)
    return sec


def _remap(value: str) -> object:
    """--userns-remap (daemon/security/userns.py); dockerd's message and exit 1 when it cannot."""
    from .security import userns

    try:
        return userns.load(value)
    except ValueError as e:
        sys.exit(str(e))


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


async def _serve(cfg: Config, inherited: list, argv: list[str] | None) -> None:
    import uvicorn
    from uvicorn.protocols.http.h11_impl import H11Protocol

    from . import app as app_module
    from .containers.service import Engine
    from .http import access, protocol, requestlog, versioning
    from .libcontainerd import Containerd
    from .libcontainerd.supervisor import ManagedContainerd
    from .routers import containers as containers_router
    from .system import reload

    gid = access.ensure_group(cfg.group)
    managed = None
    if cfg.containerd is None:
        managed = ManagedContainerd(cfg)
        managed.start()
        managed.supervise()
    engine = Engine(cfg, Containerd(cfg.containerd_address))
    fastapi_app = app_module.build(engine, managed)
    asgi = requestlog.log_requests(access.guard(versioning.strip_version(fastapi_app), cfg.group, gid))
    http = protocol.make_protocol(H11Protocol, containers_router.hijacker(engine, gid))
    # uvicorn logs through berthd's handler (log_config=None); requests are logged
    # by requestlog, once each, instead of by uvicorn's access log.
    common = dict(http=http, log_level=cfg.log_level, log_config=None, access_log=False, timeout_graceful_shutdown=5)
    servers = []
    sockets = [access.listen_unix(cfg.socket_path, gid)] if cfg.socket_path else []
    for sock in inherited:
        logging.getLogger("berthd").info("API listen on %s", activation.path_of(sock) or f"fd {sock.fileno()}")
    if sockets or inherited:  # systemd's sockets (fd://) are served as berthd's own
        servers.append((uvicorn.Server(uvicorn.Config(asgi, lifespan="on", **common)), [*sockets, *inherited]))
    if cfg.tls is not None:
        servers.append(_tls_server(cfg, asgi, common, lifespan="off" if servers else "on"))
    ours = os.stat(cfg.socket_path).st_ino if cfg.socket_path else 0
    _quiet_signals()
    reload.on_sighup(argv, cfg, engine)  # SIGHUP: daemon.json again (daemon/system/reload.py)
    try:
        await _serve_all(servers)
    finally:
        # Only our own socket: a successor may already listen at the same path.
        try:
            if ours and os.stat(cfg.socket_path).st_ino == ours:
                os.unlink(cfg.socket_path)
        except FileNotFoundError:
            pass


def _tls_server(cfg: Config, asgi: object, common: dict, lifespan: str) -> tuple[object, object]:
    """The tcp:// listener: the same app, behind TLS that requires a CA-signed client certificate
    (uvicorn's ssl options apply to every socket of a server, so this is a server of its own)."""
    import ssl

    import uvicorn

    from .security import tls

    t = cfg.tls
    server = uvicorn.Server(uvicorn.Config(asgi, lifespan=lifespan, ssl_certfile=t.cert, ssl_keyfile=t.key,
                                           ssl_ca_certs=t.cacert, ssl_cert_reqs=ssl.CERT_REQUIRED, **common))
    return server, [tls.listen_tcp(t)]


async def _serve_all(servers: list) -> None:
    """Every listener until the first one stops (a signal stops them all: uvicorn's handlers)."""
    tasks = [asyncio.ensure_future(server.serve(sockets=socks)) for server, socks in servers]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for server, _ in servers:
            server.should_exit = True
        await asyncio.gather(*tasks, return_exceptions=True)


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
    if "--validate" in (sys.argv[1:] if argv is None else argv):
        print("configuration OK")  # dockerd's --validate: the flags and the file were read
        return
    if os.geteuid() != 0:
        sys.exit("berthd needs to be started as root")
    try:  # systemd's sockets first: nothing is started, and no file written, when they are missing
        inherited = activation.listeners(cfg.activation)
    except (ActivationError, OSError) as e:
        sys.exit(f"failed to load listeners: {e}")
    limit_arenas()
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
        asyncio.run(_serve(cfg, inherited, argv))
    finally:
        if cfg.pidfile:
            try:
                os.unlink(cfg.pidfile)
            except FileNotFoundError:
                pass
