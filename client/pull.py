"""`pull` / `image pull`, and the pull that `run` and `create` make for a missing image.

The progress is docker's (pkg/jsonmessage): on a terminal, one line per layer,
rewritten in place with ANSI cursor moves as its status changes; otherwise plain
lines, with the progress bars left out. The daemon's messages are shown as they
arrive; an error inside the stream ends the pull with that error.
"""

from __future__ import annotations

import os

from berth.client.api import Client, DaemonError
from berth.client.flags import Parsed

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from berth.client.main import Context
    from berth.common.reference import Reference


class PullError(Exception):
    """An error the daemon reported inside the progress stream (after the pull began)."""


def query_for(image: str, platform: str | None, all_tags: bool = False) -> tuple[dict, str]:
    """docker's ImagePull query (fromImage = familiar name, tag = tag or digest; no tag
    at all for --all-tags) and the fully qualified reference docker prints at the end."""
    from berth.common import reference

    if all_tags:
        ref = reference.parse(image)
        return {"fromImage": ref.familiar_name, "platform": platform or None}, ref.name
    ref = reference.parse(image).with_default_tag()
    query = {"fromImage": ref.familiar_name, "tag": ref.digest or ref.tag, "platform": platform or None}
    return query, str(ref)


def _progress_text(msg: dict) -> str:
    """jsonmessage's JSONProgress.String() is the daemon's "progress" field, as sent."""
    return msg.get("progress") or ""


def display(messages: Iterable[dict], write: Callable[[str], None], tty: bool) -> None:
    """DisplayJSONMessagesStream: a line per id that has progress, updated in place on a tty."""
    ids: dict[str, int] = {}
    for msg in messages:
        if "aux" in msg and not msg.get("status"):
            continue  # for the program, not the screen (push's {Tag, Digest, Size})
        if msg.get("error") or msg.get("errorDetail"):
            raise PullError(msg.get("error") or (msg.get("errorDetail") or {}).get("message") or "pull failed")
        has_progress = "progressDetail" in msg or "progress" in msg
        ident = msg.get("id") or ""
        diff = 0
        if ident and has_progress:
            if ident not in ids:
                ids[ident] = len(ids)
                if tty:
                    write("\n")
            diff = len(ids) - ids[ident]
            if tty:
                write(f"\x1b[{diff}A")
        else:
            ids = {}  # anything else starts a new block: old lines are not updated any more
        _line(msg, write, tty, has_progress)
        if ident and tty and diff:
            write(f"\x1b[{diff}B")


def _line(msg: dict, write: Callable[[str], None], tty: bool, has_progress: bool) -> None:
    endl = ""
    if tty and has_progress:
        write("\x1b[2K\r")
        endl = "\r"
    elif has_progress and _progress_text(msg):
        return  # a bar means nothing without a terminal
    text = f"{msg['id']}: " if msg.get("id") else ""
    status = msg.get("status") or ""
    if has_progress and tty:
        write(f"{text}{status} {_progress_text(msg)}{endl}")
    else:
        write(f"{text}{status}{endl}\n")


def pull(client: Client, image: str, platform: str | None, write: Callable[[str], None], tty: bool,
         quiet: bool = False, all_tags: bool = False) -> str:
    """Pull `image`, showing the progress (unless quiet); returns its qualified name."""
    query, full = query_for(image, platform, all_tags)
    stream = client.stream("POST", "/images/create", query, headers=_auth_header(full))
    finished = []

    def watched() -> Iterable[dict]:
        for msg in stream.json_messages():
            if str(msg.get("status", "")).startswith("Status: "):
                finished.append(msg)
            yield msg

    try:
        display(watched(), (lambda _text: None) if quiet else write, tty and not quiet)
    finally:
        stream.close()
    if not finished:  # the daemon went away in the middle (docker's decoder says the same)
        raise PullError("unexpected EOF")
    return full


def _auth_header(full: str) -> dict[str, str]:
    """X-Registry-Auth for the registry of `full`, from the docker CLI's config.json
    (client/credentials.py); none when there are no credentials for it."""
    from berth.client import credentials

    try:
        return credentials.auth_header(full.split("/", 1)[0])
    except credentials.CredentialsError as e:
        raise PullError(str(e)) from None


def _isatty(fd: int) -> bool:
    try:
        return os.isatty(fd)
    except OSError:
        return False


def transfer_reference(ctx: Context, image: str, all_tags: bool) -> Reference | None:
    """The reference pull and push name, or None after docker's error for it."""
    from berth.common import reference

    try:
        ref = reference.parse(image)
    except reference.ReferenceError as e:
        ctx.err(f"invalid reference format: {e}\n" if "invalid reference format" not in str(e) else f"{e}\n")
        return None
    if all_tags and (ref.tag or ref.digest):
        ctx.err("tag can't be used with --all-tags/-a\n")
        return None
    return ref


def cmd_pull(ctx: Context, parsed: Parsed) -> int:
    image = parsed.args[0]
    all_tags = bool(parsed.opts["all_tags"])
    ref = transfer_reference(ctx, image, all_tags)
    if ref is None:
        return 1
    quiet = bool(parsed.opts["quiet"])
    if not ref.tag and not ref.digest and not quiet and not all_tags:
        ctx.out("Using default tag: latest\n")
    try:
        full = pull(ctx.client(), image, parsed.opts["platform"], ctx.out, _isatty(1), quiet, all_tags)
    except PullError as e:
        ctx.err(f"{e}\n")
        return 1
    ctx.out(f"{full}\n")
    return 0


def pull_for_run(ctx: Context, client: Client, image: str, platform: str | None = None) -> None:
    """run/create: the progress goes to stderr, as docker's does; a stream error is a DaemonError."""
    try:
        pull(client, image, platform, ctx.err, _isatty(2))
    except PullError as e:
        raise DaemonError(500, str(e)) from None
