"""Image commands past listing: tag, rmi / image rm, history, image prune."""

from __future__ import annotations

import sys

from berth.client import format as fmt
from berth.client.api import DaemonError
from berth.client.flags import Parsed

TYPE_CHECKING = False
if TYPE_CHECKING:
    from berth.client.main import Context
    from berth.common.reference import Reference


def tag_reference(ctx: Context, text: str) -> Reference | None:
    """REPO[:TAG] that tag and commit name (a digest refused), or None after docker's error."""
    from berth.common import reference

    try:
        ref = reference.parse(text)
    except reference.ReferenceError as e:
        ctx.err(f"{e}\n")
        return None
    if ref.digest:
        ctx.err("refusing to create a tag with a digest reference\n")
        return None
    return ref


def cmd_tag(ctx: Context, parsed: Parsed) -> int:

    source, target = parsed.args
    ref = tag_reference(ctx, target)
    if ref is None:
        return 1
    ctx.client().call("POST", f"/images/{source}/tag", {"repo": ref.familiar_name, "tag": ref.tag or "latest"})
    return 0


def cmd_rmi(ctx: Context, parsed: Parsed) -> int:
    """Each image in turn; the failures are reported and make the exit status 1, as docker's."""
    status = 0
    query = {"force": "1" if parsed.opts["force"] else None, "noprune": "1" if parsed.opts["no_prune"] else None}
    for image in parsed.args:
        try:
            records = ctx.client().call("DELETE", f"/images/{image}", query) or []
        except DaemonError as e:
            ctx.err(f"Error response from daemon: {e.message}\n")
            status = 1
            continue
        for rec in records:
            if rec.get("Untagged"):
                ctx.out(f"Untagged: {rec['Untagged']}\n")
            if rec.get("Deleted"):
                ctx.out(f"Deleted: {rec['Deleted']}\n")
    return status


def cmd_history(ctx: Context, parsed: Parsed) -> int:
    entries = ctx.client().get(f"/images/{parsed.args[0]}/history") or []
    trunc = not parsed.opts["no_trunc"]
    human = parsed.opts["human"] is not False
    if parsed.opts["quiet"]:
        ctx.out("".join((fmt.short_id(e["Id"]) if trunc and e["Id"] != "<missing>" else e["Id"]) + "\n"
                        for e in entries))
        return 0
    rows = [["IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"]]
    for e in entries:
        ident = e["Id"] if e["Id"] == "<missing>" or not trunc else fmt.short_id(e["Id"])
        created_by = " ".join(e.get("CreatedBy", "").split()) if trunc else e.get("CreatedBy", "")
        if trunc:
            created_by = fmt.ellipsis(created_by, 45)
        created = fmt.ago(e.get("Created")) if human else _rfc3339(e.get("Created") or 0)
        size = fmt.human_size(e.get("Size", 0)) if human else str(e.get("Size", 0))
        rows.append([ident, created, created_by, size, e.get("Comment", "")])
    ctx.out(fmt.table(rows))
    return 0


def _rfc3339(unix: int) -> str:
    import time

    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(unix))


def cmd_prune(ctx: Context, parsed: Parsed) -> int:
    import json

    filters: dict[str, list[str]] = {}
    for f in parsed.opts["filter"] or []:
        k, _, v = f.partition("=")
        filters.setdefault(k, []).append(v)
    if parsed.opts["all"]:
        filters["dangling"] = ["false"]
    if not parsed.opts["force"]:
        what = "all images without at least one container associated to them" if parsed.opts["all"] \
            else "all dangling images"
        ctx.out(f"WARNING! This will remove {what}.\nAre you sure you want to continue? [y/N] ")
        sys.stdout.flush()
        answer = sys.stdin.readline().strip().lower()
        if answer not in ("y", "yes"):
            return 0
    res = ctx.client().post("/images/prune", {"filters": json.dumps(filters) if filters else None}) or {}
    deleted = res.get("ImagesDeleted") or []
    if deleted:
        lines = ["Deleted Images:"]
        for rec in deleted:
            if rec.get("Untagged"):
                lines.append(f"untagged: {rec['Untagged']}")
            if rec.get("Deleted"):
                lines.append(f"deleted: {rec['Deleted']}")
        ctx.out("\n".join(lines) + "\n\n")
    ctx.out(f"Total reclaimed space: {fmt.human_size(res.get('SpaceReclaimed') or 0)}\n")
    return 0


def cmd_save(ctx: Context, parsed: Parsed) -> int:
    return save_stream(ctx, parsed.opts["output"], "/images/get", {"names": list(parsed.args)})


def save_stream(ctx: Context, out_path: str, path: str, query: dict | None = None) -> int:
    """A tar the daemon streams (save, export) into `out_path` (written whole, then renamed
    into place) or to stdout, which docker refuses to be a terminal."""
    import os

    if not out_path and os.isatty(1):
        ctx.err("cowardly refusing to save to a terminal. Use the -o flag or redirect\n")
        return 1
    stream = ctx.client().stream("GET", path, query)
    try:
        if out_path:
            tmp = out_path + ".tmp"
            with open(tmp, "wb") as f:
                for piece in stream:
                    f.write(piece)
            os.rename(tmp, out_path)
        else:
            sys.stdout.flush()
            for piece in stream:
                sys.stdout.buffer.write(piece)
            sys.stdout.buffer.flush()
    finally:
        stream.close()
    return 0


def cmd_load(ctx: Context, parsed: Parsed) -> int:
    from berth.client.images import _source

    path = parsed.opts["input"] or "-"
    if path == "-" and sys.stdin.isatty():
        ctx.err("requested load from stdin, but stdin is empty\n")
        return 1
    try:
        body, headers = _source(path)
    except OSError as e:
        ctx.err(f"open {path}: {(e.strerror or str(e)).lower()}\n")
        return 1
    stream = ctx.client().stream("POST", "/images/load", {"quiet": "1"}, body=body, headers=headers)
    try:
        for msg in stream.json_messages():
            if msg.get("error"):
                ctx.err(f"{msg['error']}\n")
                return 1
            if msg.get("stream"):
                ctx.out(msg["stream"])
    finally:
        stream.close()
    return 0
