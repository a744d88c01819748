"""Image commands: images / image ls, image import, image inspect."""

from __future__ import annotations

import os
import sys

from berth.client import format as fmt
from berth.client.containers import inspect_each
from berth.client.flags import Parsed

TYPE_CHECKING = False
if TYPE_CHECKING:
    from berth.client.main import Context


def familiar(ref: str) -> str:
    """The name docker prints when it looks for an image: busybox → busybox:latest.
    (berth.common.reference loads `re`: only the paths that name an image pay for it.)"""
    from berth.common import reference

    try:
        return reference.normalize(ref)
    except reference.ReferenceError:
        return ref


def cmd_images(ctx: Context, parsed: Parsed) -> int:
    query = {"all": "1" if parsed.opts["all"] else None}
    filters: dict[str, dict[str, bool]] = {}
    for f in parsed.opts["filter"] or []:
        key, eq, value = f.partition("=")
        if not eq:
            ctx.err("bad format of filter (expected name=value)\n")
            return 125
        filters.setdefault(key.strip().lower(), {})[value] = True
    if parsed.args:
        filters.setdefault("reference", {})[parsed.args[0]] = True
    if filters:
        from berth.client import jsontext

        query["filters"] = jsontext.dumps(filters)
    images = ctx.client().get("/images/json", query) or []
    images = sorted(images, key=lambda i: i.get("Created", 0), reverse=True)
    trunc = not parsed.opts["no_trunc"]
    if parsed.opts["quiet"]:
        seen: list[str] = []
        for img in images:
            ident = fmt.short_id(img["Id"]) if trunc else img["Id"]
            if ident not in seen:
                seen.append(ident)
        ctx.out("".join(i + "\n" for i in seen))
        return 0
    ctx.out(fmt.table(fmt.image_rows(images, trunc, digests=bool(parsed.opts["digests"]))))
    return 0


def _source(path: str) -> tuple[object, dict[str, str]]:
    """The tarball as a request body: a file with its length, or stdin streamed chunked."""
    if path == "-":
        def chunks():
            while True:
                data = sys.stdin.buffer.read1(65536)
                if not data:
                    return
                yield data
        return chunks(), {"Content-Type": "application/x-tar"}
    f = open(path, "rb")
    size = os.fstat(f.fileno()).st_size

    def blocks():
        with f:
            while data := f.read(65536):
                yield data
    return blocks(), {"Content-Type": "application/x-tar", "Content-Length": str(size)}


def cmd_import(ctx: Context, parsed: Parsed) -> int:
    src = parsed.args[0]
    if "://" in src:
        ctx.err("importing from a URL is not supported by berth yet; download the file and import it\n")
        return 1
    from berth.common.reference import split_tag

    repo, tag = split_tag(parsed.args[1]) if len(parsed.args) > 1 else ("", "")
    try:
        body, headers = _source(src)
    except OSError as e:
        ctx.err(f"open {src}: {(e.strerror or str(e)).lower()}\n")
        return 1
    query = {"fromSrc": "-", "repo": repo or None, "tag": tag or None,
             "message": parsed.opts["message"], "changes": parsed.opts["change"] or None}
    stream = ctx.client().stream("POST", "/images/create", query, body=body, headers=headers)
    try:
        for msg in stream.json_messages():
            if msg.get("error"):
                ctx.err(f"{msg['error']}\n")
                return 1
            if msg.get("status"):
                ctx.out(f"{msg['status']}\n")
    finally:
        stream.close()
    return 0


def cmd_image_inspect(ctx: Context, parsed: Parsed) -> int:
    return inspect_each(ctx, parsed, ("/images/{}/json",), "Error response from daemon: {message}")
