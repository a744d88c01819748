"""/_ping, /version, /info."""

from __future__ import annotations

import os
import platform

from fastapi import APIRouter, Request, Response

from ..config import API_VERSION, ENGINE_VERSION, MIN_API_VERSION
from ..images import service as images
from ..kernel import cgroup_v2
from ..registry import settings as registry
from ..security.settings import security_options
from .models import errors

router = APIRouter(tags=["System"])
_SERVER_ERROR = errors({500: "server error"})

_PING_HEADERS = {"API-Version": API_VERSION, "OSType": "linux", "Docker-Experimental": "false",
                 "Cache-Control": "no-cache, no-store, must-revalidate", "Pragma": "no-cache"}
_PING_RESPONSES = {
    200: {"description": "no error",
          "content": {"text/plain": {"schema": {"type": "string", "example": "OK"}}},
          "headers": {name: {"schema": {"type": "string"}} for name in _PING_HEADERS}},
    **_SERVER_ERROR,
}


@router.get("/_ping", responses=_PING_RESPONSES)
async def ping() -> Response:
    return Response("OK", media_type="text/plain; charset=utf-8", headers=_PING_HEADERS)


@router.head("/_ping", responses=_PING_RESPONSES)
async def ping_head() -> Response:
    return Response(b"", media_type="text/plain; charset=utf-8", headers=_PING_HEADERS)


def _arch() -> str:
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())


@router.get("/version", responses=_SERVER_ERROR)
async def version() -> dict:
    details = {"ApiVersion": API_VERSION, "Arch": _arch(), "BuildTime": "", "Experimental": "false",
               "GitCommit": "", "GoVersion": "python" + platform.python_version(),
               "KernelVersion": platform.release(), "MinAPIVersion": MIN_API_VERSION, "Os": "linux"}
    return {
        "Platform": {"Name": "berth"},
        "Components": [{"Name": "Engine", "Version": ENGINE_VERSION, "Details": details}],
        "Version": ENGINE_VERSION, "ApiVersion": API_VERSION, "MinAPIVersion": MIN_API_VERSION,
        "GitCommit": "", "GoVersion": details["GoVersion"], "Os": "linux", "Arch": _arch(),
        "KernelVersion": platform.release(), "BuildTime": "",
    }


def _os_name() -> str:
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return "Linux"


def _mem_total() -> int:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    return 0


@router.get("/info", responses=_SERVER_ERROR)
async def info(request: Request) -> dict:
    engine = request.app.state.engine
    cfg = engine.config
    containers = list(engine.store.by_id.values())
    running = sum(1 for c in containers if c.state.running)
    imgs = await images.list_images(engine.ctrd)
    v2 = cgroup_v2()
    return {
        "ID": "", "Containers": len(containers), "ContainersRunning": running,
        "ContainersPaused": 0, "ContainersStopped": len(containers) - running,
        "Images": len(imgs), "Driver": "overlayfs", "DriverStatus": [],
        "Plugins": {"Volume": [], "Network": ["null"], "Authorization": None, "Log": ["json-file"]},
        "MemoryLimit": True, "SwapLimit": True, "CpuCfsPeriod": True, "CpuCfsQuota": True,
        "CPUShares": True, "CPUSet": True, "PidsLimit": True, "IPv4Forwarding": False,
        "Debug": cfg.log_level == "debug", "NFd": len(os.listdir("/proc/self/fd")),
        "OomKillDisable": False, "NGoroutines": 0, "SystemTime": "", "LoggingDriver": "json-file",
        "CgroupDriver": "cgroupfs", "CgroupVersion": "2" if v2 else "1",
        "NEventsListener": 0, "KernelVersion": platform.release(), "OperatingSystem": _os_name(),
        "OSVersion": "", "OSType": "linux", "Architecture": platform.machine(),
        "IndexServerAddress": registry.INDEX_SERVER, "NCPU": os.cpu_count() or 1,
        "RegistryConfig": registry.registry_config(cfg.insecure_registries, cfg.registry_mirrors),
        "MemTotal": _mem_total(), "GenericResources": None, "DockerRootDir": cfg.data_root,
        "HttpProxy": "", "HttpsProxy": "", "NoProxy": "", "Name": platform.node(), "Labels": [],
        "ExperimentalBuild": False, "ServerVersion": ENGINE_VERSION,
        "Runtimes": {n: {"path": cfg.runtimes.get(n, "berth-runc")} for n in cfg.runtime_names()},
        "DefaultRuntime": cfg.default_runtime,
        "Swarm": {"NodeID": "", "NodeAddr": "", "LocalNodeState": "inactive", "ControlAvailable": False,
                  "Error": "", "RemoteManagers": None},
        "LiveRestoreEnabled": True, "Isolation": "", "InitBinary": "",
        "ContainerdCommit": {"ID": ""}, "RuncCommit": {"ID": ""}, "InitCommit": {"ID": ""},
        "SecurityOptions": security_options(cfg.security) + (["name=cgroupns"] if v2 else []),
        "Warnings": None,
    }
