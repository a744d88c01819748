"""`berth __complete WORD... CURRENT`: the words bash may complete CURRENT with, one a line.

contrib/completion/bash/berth calls it, so that completion knows exactly the
commands, subcommands and flags `berth` parses (client/commands.py's table, no
second list to keep), and asks the daemon for the names docker's completion
offers: containers (running ones where only those make sense), images, networks,
volumes. The command is hidden (not in `berth --help`), as docker's `__complete`.
A daemon that does not answer gives no names, never an error: completion stays quiet.
"""

from __future__ import annotations

from berth.client import flags as flagmod
from berth.client.commands import COMMON, MANAGEMENT, OTHERS, lookup, subcommands

TYPE_CHECKING = False
if TYPE_CHECKING:
    from berth.client.main import Context

_GLOBAL_FLAGS = ("--help", "--host", "--version", "-H", "-v")
# which containers a command's arguments are, as docker's completion has them
_RUNNING = {"attach", "exec", "kill", "pause", "stats", "stop", "top", "port", "update"}
_PAUSED = {"unpause"}
_IMAGE_ARGS = {"history", "push", "rmi", "save", "tag", "image rm", "image remove", "image inspect", "image history",
               "image push", "image save", "image tag"}
_FIRST_IMAGE = {"run", "create", "container run", "container create"}  # then the command: nothing
_VOLUME_ARGS = {"volume rm", "volume remove", "volume inspect"}
_NETWORK_ARGS = {"rm", "remove", "inspect", "connect", "disconnect"}
# a flag whose value is a name the daemon knows
_FLAG_VALUES = {"network": "networks", "volumes-from": "containers", "net": "networks"}


def cmd_complete(ctx: Context, words: list[str]) -> int:
    for word in candidates(words, ctx.host):
        ctx.out(word + "\n")
    return 0


def candidates(words: list[str], host: str) -> list[str]:
    """What CURRENT (the last word, maybe '') may become after the words before it."""
    *done, cur = words or [""]
    done, host = _skip_globals(done, host)
    if not done:
        pool = list(_GLOBAL_FLAGS) if cur.startswith("-") else sorted({*MANAGEMENT, *OTHERS, *COMMON})
        return _prefixed(pool, cur)
    if done[0] in MANAGEMENT and len(done) == 1:
        return _prefixed(["--help"] if cur.startswith("-") else subcommands(done[0]), cur)
    if done[0] == "network":
        return _network(done[1:], cur, host)
    spec, _, used = lookup(done)
    if spec is None:
        return []
    path = " ".join(done[:used])
    rest = done[used:]
    if rest and _wants_value(spec, rest[-1]):
        kind = _FLAG_VALUES.get(rest[-1].lstrip("-"))
        return _prefixed(_names(kind, host), cur) if kind else []
    if cur.startswith("--") and "=" in cur:  # --network=NAME
        flag, _, value = cur.partition("=")
        kind = _FLAG_VALUES.get(flag[2:]) if _wants_value(spec, flag) else None
        return [f"{flag}={n}" for n in _prefixed(_names(kind, host), value)] if kind else []
    if cur.startswith("-"):
        return _prefixed(_flag_names(spec), cur)
    return _prefixed(_positional(path, _positionals(spec, rest), host), cur)


def _skip_globals(done: list[str], host: str) -> tuple[list[str], str]:
    i = 0
    while i < len(done) and done[i].startswith("-"):
        if done[i] in ("-H", "--host") and i + 1 < len(done):
            host = done[i + 1]
            i += 2
            continue
        if done[i].startswith("--host="):
            host = done[i].split("=", 1)[1]
        i += 1
    return done[i:], host


def _prefixed(pool: list[str], cur: str) -> list[str]:
    return [w for w in pool if w.startswith(cur)]


def _flag_names(spec: flagmod.Command) -> list[str]:
    out = []
    for f in (*spec.flags, flagmod.HELP):
        out.append(f"--{f.long}")
        if f.short:
            out.append(f"-{f.short}")
    return sorted(set(out))


def _wants_value(spec: flagmod.Command, word: str) -> bool:
    """`word` is a flag that takes the next word as its value (not --flag=value, not a bool)."""
    if not word.startswith("-") or "=" in word:
        return False
    for f in spec.flags:
        if word in (f"--{f.long}", f"-{f.short}" if f.short else ""):
            return f.kind != "bool"
    return False


def _positionals(spec: flagmod.Command, rest: list[str]) -> int:
    """How many arguments are already given (a non-bool flag takes the word after it)."""
    count, skip = 0, False
    for word in rest:
        if skip:
            skip = False
        elif word.startswith("-") and word != "-":
            skip = _wants_value(spec, word)
        else:
            count += 1
    return count


def _positional(path: str, given: int, host: str) -> list[str]:
    name = path.split()[-1]
    if path in _FIRST_IMAGE:
        return _names("images", host) if given == 0 else []
    if path in _IMAGE_ARGS or path == "images" or path in ("image ls", "image list"):
        return _names("images", host) if path not in ("tag", "image tag") or given < 2 else []
    if path in _VOLUME_ARGS:
        return _names("volumes", host)
    if path == "inspect":
        return _names("containers", host) + _names("images", host)
    if path in ("exec", "container exec") and given > 0:
        return []  # the command to run in it
    if path.startswith(("image ", "volume ", "system ")) or name in ("ps", "ls", "events", "version", "info",
                                                                       "login", "logout", "load", "import", "build"):
        return []
    if name in _RUNNING:
        return _names("running", host)
    if name in _PAUSED:
        return _names("paused", host)
    return _names("containers", host)


def _network(rest: list[str], cur: str, host: str) -> list[str]:
    if not rest:
        return _prefixed(subcommands("network"), cur)
    if cur.startswith("-"):
        spec, _, _ = lookup(["network", rest[0]])
        return _prefixed(_flag_names(spec), cur) if spec is not None else []
    verb, args = rest[0], [w for w in rest[1:] if not w.startswith("-")]
    if verb in _NETWORK_ARGS and not (verb in ("connect", "disconnect") and args):
        return _prefixed(_names("networks", host), cur)
    if verb in ("connect", "disconnect") and len(args) == 1:
        return _prefixed(_names("containers", host), cur)
    return []


def _names(kind: str, host: str) -> list[str]:
    """Names the daemon knows; none if it does not answer."""
    from berth.client.api import Client, ConnectError, DaemonError

    client = Client(host)
    try:
        if kind in ("containers", "running", "paused"):
            query: dict = {"all": "1"} if kind == "containers" else {
                "filters": '{"status":["%s"]}' % kind}
            return sorted(n.lstrip("/") for c in client.get("/containers/json", query) for n in c.get("Names") or [])
        if kind == "images":
            return sorted({t for i in client.get("/images/json") for t in i.get("RepoTags") or []
                           if t != "<none>:<none>"})
        if kind == "networks":
            return sorted(n["Name"] for n in client.get("/networks"))
        if kind == "volumes":
            return sorted(v["Name"] for v in client.get("/volumes").get("Volumes") or [])
    except (ConnectError, DaemonError, OSError, ValueError):
        return []
    return []
