"""`berth stats`: docker's live table of CPU, memory, network, block I/O and pids.

The numbers are computed as the docker CLI computes them from StatsJSON (its
calculateCPUPercentUnix, calculateMemUsageUnixNoCache, calculateBlockIO): CPU % is the
container's CPU time delta over the host's, times the online CPUs. Each container is
read on a connection of its own (a thread each), so one slow container delays no other.
The streaming table is redrawn in place: cursor home, each line cleared to its end,
the rest of the screen cleared once, all in one write (no blank frame, no flicker).
"""

from __future__ import annotations

import json
import sys
import threading
import time

from berth.client import format as fmt
from berth.client.api import Client, DaemonError
from berth.client.flags import Parsed

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from berth.client.main import Context

_BINARY = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB")
HEADERS = {"Container": "CONTAINER", "ID": "CONTAINER ID", "Name": "NAME", "CPUPerc": "CPU %",
           "MemUsage": "MEM USAGE / LIMIT", "MemPerc": "MEM %", "NetIO": "NET I/O", "BlockIO": "BLOCK I/O",
           "PIDs": "PIDS"}
DEFAULT_FORMAT = ("table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t"
                  "{{.BlockIO}}\t{{.PIDs}}")


def bytes_size(size: float) -> str:
    """go-units BytesSize: binary units, `%.4g`."""
    unit = 0
    while size >= 1024.0 and unit < len(_BINARY) - 1:
        size /= 1024.0
        unit += 1
    return "%.4g%s" % (size, _BINARY[unit])


def row(s: dict[str, Any], shown_as: str, trunc: bool) -> dict[str, str]:
    """One container's cells from its StatsJSON, as the docker CLI's stats formatter fills them."""
    cpu, pre = s.get("cpu_stats") or {}, s.get("precpu_stats") or {}
    cpu_delta = (cpu.get("cpu_usage") or {}).get("total_usage", 0) - (pre.get("cpu_usage") or {}).get("total_usage", 0)
    system_delta = cpu.get("system_cpu_usage", 0) - pre.get("system_cpu_usage", 0)
    cpus = cpu.get("online_cpus") or len((cpu.get("cpu_usage") or {}).get("percpu_usage") or [])
    cpu_percent = cpu_delta / system_delta * cpus * 100.0 if system_delta > 0 and cpu_delta > 0 else 0.0
    mem = s.get("memory_stats") or {}
    usage, raw = mem.get("usage", 0), mem.get("stats") or {}
    if "total_inactive_file" in raw and raw["total_inactive_file"] < usage:  # cgroup v1
        usage -= raw["total_inactive_file"]
    elif raw.get("inactive_file", usage) < usage:  # cgroup v2
        usage -= raw["inactive_file"]
    limit = mem.get("limit", 0)
    read = write = 0
    for entry in (s.get("blkio_stats") or {}).get("io_service_bytes_recursive") or []:
        op = (entry.get("op") or " ")[0].lower()
        if op == "r":
            read += entry.get("value", 0)
        elif op == "w":
            write += entry.get("value", 0)
    rx = sum(n.get("rx_bytes", 0) for n in (s.get("networks") or {}).values())
    tx = sum(n.get("tx_bytes", 0) for n in (s.get("networks") or {}).values())
    cid = s.get("id") or ""
    return {"Container": shown_as, "ID": cid[:12] if trunc else cid, "Name": (s.get("name") or "").lstrip("/"),
            "CPUPerc": "%.2f%%" % cpu_percent,
            "MemUsage": f"{bytes_size(usage)} / {bytes_size(limit)}",
            "MemPerc": "%.2f%%" % (usage / limit * 100.0 if limit else 0.0),
            "NetIO": f"{fmt.human_size(rx)} / {fmt.human_size(tx)}",
            "BlockIO": f"{fmt.human_size(read)} / {fmt.human_size(write)}",
            "PIDs": str((s.get("pids_stats") or {}).get("current", 0))}


def render(rows: list[dict[str, str]], template: str) -> str:
    """The table (a "table ..." template: headers, tab-aligned) or one line per container."""
    from berth.client.template import render as render_one

    if template == "json":
        return "".join(json.dumps(r) + "\n" for r in rows)
    if template.startswith("table"):
        body = template[len("table"):].strip() or DEFAULT_FORMAT[len("table "):]
        header = render_one(body, HEADERS).split("\t")
        return fmt.table([header] + [render_one(body, r).split("\t") for r in rows], padding=3)
    return "".join(render_one(template, r) + "\n" for r in rows)


class _Follower(threading.Thread):
    """Reads one container's stream; `latest` is its newest frame."""

    def __init__(self, host: str, name: str) -> None:
        super().__init__(daemon=True)
        self.host, self.name = host, name
        self.latest: dict[str, Any] | None = None
        self.error = ""
        self.done = False

    def run(self) -> None:
        try:
            stream = Client(self.host).stream("GET", f"/containers/{self.name}/stats", {"stream": "1"})
            for frame in stream.json_messages():
                self.latest = frame
        except (DaemonError, OSError) as e:
            self.error = getattr(e, "message", str(e))
        self.done = True


def _once(host: str, names: list[str]) -> tuple[list[dict[str, Any]], list[str]]:
    """stream=false for each container at once; frames in the order asked, and the errors."""
    out: list[Any] = [None] * len(names)

    def read(i: int, name: str) -> None:
        try:
            out[i] = Client(host).get(f"/containers/{name}/stats", {"stream": "0"})
        except DaemonError as e:
            out[i] = e

    threads = [threading.Thread(target=read, args=(i, n), daemon=True) for i, n in enumerate(names)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return ([o for o in out if isinstance(o, dict)],
            [f"Error response from daemon: {o.message}" for o in out if isinstance(o, DaemonError)])


def cmd_stats(ctx: Context, parsed: Parsed) -> int:
    o = parsed.opts
    template = (o.get("format") or DEFAULT_FORMAT).replace("\\t", "\t").replace("\\n", "\n")
    if template == "table":
        template = DEFAULT_FORMAT
    trunc = not o.get("no_trunc")
    client = ctx.client()
    names = list(parsed.args)
    listing = not names
    if listing:
        names = [c["Id"] for c in client.get("/containers/json", {"all": "1" if o.get("all") else "0"})]
    shown = {n: (n[:12] if listing and trunc else n) for n in names}
    if o.get("no_stream"):
        frames, errors = _once(ctx.host, names)
        for e in errors:
            ctx.err(e + "\n")
        if errors and not frames:
            return 1
        rows = [row(f, shown.get(f.get("id"), f.get("name", "").lstrip("/")), trunc) for f in frames]
        ctx.out(render(rows, template))
        return 1 if errors else 0
    return _follow(ctx, client, names, listing, bool(o.get("all")), template, trunc)


def _first_frames(followers: dict[str, _Follower], limit: float = 2.0) -> None:
    """A new container's row waits for its first frame (briefly), so no row starts empty."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline and any(f.latest is None and not f.done for f in followers.values()):
        time.sleep(0.02)


def _follow(ctx: Context, client: Client, names: list[str], listing: bool, all_: bool,
            template: str, trunc: bool) -> int:
    followers: dict[str, _Follower] = {}
    tty = sys.stdout.isatty()
    while True:
        if listing:
            names = [c["Id"] for c in client.get("/containers/json", {"all": "1" if all_ else "0"})]
        for n in names:
            if n not in followers or (followers[n].done and listing):
                followers[n] = _Follower(ctx.host, n)
                followers[n].start()
        if listing:
            for n in list(followers):
                if n not in names:
                    del followers[n]
        _first_frames(followers)
        failed = [f for f in followers.values() if f.done and f.error and not listing]
        if failed and len(failed) == len(followers):
            for f in failed:
                ctx.err(f"Error response from daemon: {f.error}\n")
            return 1
        rows = [row(f.latest, f.name[:12] if listing and trunc else f.name, trunc)
                for f in followers.values() if f.latest is not None]
        text = render(rows, template)
        if tty:
            # home, each line cleared after its text, then everything below: one write
            text = "\033[H" + "".join(line + "\033[K\n" for line in text.splitlines()) + "\033[J"
        ctx.out(text)
        time.sleep(1.0)
