"""Registry mirrors (berthd's --registry-mirror), as dockerd uses them: for a docker.io
repository, each mirror in turn, then Docker Hub itself. Any failure of a mirror falls
through to the next endpoint (dockerd's continueOnError for mirrors); the registry's
own error is the one that is reported. Pushes and logins never go to a mirror."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import TypeVar

from berth.common.reference import DEFAULT_DOMAIN, Reference

from .auth import AuthError, Credentials
from .hosts import Hosts
from .registry import RegistryError, Repository, TransportError

log = logging.getLogger("berth.containerd.remotes")
T = TypeVar("T")


def repositories(hosts: Hosts, ref: Reference, creds: Credentials) -> Iterator[Repository]:
    """Where a pull of `ref` may come from, in the order to try them."""
    if ref.domain == DEFAULT_DOMAIN:
        for mirror in hosts.mirrors:
            yield Repository(hosts, ref, creds, mirror=mirror)
    yield Repository(hosts, ref, creds)


def first(hosts: Hosts, ref: Reference, creds: Credentials, fn: Callable[[Repository], T]) -> tuple[Repository, T]:
    """`fn` on the first endpoint that answers it, and that endpoint (the rest of a pull
    reads its blobs from the same place)."""
    for repo in repositories(hosts, ref, creds):
        if not repo.mirror:
            return repo, fn(repo)
        try:
            return repo, fn(repo)
        except (RegistryError, TransportError, AuthError) as e:
            log.info("mirror %s: %s: %s; trying the next endpoint", repo.mirror, ref.name, e)
    raise AssertionError("unreachable: the registry itself is always the last endpoint")
