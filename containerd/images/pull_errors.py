"""Why a pull failed, in dockerd's words (distribution/errors.go): the registry's own
error code and message, after the sentence docker puts before it."""

from __future__ import annotations

from berth.common.reference import Reference

from ..errors import BerthError, Internal, InvalidArgument, NotFound
from ..remotes import FetchError, MediaError, RegistryError, TransportError


def translate(e: Exception, ref: Reference) -> BerthError:
    """NOT_FOUND (berthd: 404) for what docker calls not found, INTERNAL (500) for the rest."""
    repo = ref.familiar_name
    if isinstance(e, RegistryError):
        if e.code == "DENIED":
            return NotFound(f"pull access denied for {repo}, repository does not exist or may require "
                            f"'docker login': {e}")
        if e.code == "MANIFEST_UNKNOWN" or (e.code == "NOT_FOUND" and e.status == 404):
            return NotFound(f"manifest for {ref.familiar()} not found: {e}")
        if e.code == "NAME_UNKNOWN":
            return NotFound(f"repository {repo} not found: {e}")
        return Internal(str(e))
    if isinstance(e, MediaError):
        return NotFound(str(e)) if str(e).startswith("no matching manifest") else InvalidArgument(str(e))
    if isinstance(e, (TransportError, FetchError)):
        return Internal(str(e))
    return Internal(f"pull {ref.familiar()}: {e}")

