"""Container commands that only ask and tell: ps, logs, stop, kill, rm, wait, inspect.

(`run`, `create` and `start`, which wire up a container's output, are in run.py.)
"""

from __future__ import annotations

from berth.client.api import Client, DaemonError
from berth.client.flags import Parsed

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from berth.client.main import Context


def for_each(ctx: Context, names: list[str], action: Callable[[Client, str], str | None]) -> list[str]:
    """Run `action` on every name; print what it returns, print each error; return the failures.

    docker carries on past a container that fails and reports each failure, so
    `berth rm a b` removes b even when a does not exist.
    """
    client = ctx.client()
    failed = []
    for name in names:
        try:
            shown = action(client, name)
        except DaemonError as e:
            ctx.err(f"Error response from daemon: {e.message}\n")
            failed.append(name)
            continue
        if shown is not None:
            ctx.out(f"{shown}\n")
    return failed


def cmd_ps(ctx: Context, parsed: Parsed) -> int:
    o = parsed.opts
    extra = bool(o.get("filter") or o.get("format") or o.get("last") or o.get("latest") or o.get("size"))
    if extra:  # --filter, --format, -n, -l, -s: client/psformat.py
        from berth.client import psformat

        query = psformat.query(o)
    else:
        query = {"all": "1" if o["all"] else None}
    answer = ctx.client().start_request("GET", "/containers/json", query)
    from berth.client import format as fmt  # loads while the daemon works on the answer

    containers = answer.result()
    trunc = not o["no_trunc"]
    if o["quiet"]:
        ctx.out("".join((fmt.short_id(c["Id"]) if trunc else c["Id"]) + "\n" for c in containers))
        return 0
    if extra:
        ctx.out(psformat.render(containers, o.get("format") or "", trunc, bool(o.get("size"))))
        return 0
    ctx.out(fmt.table(fmt.ps_rows(containers, trunc)))
    return 0


def cmd_logs(ctx: Context, parsed: Parsed) -> int:
    from berth.client import streams

    o = parsed.opts
    query = {"stdout": "1", "stderr": "1", "follow": "1" if o["follow"] else None,
             "timestamps": "1" if o["timestamps"] else None, "tail": o["tail"], "since": o["since"]}
    stream = ctx.client().stream("GET", f"/containers/{parsed.args[0]}/logs", query)
    try:
        streams.copy(stream, streams.write_stream, streams.multiplexed_from(stream.content_type))
    except streams.StreamError as e:
        ctx.err(f"Error: {e}\n")
        return 1
    finally:
        stream.close()
    return 0


def cmd_stop(ctx: Context, parsed: Parsed) -> int:
    query = {"t": parsed.opts["timeout"], "signal": parsed.opts["signal"]}

    def stop(client: Client, name: str) -> str:
        client.post(f"/containers/{name}/stop", query)
        return name

    return 1 if for_each(ctx, parsed.args, stop) else 0


def cmd_kill(ctx: Context, parsed: Parsed) -> int:
    query = {"signal": parsed.opts["signal"]}

    def kill(client: Client, name: str) -> str:
        client.post(f"/containers/{name}/kill", query)
        return name

    return 1 if for_each(ctx, parsed.args, kill) else 0


def cmd_rm(ctx: Context, parsed: Parsed) -> int:
    query = {"force": "1" if parsed.opts["force"] else None, "v": "1" if parsed.opts["volumes"] else None}

    def rm(client: Client, name: str) -> str:
        client.call("DELETE", f"/containers/{name}", query)
        return name

    return 1 if for_each(ctx, parsed.args, rm) else 0


def cmd_wait(ctx: Context, parsed: Parsed) -> int:
    condition = parsed.opts["condition"]
    query = {"condition": condition} if condition else None

    def wait(client: Client, name: str) -> str:
        result = client.post(f"/containers/{name}/wait", query) or {}
        error = (result.get("Error") or {}).get("Message")
        if error:
            raise DaemonError(500, error)
        return str(result.get("StatusCode", 0))

    return 1 if for_each(ctx, parsed.args, wait) else 0


def print_json(ctx: Context, values: list) -> None:
    """docker's inspect output: a JSON array indented by four spaces."""
    import json  # inspect only: ps and run do without json's import

    ctx.out(json.dumps(values, indent=4, ensure_ascii=False) + "\n")


def inspect_each(ctx: Context, parsed: Parsed, paths: tuple[str, ...], missing: str) -> int:
    """Look each name up at each path in turn; print what was found, then what was not."""
    names, fmt = parsed.args, parsed.opts.get("format") or ""
    if fmt and fmt != "json":
        from berth.client.template import TemplateError, check

        try:
            check(fmt)
        except TemplateError as e:
            ctx.err(f"template parsing error: {e}\n")
            return 64
    client = ctx.client()
    found, errors = [], []
    for name in names:
        last: DaemonError | None = None
        for path in paths:
            try:
                found.append(client.get(path.format(name)))
                last = None
                break
            except DaemonError as e:
                last = e
                if e.status != 404:
                    break
        if last is not None:
            errors.append(missing.format(name=name, message=last.message) if last.status == 404
                          else f"Error response from daemon: {last.message}")
    if fmt and fmt != "json":
        from berth.client.template import TemplateError, render

        for obj in found:
            try:
                ctx.out(render(fmt, obj) + "\n")
            except TemplateError as e:
                ctx.out("\n")  # docker ends the object's line before it reports
                ctx.err(f"template parsing error: {e}\n")
                return 1
    else:
        print_json(ctx, found)
    for error in errors:
        ctx.err(f"{error}\n")
    return 1 if errors else 0


def cmd_inspect(ctx: Context, parsed: Parsed) -> int:
    """`berth inspect`: a container by that name, else an image."""
    return inspect_each(ctx, parsed, ("/containers/{}/json", "/images/{}/json"), "Error: No such object: {name}")


def cmd_container_inspect(ctx: Context, parsed: Parsed) -> int:
    return inspect_each(ctx, parsed, ("/containers/{}/json",), "Error response from daemon: {message}")
