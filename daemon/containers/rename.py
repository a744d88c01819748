"""docker rename: the name index changes in one step on the loop (no await between the
check and the swap), the record is saved, the network's view of the name follows."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..http.errors import ApiError, bad_request, conflict
from . import names
from .store import Container

if TYPE_CHECKING:
    from .service import Engine


def rename(engine: Engine, c: Container, new: str) -> None:
    if not new:
        raise bad_request("Neither old nor new names may be empty")
    full = new if new.startswith("/") else "/" + new
    old = c.name
    if full == old:
        raise bad_request("Renaming a container with the same name as its current name")
    if c.state.status in ("removing", "dead"):
        raise conflict("Can't rename container which is dead or marked for removal")
    try:
        names.validate(full)
        engine.store.check_name(full)
    except ApiError as e:
        raise ApiError(e.status, f"Error when allocating new name: {e.message}") from None
    engine.store.rename(c, full)
    engine.events.container(c, "rename", oldName=old)
