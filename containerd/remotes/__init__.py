"""Registries: the distribution spec's HTTP API over httpx (resolve, fetch, upload,
auth, TLS). Pull and push share one Repository type (hosts, authorizer, errors);
push asks for the repository's "pull,push" scope and uses upload.py."""

from .auth import AuthError, Credentials
from .fetch import Fetcher, FetchError
from .hosts import DEFAULT_CERTS_DIR, Hosts
from .media import MediaError, Platform, host_platform, parse_platform
from . import upload
from .registry import Manifest, RegistryError, Repository, TransportError

__all__ = ["AuthError", "Credentials", "DEFAULT_CERTS_DIR", "FetchError", "Fetcher", "Hosts", "Manifest",
           "MediaError", "Platform", "RegistryError", "Repository", "TransportError", "host_platform",
           "parse_platform", "upload"]
