"""`build` and `commit`: images made from a Dockerfile or from a container's changes.

build sends the context directory as a tar (what .dockerignore excludes left out, the
Dockerfile and .dockerignore always in) to POST /build and prints docker's classic
builder output as it streams; commit is POST /commit.
"""

from __future__ import annotations

import os
import sys
from typing import Iterator

from berth.client.api import DaemonError
from berth.client.flags import Parsed

TYPE_CHECKING = False
if TYPE_CHECKING:
    from berth.client.main import Context


def cmd_commit(ctx: Context, parsed: Parsed) -> int:

    query: dict = {"container": parsed.args[0], "comment": parsed.opts["message"] or None,
                   "author": parsed.opts["author"] or None, "changes": parsed.opts["change"] or None,
                   "pause": "0" if parsed.opts["pause"] is False else "1"}
    if len(parsed.args) > 1:
        from berth.client.image_ops import tag_reference

        ref = tag_reference(ctx, parsed.args[1])
        if ref is None:
            return 1
        query["repo"], query["tag"] = ref.familiar_name, ref.tag or None
    answer = ctx.client().call("POST", "/commit", query, {})
    ctx.out(f"{answer['Id']}\n")
    return 0


def _context_tar(root: str, dockerfile: str) -> Iterator[bytes]:
    """The context directory as a tar stream, without what .dockerignore excludes."""
    import io
    import tarfile

    from berth.daemon.build.ignore import Matcher, read_patterns

    try:
        with open(os.path.join(root, ".dockerignore"), "rb") as f:
            patterns = read_patterns(f.read().decode(errors="replace"))
    except FileNotFoundError:
        patterns = []
    matcher = Matcher(patterns)
    keep = {dockerfile.lstrip("./"), ".dockerignore"}

    class _Out(io.RawIOBase):
        def __init__(self) -> None:
            self.parts: list[bytes] = []

        def writable(self) -> bool:
            return True

        def write(self, b) -> int:  # type: ignore[no-untyped-def,override]
            self.parts.append(bytes(b))
            return len(b)

    out = _Out()
    tar = tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT)  # type: ignore[arg-type]

    def flush() -> Iterator[bytes]:
        if out.parts:
            data = b"".join(out.parts)
            out.parts.clear()
            yield data

    for dirpath, dirs, files in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        rel_dir = "" if rel_dir == "." else rel_dir
        dirs.sort()
        for name in sorted(files) + [d for d in list(dirs) if os.path.islink(os.path.join(dirpath, d))]:
            rel = f"{rel_dir}/{name}" if rel_dir else name
            if rel not in keep and matcher.excluded(rel, False):
                continue
            tar.add(os.path.join(dirpath, name), rel, recursive=False)
            yield from flush()
        kept = []
        for d in dirs:
            rel = f"{rel_dir}/{d}" if rel_dir else d
            if os.path.islink(os.path.join(dirpath, d)):
                continue
            if matcher.excluded(rel, True) and not matcher.may_include_below(rel):
                continue
            if not matcher.excluded(rel, True):
                tar.add(os.path.join(dirpath, d), rel, recursive=False)
            kept.append(d)
        dirs[:] = kept
        yield from flush()
    tar.close()
    yield from flush()


def cmd_build(ctx: Context, parsed: Parsed) -> int:
    import json

    path = parsed.args[0]
    dockerfile = parsed.opts["file"] or "Dockerfile"
    if path == "-":
        body: Iterator[bytes] = iter(lambda: sys.stdin.buffer.read(1 << 20), b"")
    else:
        if not os.path.isdir(path):
            ctx.err(f"unable to prepare context: path {path!r} not found\n")
            return 1
        if parsed.opts["file"] and os.path.isabs(dockerfile):
            dockerfile = os.path.relpath(dockerfile, path)
        elif parsed.opts["file"]:
            dockerfile = os.path.relpath(os.path.join(os.getcwd(), dockerfile), os.path.abspath(path))
        body = _context_tar(path, dockerfile)
    args = {}
    for item in parsed.opts["build_arg"] or []:
        k, eq, v = item.partition("=")
        if eq:
            args[k] = v
        elif k in os.environ:
            args[k] = os.environ[k]
    labels = dict(item.partition("=")[::2] for item in parsed.opts["label"] or [])
    quiet = bool(parsed.opts["quiet"])
    query = {"t": parsed.opts["tag"] or None, "dockerfile": dockerfile, "buildargs": json.dumps(args),
             "labels": json.dumps(labels), "target": parsed.opts["target"] or None,
             "nocache": "1" if parsed.opts["no_cache"] else None, "pull": "1" if parsed.opts["pull"] else None,
             "q": "1" if quiet else None, "platform": parsed.opts["platform"] or None, "rm": "1"}
    stream = ctx.client().stream("POST", "/build", query, body, {"Content-Type": "application/x-tar"})
    image_id = ""
    held: list[str] = []  # -q: the daemon sends the build's output only before an error; docker prints it on stderr
    try:
        for msg in stream.json_messages():
            if msg.get("error"):
                ctx.err("".join(held) + f"{msg['error']}\n")
                return 1
            if isinstance(msg.get("aux"), dict) and msg["aux"].get("ID"):
                image_id = msg["aux"]["ID"]
            if quiet and msg.get("stream"):
                held.append(msg["stream"])
            elif msg.get("stream"):
                ctx.out(msg["stream"])
            elif msg.get("status"):
                ctx.out(msg["status"] + "\n")
    except DaemonError as e:
        ctx.err(f"Error response from daemon: {e.message}\n")
        return 1
    finally:
        stream.close()
    if quiet:
        ctx.out("".join(held))
        image_id = image_id or "".join(held).strip()
    if parsed.opts["iidfile"] and image_id:
        with open(parsed.opts["iidfile"], "w") as f:
            f.write(image_id)
    return 0
