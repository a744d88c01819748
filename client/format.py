"""How the docker CLI turns API values into text: durations, sizes, ids, tables.

Users read `berth ps` and `berth images` next to `docker ps` and scripts parse
both, so every rule here copies the docker CLI (and its go-units helpers)
exactly, including its rounding and its odd cases.
"""

from __future__ import annotations

import time

from berth.client import jsontext
from berth.common.humanize import human_duration

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

ELLIPSIS = "\u2026"
_SIZE_UNITS = ("B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB")


def human_size(size: float, precision: int = 3) -> str:
    """go-units HumanSizeWithPrecision: decimal units, `%.3g` like docker's SIZE column."""
    unit = 0
    while size >= 1000.0 and unit < len(_SIZE_UNITS) - 1:
        size /= 1000.0
        unit += 1
    return "%.*g%s" % (precision, size, _SIZE_UNITS[unit])


def parse_timestamp(text: str) -> float | None:
    """Seconds since the epoch of an RFC 3339 timestamp; None for Go's zero time or junk."""
    if not text or text.startswith("0001-01-01"):
        return None
    offset = 0
    body = text
    try:
        if body.endswith("Z"):
            body = body[:-1]
        elif len(body) > 6 and body[-6] in "+-" and body[-3] == ":":
            sign = 1 if body[-6] == "+" else -1
            offset = sign * (int(body[-5:-3]) * 3600 + int(body[-2:]) * 60)
            body = body[:-6]
        base, _, frac = body.partition(".")
        date, _, clock = base.partition("T")
        year, month, day = (int(x) for x in date.split("-"))
        hour, minute, second = (int(x) for x in clock.split(":"))
    except ValueError:
        return None
    secs = _days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second
    return secs - offset + (float("0." + frac) if frac.isdigit() else 0.0)


def _days_from_civil(y: int, m: int, d: int) -> int:
    """Days since 1970-01-01 (Hinnant's algorithm): calendar.timegm without importing calendar."""
    y -= m <= 2
    era = (y if y >= 0 else y - 399) // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def ago(then: float | None, now: float | None = None) -> str:
    """"3 minutes ago" from epoch seconds, as docker's CREATED columns print it."""
    if then is None or then <= 0:
        return "N/A"
    if now is None:
        now = time.time()
    return human_duration(now - then) + " ago"


def container_status(state: dict, now: float | None = None) -> str:
    """Docker's State.String(): the STATUS column, for daemons that do not send it."""
    if now is None:
        now = time.time()
    started = parse_timestamp(state.get("StartedAt", ""))
    finished = parse_timestamp(state.get("FinishedAt", ""))
    if state.get("Running"):
        up = human_duration(now - (started or now))
        if state.get("Paused"):
            return f"Up {up} (Paused)"
        if state.get("Restarting"):
            return f"Restarting ({state.get('ExitCode', 0)}) {human_duration(now - (finished or now))} ago"
        return f"Up {up}"
    if state.get("Dead"):
        return "Dead"
    if started is None:
        return "Created"
    if finished is None:
        return ""
    return f"Exited ({state.get('ExitCode', 0)}) {human_duration(now - finished)} ago"


def short_id(ident: str) -> str:
    """stringid.TruncateID: drop the algorithm prefix, keep 12 hex digits."""
    _, _, rest = ident.rpartition(":")
    return rest[:12]


def ellipsis(text: str, width: int) -> str:
    """Cut to `width` characters, the last one an ellipsis, as docker's COMMAND column."""
    if len(text) <= width:
        return text
    return text[: width - 1] + ELLIPSIS


def go_quote(text: str) -> str:
    """strconv.Quote, near enough: a double-quoted string with Go-style escapes."""
    return jsontext.dumps(text, ensure_ascii=False)


def table(rows: Sequence[Sequence[str]], minwidth: int = 10, padding: int = 3) -> str:
    """Lay out cells like Go's tabwriter as docker configures it (minwidth 10, padding 3).

    Every column but the last is padded to its widest cell plus `padding`, never
    narrower than `minwidth`; the last column is written as is, so lines carry no
    trailing blanks.
    """
    if not rows:
        return ""
    ncols = max(len(r) for r in rows)
    widths = [0] * ncols
    for row in rows:
        for i, cell in enumerate(row[:-1]):
            widths[i] = max(widths[i], len(cell) + padding, minwidth)
    lines = []
    for row in rows:
        cells = [cell.ljust(widths[i]) for i, cell in enumerate(row[:-1])]
        lines.append("".join(cells) + (row[-1] if row else ""))
    return "\n".join(lines) + "\n"


def image_column(image: str, image_id: str, trunc: bool) -> str:
    """The IMAGE column of `ps`: the name as given, or a short id when it was given by id."""
    if not image:
        return "<no image>"
    if trunc and short_id(image_id) == short_id(image):
        return short_id(image)
    return image


def names_column(names: Iterable[str]) -> str:
    """Container names without docker's leading slash; link aliases (a/b) are left out."""
    return ",".join(n[1:] for n in names if n.startswith("/") and "/" not in n[1:])


def ports_column(ports: Iterable[dict]) -> str:
    """Published ports, "0.0.0.0:8080->80/tcp", or the exposed "80/tcp" when unpublished."""
    out = []
    for p in ports:
        proto = p.get("Type", "tcp")
        if p.get("PublicPort"):
            ip = p.get("IP", "")
            host = f"[{ip}]" if ":" in ip else ip
            out.append(f"{host}:{p['PublicPort']}->{p.get('PrivatePort')}/{proto}")
        else:
            out.append(f"{p.get('PrivatePort')}/{proto}")
    return ", ".join(out)


def ps_rows(containers: Iterable[dict], trunc: bool = True, now: float | None = None) -> list[list[str]]:
    """The table `docker ps` prints, header first, from GET /containers/json."""
    rows = [["CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"]]
    for c in containers:
        command = c.get("Command", "")
        status = c.get("Status")
        if status is None:
            status = c.get("State", "") if isinstance(c.get("State"), str) else ""
        rows.append([
            short_id(c.get("Id", "")) if trunc else c.get("Id", ""),
            image_column(c.get("Image", ""), c.get("ImageID", ""), trunc),
            go_quote(ellipsis(command, 20) if trunc else command),
            ago(c.get("Created"), now),
            status,
            ports_column(c.get("Ports") or []),
            names_column(c.get("Names") or []),
        ])
    return rows


def image_rows(images: Iterable[dict], trunc: bool = True, now: float | None = None,
               digests: bool = False) -> list[list[str]]:
    """The table `docker images` prints: one row per tag, `<none>` for untagged images;
    with `digests`, a DIGEST column (the repository's digest, or `<none>`)."""
    head = ["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"]
    rows = [head[:2] + ["DIGEST"] + head[2:] if digests else head]
    for img in images:
        image_id = img.get("Id", "")
        ident = short_id(image_id) if trunc else image_id
        created = ago(img.get("Created"), now)
        size = human_size(img.get("Size", 0))
        by_repo: dict[str, str] = {}
        for d in img.get("RepoDigests") or []:
            if d != "<none>@<none>":
                repo, _, digest = d.partition("@")
                by_repo.setdefault(repo, digest)
        tags = [t for t in (img.get("RepoTags") or []) if t != "<none>:<none>"]
        entries = []
        for tag in tags:
            repo, _, name = tag.rpartition(":")
            if "/" in name:  # a registry port, not a tag
                repo, name = tag, "<none>"
            entries.append((repo, name))
        if not tags:
            entries = [(repo, "<none>") for repo in by_repo] or [("<none>", "<none>")]
        for repo, name in entries:
            row = [repo, name, ident, created, size]
            if digests:
                row.insert(2, by_repo.get(repo, "<none>"))
            rows.append(row)
    return rows
