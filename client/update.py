"""`berth update`: new limits (and restart policy) for one or more containers."""

from __future__ import annotations

from berth.client import limits
from berth.client.api import DaemonError
from berth.client.flags import Parsed

TYPE_CHECKING = False
if TYPE_CHECKING:
    from berth.client.main import Context


def cmd_update(ctx: Context, parsed: Parsed) -> int:
    body = limits.host_config(parsed.opts)
    if parsed.opts.get("restart"):
        try:
            body["RestartPolicy"] = limits.restart_policy(parsed.opts["restart"])
        except ValueError as e:
            ctx.err(f"{e}\n")
            return 1
    if not body:
        ctx.err("berth: you must provide one or more flags when using this command\n\n"
                "Usage:  berth update [OPTIONS] CONTAINER [CONTAINER...]\n\n"
                "Run 'berth update --help' for more information\n")
        return 1
    client = ctx.client()
    errors, warnings = [], []
    for name in parsed.args:
        try:
            answer = client.post(f"/containers/{name}/update", None, body)
        except DaemonError as e:
            errors.append(f"Error response from daemon: {e.message}")
            continue
        warnings += answer.get("Warnings") or []
        ctx.out(f"{name}\n")
    if warnings:
        ctx.out("\n".join(warnings) + "\n")
    if errors:
        ctx.err("\n".join(errors) + "\n")
        return 1
    return 0
