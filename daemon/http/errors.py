"""Docker-shaped errors: an HTTP status and a {"message": ...} body."""

from __future__ import annotations

from berth.common import reference


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def no_such_container(ref: str) -> ApiError:
    return ApiError(404, f"No such container: {ref}")


def no_such_image(ref: str) -> ApiError:
    """docker's wording: the reference with its default tag made explicit; ids stay as given."""
    if not ref.startswith("sha256:"):
        try:
            ref = reference.normalize(ref)
        except reference.ReferenceError:
            pass
    return ApiError(404, f"No such image: {ref}")


def bad_request(message: str) -> ApiError:
    return ApiError(400, message)


def conflict(message: str) -> ApiError:
    return ApiError(409, message)
