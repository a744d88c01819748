"""`push` / `image push`: docker push, with docker's progress (see client/pull.py).

Without a tag the CLI pushes `latest` ("Using default tag: latest"), as docker's
does; `--all-tags` sends no tag, and the daemon pushes every local tag of the name.
"""

from __future__ import annotations

from berth.client.flags import Parsed
from berth.client.pull import PullError, _auth_header, _isatty, display

TYPE_CHECKING = False
if TYPE_CHECKING:
    from berth.client.main import Context


def cmd_push(ctx: Context, parsed: Parsed) -> int:
    from berth.common import reference

    image = parsed.args[0]
    try:
        ref = reference.parse(image)
    except reference.ReferenceError as e:
        ctx.err(f"invalid reference format: {e}\n" if "invalid reference format" not in str(e) else f"{e}\n")
        return 1
    quiet = bool(parsed.opts["quiet"])
    all_tags = bool(parsed.opts["all_tags"])
    if all_tags and (ref.tag or ref.digest):
        ctx.err("tag can't be used with --all-tags/-a\n")
        return 1
    if not all_tags and not ref.tag and not ref.digest:
        ref = ref.with_default_tag()
        if not quiet:
            ctx.out("Using default tag: latest\n")
    query = {"tag": None if all_tags else ref.tag}
    try:
        headers = _auth_header(str(ref)) or {"X-Registry-Auth": "e30="}  # config.json's login (credentials.py)
    except PullError as e:
        ctx.err(f"{e}\n")
        return 1
    stream = ctx.client().stream("POST", f"/images/{ref.familiar_name}/push", query, headers=headers)
    try:
        display(stream.json_messages(), (lambda _text: None) if quiet else ctx.out, _isatty(1) and not quiet)
    except PullError as e:
        ctx.err(f"{e}\n")
        return 1
    finally:
        stream.close()
    if quiet:
        ctx.out(f"{ref}\n")
    return 0
