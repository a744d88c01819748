"""docker's image events, logged where dockerd logs them: by the API operation that did
the work (containerd's own image events say create/update/delete, which cannot tell a
pull from a load or a commit). The actors and names are Debian's dockerd 20.10's:
pull and push name the reference, the others the image id (tag: the new name)."""

from __future__ import annotations

from berth.common import reference

from ..events.log import EventLog
from ..libcontainerd import DeleteResult


def _by_reference(events: EventLog, action: str, ref: str) -> None:
    try:
        parsed = reference.parse(ref).with_default_tag()
    except reference.ReferenceError:
        return
    events.publish("image", action, parsed.familiar(), {"name": parsed.familiar_name})


def pulled(events: EventLog, ref: str) -> None:
    _by_reference(events, "pull", ref)


def pushed(events: EventLog, ref: str) -> None:
    _by_reference(events, "push", ref)


def by_id(events: EventLog, action: str, image_id: str) -> None:
    """save, load, import, delete, untag: the id is the actor and the name."""
    events.publish("image", action, image_id, {"name": image_id})


def tagged(events: EventLog, image_id: str, name: str) -> None:
    events.publish("image", "tag", image_id, {"name": name})


def removed(events: EventLog, image_id: str, res: DeleteResult) -> None:
    """An untag for each name removed, then a delete for each image removed (dockerd's order).

    A tag's repo digest (NAME@sha256:...) goes with it, as an `Untagged:` line of its own,
    but dockerd logs one untag for the two."""
    names = [n for n in res.untagged if "@" not in n] or res.untagged[:1]
    for _ in names:
        by_id(events, "untag", image_id)
    for deleted in res.deleted:
        by_id(events, "delete", deleted)
