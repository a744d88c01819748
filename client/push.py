"""`push` / `image push`: docker push, with docker's progress (see client/pull.py).

Without a tag the CLI pushes `latest` ("Using default tag: latest"), as docker's
does; `--all-tags` sends no tag, and the daemon pushes every local tag of the name.
"""

from __future__ import annotations

from berth.client.flags import Parsed
from berth.client.pull import PullError, _auth_header, _isatty, display, transfer_reference

TYPE_CHECKING = False
if TYPE_CHECKING:
    from berth.client.main import Context


def cmd_push(ctx: Context, parsed: Parsed) -> int:
    all_tags = bool(parsed.opts["all_tags"])
    ref = transfer_reference(ctx, parsed.args[0], all_tags)
    if ref is None:
        return 1
    quiet = bool(parsed.opts["quiet"])
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
