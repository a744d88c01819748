"""Errors of the lifecycle service, each carrying the gRPC status it maps to.

The service layer raises these; only the gRPC layer (server.py) knows about grpc,
so the subsystems stay importable without it.
"""

from __future__ import annotations


class BerthError(Exception):
    """Base class; `code` names a grpc.StatusCode member."""

    code = "INTERNAL"


class NotFound(BerthError):
    code = "NOT_FOUND"


class AlreadyExists(BerthError):
    code = "ALREADY_EXISTS"


class FailedPrecondition(BerthError):
    code = "FAILED_PRECONDITION"


class InvalidArgument(BerthError):
    code = "INVALID_ARGUMENT"


class Internal(BerthError):
    code = "INTERNAL"


class Unauthenticated(BerthError):
    """A registry refused the credentials (berthd answers 401, as dockerd does for a login)."""

    code = "UNAUTHENTICATED"
