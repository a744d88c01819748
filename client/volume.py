"""`berth volume create|ls|inspect|rm|prune`, with docker's output."""

from __future__ import annotations

import json

from berth.client import format as fmt
from berth.client.api import DaemonError
from berth.client.flags import Parsed

TYPE_CHECKING = False
if TYPE_CHECKING:
    from berth.client.main import Context

_HEADERS = {"Name": "VOLUME NAME", "Driver": "DRIVER", "Scope": "SCOPE", "Mountpoint": "MOUNTPOINT",
            "Labels": "LABELS", "Links": "LINKS", "Size": "SIZE"}


def _pairs(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        key, _, value = item.partition("=")
        out[key] = value
    return out


def _filters(items: list[str]) -> str | None:
    wanted: dict[str, dict[str, bool]] = {}
    for item in items:
        key, _, value = item.partition("=")
        wanted.setdefault(key, {})[value] = True
    return json.dumps(wanted) if wanted else None


def _error(ctx: Context, e: DaemonError) -> int:
    ctx.err(f"Error response from daemon: {e.message}\n")
    return 1


def cmd_create(ctx: Context, parsed: Parsed) -> int:
    o = parsed.opts
    name = parsed.args[0] if parsed.args else o.get("name") or ""
    if parsed.args and o.get("name") and o["name"] != parsed.args[0]:
        ctx.err("berth: conflicting options: either specify --name or provide positional arg, not both\n")
        return 1
    body = {"Name": name, "Driver": o.get("driver") or "local", "DriverOpts": _pairs(o.get("opt") or []),
            "Labels": _pairs(o.get("label") or [])}
    try:
        v = ctx.client().post("/volumes/create", None, body)
    except DaemonError as e:
        return _error(ctx, e)
    ctx.out(v["Name"] + "\n")
    return 0


def _row(v: dict) -> dict:
    labels = ",".join(f"{k}={val}" for k, val in sorted((v.get("Labels") or {}).items()))
    return {**v, "Labels": labels, "Links": "N/A", "Size": "N/A"}


def cmd_ls(ctx: Context, parsed: Parsed) -> int:
    o = parsed.opts
    try:
        vols = ctx.client().get("/volumes", {"filters": _filters(o.get("filter") or [])}).get("Volumes") or []
    except DaemonError as e:
        return _error(ctx, e)
    vols = sorted(vols, key=lambda v: v["Name"])
    form = o.get("format") or ""
    if o.get("quiet"):
        ctx.out("".join(v["Name"] + "\n" for v in vols))
    elif form == "json":
        ctx.out("".join(json.dumps(_row(v), separators=(",", ":")) + "\n" for v in vols))
    elif form and form != "table":
        from berth.client import template

        table = form.startswith("table")
        body = (form[5:].strip() if table else form).replace("\\t", "\t")
        try:
            lines = [template.render(body, _row(v)) for v in vols]
        except template.TemplateError as e:
            ctx.err(f"template parsing error: {e}\n")
            return 64
        if table:
            header = body
            for key, title in _HEADERS.items():
                header = header.replace("{{.%s}}" % key, title)
            ctx.out(fmt.table([header.split("\t")] + [line.split("\t") for line in lines]))
        else:
            ctx.out("".join(line + "\n" for line in lines))
    else:
        ctx.out(fmt.table([["DRIVER", "VOLUME NAME"]] + [[v["Driver"], v["Name"]] for v in vols]))
    return 0


def cmd_inspect(ctx: Context, parsed: Parsed) -> int:
    client, found, status = ctx.client(), [], 0
    for name in parsed.args:
        try:
            found.append(client.get(f"/volumes/{name}"))
        except DaemonError as e:
            ctx.err(f"Error: No such volume: {name}\n" if e.status == 404 else
                    f"Error response from daemon: {e.message}\n")
            status = 1
    form = parsed.opts.get("format")
    if form:
        from berth.client import template

        ctx.out("".join(template.render(form, v) + "\n" for v in found))
    else:
        ctx.out(json.dumps(found, indent=4) + "\n")
    return status


def cmd_rm(ctx: Context, parsed: Parsed) -> int:
    client, status = ctx.client(), 0
    for name in parsed.args:
        try:
            client.call("DELETE", f"/volumes/{name}", {"force": "1" if parsed.opts.get("force") else None})
            ctx.out(name + "\n")
        except DaemonError as e:
            ctx.err(f"Error response from daemon: {e.message}\n")
            status = 1
    return status


def cmd_prune(ctx: Context, parsed: Parsed) -> int:
    o = parsed.opts
    items = list(o.get("filter") or []) + (["all=true"] if o.get("all") else [])
    if not o.get("force"):
        what = "all local volumes not used by at least one container" if o.get("all") else \
            "all anonymous local volumes not used by at least one container"
        ctx.out(f"WARNING! This will remove {what}.\nAre you sure you want to continue? [y/N] ")
        import sys

        if sys.stdin.readline().strip().lower() not in ("y", "yes"):
            return 0
    try:
        result = ctx.client().post("/volumes/prune", {"filters": _filters(items)}, None)
    except DaemonError as e:
        return _error(ctx, e)
    gone = result.get("VolumesDeleted") or []
    if gone:
        ctx.out("Deleted Volumes:\n" + "".join(n + "\n" for n in gone) + "\n")
    ctx.out(f"Total reclaimed space: {fmt.human_size(result.get('SpaceReclaimed') or 0)}\n")
    return 0
