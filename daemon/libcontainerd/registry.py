"""berth-containerd's registry calls (Images.Login, Resolve, ListTags) as plain values:
a mixin of Containerd, which owns the channel and its error translation."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

from berth.proto import containerd_pb2 as pb

from .types import RegistryAuth

_TIMEOUT = 120.0  # a registry that takes its time is not a berth-containerd that does not answer


@dataclass
class Platform:
    architecture: str = ""
    os: str = ""
    os_version: str = ""
    os_features: list[str] = field(default_factory=list)
    variant: str = ""


@dataclass
class Resolved:
    media_type: str
    digest: str
    size: int
    platforms: list[Platform]


def _auth(a: RegistryAuth) -> pb.RegistryAuth:
    return pb.RegistryAuth(username=a.username, password=a.password, identity_token=a.identity_token,
                           registry_token=a.registry_token)


class RegistryClient:
    _images: Any  # Containerd's stub and its error-translating call
    _call: Callable[[str, Awaitable[Any]], Awaitable[Any]]

    async def login(self, server: str, auth: RegistryAuth, insecure: list[str]) -> str:
        """docker login's check on the registry; the identity token it gave, or ""."""
        resp = await self._call("login", self._images.Login(
            pb.LoginRequest(server=server, auth=_auth(auth), insecure_registries=insecure),
            wait_for_ready=True, timeout=_TIMEOUT))
        return resp.identity_token

    async def resolve(self, ref: str, auth: RegistryAuth, insecure: list[str], mirrors: list[str]) -> Resolved:
        resp = await self._call(f"resolve {ref}", self._images.Resolve(
            pb.ResolveRequest(ref=ref, auth=_auth(auth), insecure_registries=insecure, mirrors=mirrors),
            wait_for_ready=True, timeout=_TIMEOUT))
        return Resolved(resp.media_type, resp.digest, resp.size, [
            Platform(p.architecture, p.os, p.os_version, list(p.os_features), p.variant) for p in resp.platforms])

    async def list_tags(self, ref: str, auth: RegistryAuth, insecure: list[str], mirrors: list[str]) -> list[str]:
        resp = await self._call(f"tags of {ref}", self._images.ListTags(
            pb.ResolveRequest(ref=ref, auth=_auth(auth), insecure_registries=insecure, mirrors=mirrors),
            wait_for_ready=True, timeout=_TIMEOUT))
        return list(resp.tags)
