"""SIGHUP: berthd reads its configuration file again and applies what dockerd applies
live (daemon/reload.go) among the settings berth has: debug (and log-level), the
insecure registries and the registry mirrors. berth has no engine labels.

As in dockerd, the file and the command line are read again as at start-up, with
all of start-up's checks (unknown keys, wrong types, a key both a flag and in the
file): a file that fails them changes nothing, and berthd logs why and carries on
serving. A setting changes only when the file sets it (dockerd's IsValueSet): a key
removed from the file leaves its current value. The rest of a changed file takes
effect at the next start, as dockerd's does.

Reading and checking (the argument parse, the file, userns' lookups, which may add the
remap user) run in a worker thread, so requests are served meanwhile; only applying the
result runs in the event loop, one reload at a time, in the order the signals came.

Nothing has to reach berth-containerd: berthd hands the registries and mirrors to it
with every pull, push and login (daemon/images/pull.py), from the live Config.
"""

from __future__ import annotations

import asyncio
import json
import logging
import platform
import signal
import sys
from typing import Any

from .. import configfile
from ..config import Config

log = logging.getLogger("berthd")
_CHATTY = ("asyncio", "grpc")  # never below info (daemon/main.py)


def on_sighup(argv: list[str] | None, cfg: Config, engine: Any) -> None:
    """Reload on every SIGHUP: a task each, applied in the event loop one after the other."""
    args = list(sys.argv[1:] if argv is None else argv)
    loop = asyncio.get_running_loop()
    turn = asyncio.Lock()
    tasks: set[asyncio.Task] = set()

    def _signalled() -> None:
        task = loop.create_task(_in_turn(turn, args, cfg, engine))
        tasks.add(task)  # kept until done: the loop holds tasks only weakly
        task.add_done_callback(tasks.discard)

    loop.add_signal_handler(signal.SIGHUP, _signalled)


async def _in_turn(turn: asyncio.Lock, argv: list[str], cfg: Config, engine: Any) -> None:
    async with turn:
        await reload(argv, cfg, engine)


async def reload(argv: list[str], cfg: Config, engine: Any) -> bool:
    """Read the file again (in a thread) and apply it to the live `cfg`; False (and an error
    logged) if it is refused."""
    log.info("Got signal to reload configuration, reloading from: %s", cfg.config_file)
    try:
        new, keys = await asyncio.to_thread(_read, argv)
    except ValueError as e:
        log.error("Error reloading configuration: %s", e)
        return False
    _apply(new, keys, cfg, engine)
    return True


def _read(argv: list[str]) -> tuple[Config, set[str]]:
    """The new Config and the keys its file sets; ValueError if refused (a worker thread's)."""
    new = _parse(argv)
    return new, configfile.keys_in(new.config_file)


def _apply(new: Config, keys: set[str], cfg: Config, engine: Any) -> None:
    """What dockerd applies live, into the running `cfg` (the event loop's)."""
    if keys & {"debug", "log-level"}:
        cfg.log_level = new.log_level
        _set_level(cfg.log_level)
    if "insecure-registries" in keys:
        cfg.insecure_registries = new.insecure_registries
    if "registry-mirrors" in keys:
        cfg.registry_mirrors = new.registry_mirrors
    shown = {"debug": cfg.log_level == "debug", "log-level": cfg.log_level,
             "insecure-registries": cfg.insecure_registries, "registry-mirrors": cfg.registry_mirrors}
    log.info("Reloaded configuration: %s", json.dumps(shown, separators=(",", ":")))
    # docker's daemon event: `docker events --filter type=daemon` sees the reload
    attrs = {"debug": str(shown["debug"]).lower(), "insecure-registries": json.dumps(cfg.insecure_registries),
             "registry-mirrors": json.dumps(cfg.registry_mirrors), "labels": "[]", "name": platform.node()}
    engine.events.publish("daemon", "reload", "", attrs)


def _parse(argv: list[str]) -> Config:
    """The flags and the file as at start-up; ValueError with start-up's words if refused.

    Start-up's checks end the process (argparse's error, sys.exit with dockerd's
    message); here their message is kept and the process is not. Nothing is printed:
    this runs in a worker thread while the loop serves (no process-wide stderr swap).
    """
    from ..main import parse_args

    try:
        return parse_args(argv, refusing=True)
    except SystemExit as e:
        message = e.code if isinstance(e.code, str) else f"exit status {e.code}"
    except ValueError as e:
        message = str(e)
    # start-up's own framing is not a reload's (the settings' words stay dockerd's)
    raise ValueError(message.removeprefix("berthd: error: ").removeprefix("failed to start daemon: "))


def _set_level(name: str) -> None:
    level = logging.getLevelName(name.upper())
    logging.getLogger().setLevel(level)
    for logger in ("uvicorn", "uvicorn.error"):  # uvicorn.Config set these from --log-level
        logging.getLogger(logger).setLevel(level)
    for chatty in _CHATTY:
        logging.getLogger(chatty).setLevel(max(logging.INFO, level))
