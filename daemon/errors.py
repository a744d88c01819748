"""Docker-shaped errors: an HTTP status and a {"message": ...} body."""

from __future__ import annotations


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def no_such_container(ref: str) -> ApiError:
    return ApiError(404, f"No such container: {ref}")


def no_such_image(ref: str) -> ApiError:
    return ApiError(404, f"No such image: {normalize_ref(ref)}")


def bad_request(message: str) -> ApiError:
    return ApiError(400, message)


def conflict(message: str) -> ApiError:
    return ApiError(409, message)


def normalize_ref(ref: str) -> str:
    """busybox -> busybox:latest; ids and digests stay as they are (docker's wording)."""
    if ref.startswith("sha256:") or "@" in ref:
        return ref
    last = ref.rsplit("/", 1)[-1]
    return ref if ":" in last else f"{ref}:latest"
