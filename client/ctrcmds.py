"""berth pause, unpause, rename, restart, top, export, diff: one API call each, docker's output."""

from __future__ import annotations


from berth.client.api import Client
from berth.client.containers import for_each
from berth.client.flags import Parsed
from berth.client.main import Context


def _each(ctx: Context, parsed: Parsed, path: str, query: dict | None = None) -> int:
    def act(client: Client, name: str) -> str:
        client.post(f"/containers/{name}/{path}", query)
        return name

    return 1 if for_each(ctx, parsed.args, act) else 0


def cmd_pause(ctx: Context, parsed: Parsed) -> int:
    return _each(ctx, parsed, "pause")


def cmd_unpause(ctx: Context, parsed: Parsed) -> int:
    return _each(ctx, parsed, "unpause")


def cmd_restart(ctx: Context, parsed: Parsed) -> int:
    return _each(ctx, parsed, "restart", {"t": parsed.opts["timeout"], "signal": parsed.opts["signal"]})


def cmd_rename(ctx: Context, parsed: Parsed) -> int:
    old, new = parsed.args
    if not old.strip() or not new.strip():
        ctx.err("Error: Neither old nor new names may be empty\n")
        return 1
    from berth.client.api import DaemonError

    try:
        ctx.client().post(f"/containers/{old}/rename", {"name": new})
    except DaemonError as e:
        ctx.err(f"Error response from daemon: {e.message}\nError: failed to rename container named {old}\n")
        return 1
    return 0


def cmd_top(ctx: Context, parsed: Parsed) -> int:
    name, *ps_args = parsed.args
    query = {"ps_args": " ".join(ps_args)} if ps_args else None
    found = ctx.client().get(f"/containers/{name}/top", query)
    titles, rows = found.get("Titles") or [], found.get("Processes") or []
    # docker's tabwriter (minwidth 20, padding 3): the last column is not padded
    widths = [max([20, len(t) + 3] + [len(r[i]) + 3 for r in rows if i < len(r)]) for i, t in enumerate(titles)]
    out = []
    for cells in [titles, *rows]:
        padded = [c.ljust(widths[i]) if i < len(cells) - 1 else c for i, c in enumerate(cells)]
        out.append("".join(padded) + "\n")
    ctx.out("".join(out))
    return 0


def cmd_export(ctx: Context, parsed: Parsed) -> int:
    from berth.client.image_ops import save_stream

    (name,) = parsed.args
    return save_stream(ctx, parsed.opts["output"], f"/containers/{name}/export")


_KINDS = {0: "C", 1: "A", 2: "D"}


def cmd_diff(ctx: Context, parsed: Parsed) -> int:
    """docker diff: `C /tmp`, `A /tmp/x`, `D /etc/motd`, in the daemon's order (a walk of the tree)."""
    (name,) = parsed.args
    found = ctx.client().get(f"/containers/{name}/changes") or []
    ctx.out("".join(f"{_KINDS.get(c.get('Kind'), '')} {c.get('Path', '')}\n" for c in found))
    return 0
