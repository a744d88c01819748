"""`berth version` and `berth info`: what is running, on both ends of the socket."""

from __future__ import annotations

import os
import sys
import time

from berth.client.api import API_VERSION
from berth.client.flags import Parsed
from berth.client.format import parse_timestamp

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from berth.client.main import Context

_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386"}


def _kv(indent: str, rows: list[tuple[str, Any]]) -> list[str]:
    """docker's `label:<tab>value` block: values line up at column 20 (tabwriter minwidth)."""
    return [f"{(indent + label + ':'):<19} {value}".rstrip() if value != "" else f"{indent}{label}:"
            for label, value in rows]


def _client_lines() -> list[str]:
    from berth.client.main import CLIENT_VERSION

    machine = os.uname().machine
    arch = _ARCH.get(machine, machine)
    return ["Client:"] + _kv(" ", [
        ("Version", CLIENT_VERSION),
        ("API version", API_VERSION),
        ("Python version", sys.version.split()[0]),
        ("OS/Arch", f"linux/{arch}"),
        ("Context", "default"),
    ])


def _ansic(stamp: str) -> str:
    """Go's time.ANSIC ("Mon Jan  2 15:04:05 2006"), which docker uses for Built."""
    secs = parse_timestamp(stamp)
    if secs is None:
        return stamp
    t = time.gmtime(secs)
    return time.strftime("%a %b ", t) + f"{t.tm_mday:>2}" + time.strftime(" %H:%M:%S %Y", t)


def _server_lines(v: dict) -> list[str]:
    name = (v.get("Platform") or {}).get("Name", "")
    lines = ["Server:" + (f" {name}" if name else "")]
    components = v.get("Components") or [{"Name": "Engine", "Version": v.get("Version", ""), "Details": {
        "ApiVersion": v.get("ApiVersion", ""), "MinAPIVersion": v.get("MinAPIVersion", ""),
        "GitCommit": v.get("GitCommit", ""), "GoVersion": v.get("GoVersion", ""),
        "BuildTime": v.get("BuildTime", ""), "Os": v.get("Os", ""), "Arch": v.get("Arch", ""),
        "Experimental": v.get("Experimental", False)}}]
    for comp in components:
        details = comp.get("Details") or {}
        lines.append(f" {comp.get('Name', '')}:")
        if comp.get("Name") == "Engine":
            rows: list[tuple[str, Any]] = [
                ("Version", v.get("Version", comp.get("Version", ""))),
                ("API version", f"{details.get('ApiVersion', '')} (minimum version {details.get('MinAPIVersion', '')})"),
            ]
            for key, label in (("GoVersion", "Go version"), ("PythonVersion", "Python version")):
                if key in details:
                    rows.append((label, details[key]))
            rows += [
                ("Git commit", details.get("GitCommit", "")),
                ("Built", _ansic(details.get("BuildTime", ""))),
                ("OS/Arch", f"{details.get('Os', '')}/{details.get('Arch', '')}"),
                ("Experimental", str(details.get("Experimental", "false")).lower()),
            ]
        else:
            rows = [("Version", comp.get("Version", ""))] + [(k, details[k]) for k in details]
        lines += _kv("  ", rows)
    return lines


def cmd_version(ctx: Context, parsed: Parsed) -> int:
    """Client section first, always: it is what a user needs when the daemon is down."""
    ctx.out("\n".join(_client_lines()) + "\n")
    v = ctx.client().get("/version")  # a failure here is printed by main, after the Client part
    ctx.out("\n" + "\n".join(_server_lines(v)) + "\n")
    return 0


def _bytes_size(n: float) -> str:
    """go-units BytesSize: binary units, four significant digits (Total Memory)."""
    units = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB")
    i = 0
    while n >= 1024 and i < len(units) - 1:
        n /= 1024
        i += 1
    return "%.4g%s" % (n, units[i])


def _security_lines(options: list[str]) -> list[str]:
    """docker info's Security Options: each name, then its other keys as "Key: value"."""
    if not options:
        return []
    out = [" Security Options:"]
    for opt in options:
        fields = dict(kv.split("=", 1) for kv in opt.split(",") if "=" in kv)
        out.append(f"  {fields.pop('name', opt)}")
        out += [f"   {k.capitalize()}: {v}" for k, v in fields.items()]
    return out


def cmd_info(ctx: Context, parsed: Parsed) -> int:
    from berth.client.main import CLIENT_VERSION

    ctx.out(f"Client:\n Version:    {CLIENT_VERSION}\n Context:    default\n Debug Mode: false\n\nServer:\n")
    info = ctx.client().get("/info")
    g = info.get
    lines = [
        f" Containers: {g('Containers', 0)}",
        f"  Running: {g('ContainersRunning', 0)}",
        f"  Paused: {g('ContainersPaused', 0)}",
        f"  Stopped: {g('ContainersStopped', 0)}",
        f" Images: {g('Images', 0)}",
        f" Server Version: {g('ServerVersion', '')}",
        f" Storage Driver: {g('Driver', '')}",
    ]
    lines += [f"  {k}: {v}" for k, v in (g("DriverStatus") or [])]
    lines += [
        f" Logging Driver: {g('LoggingDriver', '')}",
        f" Cgroup Driver: {g('CgroupDriver', '')}",
        f" Cgroup Version: {g('CgroupVersion', '')}",
    ]
    runtimes = g("Runtimes") or {}
    if runtimes:
        lines.append(f" Runtimes: {' '.join(sorted(runtimes))}")
    lines.append(f" Default Runtime: {g('DefaultRuntime', '')}")
    lines += _security_lines(g("SecurityOptions") or [])
    lines += [
        f" Kernel Version: {g('KernelVersion', '')}",
        f" Operating System: {g('OperatingSystem', '')}",
        f" OSType: {g('OSType', '')}",
        f" Architecture: {g('Architecture', '')}",
        f" CPUs: {g('NCPU', 0)}",
        f" Total Memory: {_bytes_size(g('MemTotal', 0) or 0)}",
        f" Name: {g('Name', '')}",
        f" ID: {g('ID', '')}",
        f" Docker Root Dir: {g('DockerRootDir', '')}",
        f" Debug Mode: {str(g('Debug', False)).lower()}",
        f" Experimental: {str(g('ExperimentalBuild', False)).lower()}",
    ]
    reg = g("RegistryConfig") or {}
    if reg.get("InsecureRegistryCIDRs") or reg.get("IndexConfigs"):  # docker's order: names, then CIDRs
        lines.append(" Insecure Registries:")
        lines += [f"  {i['Name']}" for i in (reg.get("IndexConfigs") or {}).values() if not i.get("Secure")]
        lines += [f"  {cidr}" for cidr in reg.get("InsecureRegistryCIDRs") or []]
    if reg.get("Mirrors"):
        lines += [" Registry Mirrors:", *(f"  {m}" for m in reg["Mirrors"])]
    lines += [
        f" Live Restore Enabled: {str(g('LiveRestoreEnabled', False)).lower()}",
    ]
    ctx.out("\n".join(lines) + "\n\n")
    for warning in g("Warnings") or []:
        ctx.err(f"{warning}\n")
    return 0
