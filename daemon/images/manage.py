"""docker images' filters, rmi, history and image prune, as dockerd answers them.

The rules about what an rmi may remove live in berth-containerd (it knows the
containers, the tasks and the layers); here are docker's shapes: the filters of
GET /images/json and POST /images/prune, the [{"Untagged"}, {"Deleted"}] list, the
history entries from the image config.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from berth.common import reference
from berth.common.timefmt import parse_rfc3339_nano

from ..http.errors import ApiError, bad_request, no_such_image
from ..libcontainerd import Containerd, ContainerdError, DeleteResult, Image
from ..events.log import EventLog
from . import events as image_events
from .service import resolve
from .views import repo_tags

_LIST_FILTERS = {"dangling", "reference", "before", "since", "label"}
_PRUNE_FILTERS = {"dangling", "until", "label", "label!"}


def go_match(pattern: str, text: str) -> bool:
    """Go's path.Match: `*` and `?` never cross a `/`; `[...]` classes; `\\` escapes."""
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            end = pattern.find("]", i + 1)
            if end < 0:
                return False  # ErrBadPattern: matches nothing
            body = pattern[i + 1:end]
            out.append("[" + ("^" + body[1:] if body.startswith("^") else body).replace("\\", "\\\\") + "]")
            i = end
        elif c == "\\" and i + 1 < len(pattern):
            i += 1
            out.append(re.escape(pattern[i]))
        else:
            out.append(re.escape(c))
        i += 1
    return re.fullmatch("".join(out), text) is not None


def _reference_matches(pattern: str, name: str) -> bool:
    """distribution's FamiliarMatch: the pattern against NAME:TAG, or against NAME."""
    try:
        ref = reference.parse(name)
    except reference.ReferenceError:
        return False
    return go_match(pattern, ref.familiar()) or go_match(pattern, ref.familiar_name)


def _one_bool(filters: dict[str, list[str]], key: str) -> bool | None:
    values = filters.get(key) or []
    if not values:
        return None
    v = values[-1].lower()
    if v in ("true", "1"):
        return True
    if v in ("false", "0"):
        return False
    raise bad_request(f"Invalid filter '{key}={values[-1]}'")


def _labels_match(labels: dict[str, str], wanted: list[str]) -> bool:
    for w in wanted:
        k, eq, v = w.partition("=")
        if k not in labels or (eq and labels[k] != v):
            return False
    return True


def _created(img: Image) -> int:
    try:
        return parse_rfc3339_nano(img.created or img.config.get("created") or "")
    except ValueError:
        return 0


def check_keys(filters: dict[str, list[str]], allowed: set[str]) -> None:
    for key in filters:
        if key not in allowed:
            raise bad_request(f"invalid filter '{key}'")


async def filter_images(ctrd: Containerd, images: list[Image], filters: dict[str, list[str]],
                        all_: bool = False) -> list[Image]:
    """GET /images/json's filters; `reference` also narrows the tags each image shows. An
    untagged image with children (a build step's) shows only with `all`, as dockerd's."""
    check_keys(filters, _LIST_FILTERS)
    dangling = _one_bool(filters, "dangling")
    parents = _parents(images)
    bounds = {}
    for key in ("before", "since"):
        for ref in filters.get(key) or []:
            bounds[key] = _created(await resolve(ctrd, ref))
    out = []
    for img in images:
        if dangling and (repo_tags(img) or img.id in parents):
            continue  # dangling: untagged, and no child
        if not img.names and (dangling is False or (not all_ and img.id in parents)):
            continue
        if "before" in bounds and _created(img) >= bounds["before"]:
            continue
        if "since" in bounds and _created(img) <= bounds["since"]:
            continue
        if not _labels_match((img.config.get("config") or {}).get("Labels") or {}, filters.get("label") or []):
            continue
        patterns = filters.get("reference") or []
        if patterns:
            kept = [n for n in img.names if any(_reference_matches(p, n) for p in patterns)]
            if not kept:
                continue
            img = dataclasses.replace(img, names=kept)
        out.append(img)
    return out


async def tag(ctrd: Containerd, events: EventLog, name: str, repo: str, tag: str) -> None:
    """POST /images/{name}/tag?repo=&tag=: another name for the image (docker's rules:
    no digest, `latest` when no tag is given)."""
    try:
        ref = reference.parse(repo)
        if tag:
            ref = reference.parse(f"{ref.name}:{tag}")
    except reference.ReferenceError as e:
        raise bad_request(str(e)) from None
    if ref.digest:
        raise bad_request("refusing to create a tag with a digest reference")
    img = await resolve(ctrd, name)
    new_name = ref.with_default_tag().familiar()
    await ctrd.tag_image(img.id, new_name)
    image_events.tagged(events, img.id, new_name)


def _parents(images: list[Image]) -> set[str]:
    """The ids of the images another one was committed over."""
    return {i.parent for i in images if i.parent}


async def delete(ctrd: Containerd, events: EventLog, name: str, force: bool,
                 noprune: bool = False) -> list[dict[str, str]]:
    image_id = (await resolve(ctrd, name)).id
    try:
        res = await ctrd.delete_image(name, force, noprune)
    except ContainerdError as e:
        if e.not_found:
            raise no_such_image(name) from None
        raise
    image_events.removed(events, image_id, res)
    return records(res)


def records(res: DeleteResult) -> list[dict[str, str]]:
    return ([{"Untagged": u} for u in res.untagged] + [{"Deleted": d} for d in res.deleted]
            + [{"Deleted": d} for d in res.layers])


def history(img: Image, layer_sizes: list[int], ancestors: list[Image] | None = None) -> list[dict[str, Any]]:
    """The config's history, newest first; each entry that made a layer gets its size.
    The newest entry carries the image's id and tags, the next ones those of its parents
    (`ancestors`, nearest first: a build's steps), the rest `<missing>` (dockerd's answer
    for layers that have no image of their own)."""
    entries = img.config.get("history") or [{"created": img.created} for _ in img.layers]
    out: list[dict[str, Any]] = []
    layer = 0
    for h in entries:
        size = 0
        if not h.get("empty_layer"):
            size = layer_sizes[layer] if layer < len(layer_sizes) else 0
            layer += 1
        try:
            created = parse_rfc3339_nano(h.get("created") or "") // 1_000_000_000
        except ValueError:
            created = 0
        out.append({"Comment": h.get("comment", ""), "Created": created, "CreatedBy": h.get("created_by", ""),
                    "Id": "<missing>", "Size": size, "Tags": None})
    out.reverse()
    for entry, owner in zip(out, [img, *(ancestors or [])], strict=False):
        entry["Id"] = owner.id
        entry["Tags"] = repo_tags(owner) or None
    return out


async def ancestors(ctrd: Containerd, img: Image) -> list[Image]:
    """The image's parents, nearest first, as far as they are still here."""
    out: list[Image] = []
    parent = img.parent
    while parent and len(out) < len(img.config.get("history") or []):
        try:
            out.append(await ctrd.get_image(parent))
        except ContainerdError:
            break
        parent = out[-1].parent
    return out


async def prune(ctrd: Containerd, filters: dict[str, list[str]], in_use: set[str]) -> dict[str, Any]:
    """POST /images/prune: dangling images (untagged, no child), or, dangling=false, every
    image no container uses; an untagged image with a child goes only with its last child
    (berth-containerd prunes a deleted image's untagged parents). Then the blobs and layers
    nothing references."""
    check_keys(filters, _PRUNE_FILTERS)
    dangling = _one_bool(filters, "dangling")
    dangling = True if dangling is None else dangling
    until = _until(filters.get("until") or [])
    deleted: list[dict[str, str]] = []
    reclaimed = 0
    images = await ctrd.list_images()
    parents = _parents(images)
    for img in images:
        if img.id in in_use or (dangling and repo_tags(img)):
            continue
        if img.id in parents and (dangling or not img.names):
            continue
        if until is not None and _created(img) >= until:
            continue
        labels = (img.config.get("config") or {}).get("Labels") or {}
        if not _labels_match(labels, filters.get("label") or []):
            continue
        if any(_labels_match(labels, [w]) for w in filters.get("label!") or []):
            continue
        for ref in [n for n in img.names if "@" not in n] or [img.id]:
            try:
                res = await ctrd.delete_image(ref, False)
            except ApiError:
                break  # docker skips an image it cannot delete (a conflict) and goes on
            deleted += records(res)
            reclaimed += res.reclaimed
    _, freed = await ctrd.collect_garbage()
    return {"ImagesDeleted": deleted or None, "SpaceReclaimed": reclaimed + freed}


def _until(values: list[str]) -> int | None:
    """`until`: a unix timestamp, an RFC 3339 time, or a Go duration before now (10m, 1h30m)."""
    if not values:
        return None
    import time

    v = values[-1]
    if re.fullmatch(r"[0-9]+(\.[0-9]+)?", v):
        return int(float(v) * 1e9)
    m = re.fullmatch(r"((?:[0-9.]+(?:h|m|s|ms|us|ns))+)", v)
    if m:
        units = {"h": 3600, "m": 60, "s": 1, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}
        secs = sum(float(n) * units[u] for n, u in re.findall(r"([0-9.]+)(h|ms|us|ns|m|s)", v))
        return int((time.time() - secs) * 1e9)
    try:
        return parse_rfc3339_nano(v)
    except ValueError:
        raise bad_request(f"invalid filter 'until={v}'") from None
