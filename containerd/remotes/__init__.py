"""Registries: the distribution spec's HTTP API over httpx (resolve, fetch, auth, TLS).

Pull uses it now; push will add uploads to the same Repository (same hosts,
same authorizer with a push scope, same error types).
"""

from .auth import AuthError, Credentials
from .fetch import Fetcher, FetchError
from .hosts import DEFAULT_CERTS_DIR, Hosts
from .media import MediaError, Platform, host_platform, parse_platform
from .registry import Manifest, RegistryError, Repository, TransportError

__all__ = ["AuthError", "Credentials", "DEFAULT_CERTS_DIR", "FetchError", "Fetcher", "Hosts", "Manifest",
           "MediaError", "Platform", "RegistryError", "Repository", "TransportError", "host_platform",
           "parse_platform"]
