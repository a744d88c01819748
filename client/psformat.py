"""`ps --filter`, `--format`, `-n`, `-l`, `-s`: the query docker's CLI sends, and its
formatter's placeholders ({{.ID}}, {{.Names}}, {{.Status}}, ...; `table` adds the header
row), rendered with client/template.py. Loaded only when one of them is given."""

from __future__ import annotations

from berth.client import format as fmt
from berth.client import jsontext
from berth.client import template
from berth.client.flags import UsageError

_HEADERS = {"ID": "CONTAINER ID", "Image": "IMAGE", "Command": "COMMAND", "CreatedAt": "CREATED AT",
            "RunningFor": "CREATED", "Ports": "PORTS", "State": "STATE", "Status": "STATUS", "Size": "SIZE",
            "Names": "NAMES", "Labels": "LABELS", "Mounts": "MOUNTS", "Networks": "NETWORKS"}
DEFAULT_TABLE = "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"


def query(opts: dict) -> dict:
    """GET /containers/json's query: -n/-l imply all, as the daemon applies them."""
    filters: dict[str, list[str]] = {}
    for item in opts.get("filter") or []:
        key, eq, value = item.partition("=")
        if not eq:
            raise UsageError(f"bad format of filter (expected name=value): {item}", 125)
        filters.setdefault(key, []).append(value)
    limit = 1 if opts.get("latest") else opts.get("last")
    # docker's CLI asks for sizes with -s and when the template uses {{.Size}}
    size = opts.get("size") or ".Size" in (opts.get("format") or "")
    return {"all": "1" if opts.get("all") else None, "limit": str(limit) if limit and limit > 0 else None,
            "size": "1" if size else None, "filters": jsontext.dumps(filters) if filters else None}


def _size(c: dict) -> str:
    """docker's SIZE: `12B (virtual 4.26MB)`, the virtual part only when the daemon gave one."""
    rw, root = c.get("SizeRw") or 0, c.get("SizeRootFs") or 0
    return f"{fmt.human_size(rw)} (virtual {fmt.human_size(root)})" if root > 0 else fmt.human_size(rw)


def fields(c: dict, trunc: bool) -> dict:
    labels = c.get("Labels") or {}
    command = c.get("Command", "")
    return {
        "ID": fmt.short_id(c.get("Id", "")) if trunc else c.get("Id", ""),
        "Image": fmt.image_column(c.get("Image", ""), c.get("ImageID", ""), trunc),
        "Command": fmt.go_quote(fmt.ellipsis(command, 20) if trunc else command),
        "CreatedAt": str(c.get("Created", "")),
        "RunningFor": fmt.ago(c.get("Created")),
        "Ports": fmt.ports_column(c.get("Ports") or []),
        "State": c.get("State", ""),
        "Status": c.get("Status", ""),
        "Size": _size(c),
        "Names": fmt.names_column(c.get("Names") or []),
        "Labels": ",".join(f"{k}={v}" for k, v in sorted(labels.items())),
        "Mounts": ",".join(m.get("Name") or m.get("Source", "") for m in c.get("Mounts") or []),
        "Networks": ",".join(sorted((c.get("NetworkSettings") or {}).get("Networks") or {})),
    }


def render(containers: list[dict], spec: str, trunc: bool, size: bool) -> str:
    if not spec or spec == "table":
        spec = DEFAULT_TABLE + ("\t{{.Size}}" if size else "")
    table = spec.startswith("table")
    body = spec[5:].lstrip() if table else spec
    body = body.replace("\\t", "\t").replace("\\n", "\n")
    try:
        template.check(body)
        lines = [template.render(body, fields(c, trunc)) for c in containers]
    except template.TemplateError as e:
        raise UsageError(f"template parsing error: {e}", 64 if not isinstance(e, template.ExecError) else 1) from None
    if not table:
        return "".join(line + "\n" for line in lines)
    header = body
    for key, title in _HEADERS.items():
        header = header.replace("{{.%s}}" % key, title)
    return fmt.table([header.split("\t"), *[line.split("\t") for line in lines]])
