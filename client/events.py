"""`berth events`: the daemon's event stream, in docker's line format or a --format template."""

from __future__ import annotations

import json
import time

from berth.client.flags import Parsed

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from berth.client.main import Context


def line(msg: dict[str, Any]) -> str:
    """`2006-01-02T15:04:05.000000000+01:00 container start ID (k=v, ...)`, local time."""
    ns = msg.get("timeNano") or (msg.get("time") or 0) * 1_000_000_000
    secs, frac = divmod(ns, 1_000_000_000)
    local = time.localtime(secs)
    zone = time.strftime("%z", local)
    zone = "Z" if zone in ("+0000", "-0000") else f"{zone[:3]}:{zone[3:]}"
    out = f"{time.strftime('%Y-%m-%dT%H:%M:%S', local)}.{frac:09d}{zone} "
    actor = msg.get("Actor") or {}
    out += f"{msg.get('Type', '')} {msg.get('Action', '')} {actor.get('ID', '')}"
    attrs = actor.get("Attributes") or {}
    if attrs:
        out += " (" + ", ".join(f"{k}={attrs[k]}" for k in sorted(attrs)) + ")"
    return out


def _template_data(msg: dict[str, Any]) -> dict[str, Any]:
    """events.Message with its Go field names (what a --format template sees)."""
    return {"Status": msg.get("status", ""), "ID": msg.get("id", ""), "From": msg.get("from", ""),
            "Type": msg.get("Type", ""), "Action": msg.get("Action", ""), "Actor": msg.get("Actor") or {},
            "Scope": msg.get("scope", ""), "Time": msg.get("time", 0), "TimeNano": msg.get("timeNano", 0)}


def cmd_events(ctx: Context, parsed: Parsed) -> int:
    o = parsed.opts
    filters: dict[str, dict[str, bool]] = {}
    for item in o.get("filter") or []:
        key, eq, value = item.partition("=")
        if not eq:
            ctx.err(f'invalid argument "{item}" for "-f, --filter" flag: bad format of filter (expected name=value)\n')
            return 125
        filters.setdefault(key.strip().lower(), {})[value] = True
    query: dict[str, str] = {}
    for key in ("since", "until"):
        if o.get(key):
            query[key] = o[key]
    if filters:
        query["filters"] = json.dumps(filters)
    template = (o.get("format") or "").replace("\\t", "\t").replace("\\n", "\n")
    if template and template != "json":
        from berth.client.template import TemplateError, check

        try:
            check(template)
        except TemplateError as e:
            ctx.err(f"template parsing error: {e}\n")
            return 64
    stream = ctx.client().stream("GET", "/events", query)
    try:
        for msg in stream.json_messages():
            if template == "json":
                ctx.out(json.dumps(msg) + "\n")
            elif template:
                from berth.client.template import render

                ctx.out(render(template, _template_data(msg)) + "\n")
            else:
                ctx.out(line(msg) + "\n")
    finally:
        stream.close()
    return 0
