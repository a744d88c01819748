"""The instructions that change only the image config: ENV, LABEL, CMD, ENTRYPOINT,
EXPOSE, WORKDIR, USER, VOLUME, STOPSIGNAL, HEALTHCHECK, SHELL, ONBUILD, MAINTAINER,
and the stage state they and ARG work on."""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field
from typing import Any

from . import words
from .dockerfile import Instruction

DEFAULT_SHELL = ["/bin/sh", "-c"]
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNITS = {"ns": 1, "us": 1_000, "µs": 1_000, "ms": 1_000_000, "s": 1_000_000_000, "m": 60_000_000_000,
          "h": 3_600_000_000_000}


class StepError(ValueError):
    """A step that cannot be done; str() is the message the build ends with (`code`:
    a failed RUN's exit status, docker's errorDetail.code)."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class Stage:
    """One FROM ... up to the next FROM, and what its steps have made so far."""

    index: int
    name: str
    base: str
    instructions: list[Instruction]
    image: str = ""                      # the image the last step made ("" = scratch, nothing yet)
    config: dict[str, Any] = field(default_factory=dict)
    args: dict[str, str] = field(default_factory=dict)   # ARGs declared in this stage, with their values
    author: str = ""
    cmd_set: bool = False

    def env(self) -> dict[str, str]:
        """What ${VAR} sees: the stage's ARGs, under its ENV."""
        out = dict(self.args)
        for item in self.config.get("Env") or []:
            k, _, v = item.partition("=")
            out[k] = v
        return out

    @property
    def shell(self) -> list[str]:
        return list(self.config.get("Shell") or DEFAULT_SHELL)


def duration(text: str, flag: str) -> int:
    pos, total = 0, 0
    for m in _DURATION.finditer(text):
        if m.start() != pos:
            break
        total += int(float(m.group(1)) * _UNITS[m.group(2)])
        pos = m.end()
    if not text or pos != len(text):
        raise StepError(f"Error parsing {flag}: time: invalid duration \"{text}\"")
    return total


def command_form(ins: Instruction, stage: Stage) -> list[str]:
    """Exec form as written, or the shell form run by the stage's SHELL."""
    if ins.json is not None:
        return ins.json
    return [*stage.shell, ins.rest]


def _set_env(config: dict[str, Any], key: str, value: str) -> None:
    env = [e for e in (config.get("Env") or []) if e.partition("=")[0] != key]
    config["Env"] = [*env, f"{key}={value}"]


def apply(ins: Instruction, stage: Stage, escape: str) -> None:
    """Change the stage's config as the instruction says."""
    cfg, env, cmd = stage.config, stage.env(), ins.cmd
    try:
        if cmd == "ENV":
            for k, v in words.pairs(ins.rest, env, escape, "ENV"):
                _set_env(cfg, k, v)
                env[k] = v
        elif cmd == "LABEL":
            labels = dict(cfg.get("Labels") or {})
            labels.update(words.pairs(ins.rest, env, escape, "LABEL"))
            cfg["Labels"] = labels
        elif cmd == "MAINTAINER":
            stage.author = ins.rest
        elif cmd in ("CMD", "ENTRYPOINT"):
            value = command_form(ins, stage)
            if cmd == "CMD":
                cfg["Cmd"], stage.cmd_set = value, True
            else:
                cfg["Entrypoint"] = value
                if not stage.cmd_set:
                    cfg["Cmd"] = None  # the base image's CMD goes with its ENTRYPOINT, as docker does
        elif cmd == "EXPOSE":
            ports = dict(cfg.get("ExposedPorts") or {})
            for p in words.expand_words(ins.rest, env, escape):
                ports[p if "/" in p else f"{p}/tcp"] = {}
            cfg["ExposedPorts"] = ports
        elif cmd == "WORKDIR":
            path = words.expand(ins.rest, env, escape)
            cfg["WorkingDir"] = posixpath.normpath(posixpath.join(cfg.get("WorkingDir") or "/", path))
        elif cmd == "USER":
            cfg["User"] = words.expand(ins.rest, env, escape)
        elif cmd == "VOLUME":
            items = ins.json if ins.json is not None else words.expand_words(ins.rest, env, escape)
            if not items:
                raise StepError("VOLUME specified can not be an empty string")
            cfg["Volumes"] = {**(cfg.get("Volumes") or {}), **{v: {} for v in items}}
        elif cmd == "STOPSIGNAL":
            cfg["StopSignal"] = words.expand(ins.rest, env, escape)
        elif cmd == "SHELL":
            if ins.json is None:
                raise StepError("SHELL requires the arguments to be in JSON form")
            cfg["Shell"] = ins.json
        elif cmd == "ONBUILD":
            cfg["OnBuild"] = [*(cfg.get("OnBuild") or []), ins.rest]
        elif cmd == "HEALTHCHECK":
            cfg["Healthcheck"] = _healthcheck(ins, stage)
        else:
            raise StepError(f"unknown instruction: {cmd}")
    except (ValueError, words.SubstitutionError) as e:
        if isinstance(e, StepError):
            raise
        raise StepError(f"{cmd} {e}" if str(e).startswith(("requires", "must")) else str(e)) from None


def _healthcheck(ins: Instruction, stage: Stage) -> dict[str, Any]:
    rest = ins.rest.strip()
    kind, _, tail = rest.partition(" ")
    if kind.upper() == "NONE":
        if ins.flags or tail.strip():
            raise StepError("HEALTHCHECK NONE takes no arguments")
        return {"Test": ["NONE"]}
    if kind.upper() != "CMD":
        raise StepError(f"Unknown type \"{kind}\" in HEALTHCHECK (try CMD)")
    inner = Instruction("CMD", tail.strip(), ins.line, ins.original)
    from .dockerfile import _json_args

    inner.json = _json_args(tail)
    hc: dict[str, Any] = {"Test": ["CMD", *inner.json] if inner.json is not None else ["CMD-SHELL", tail.strip()]}
    for flag, key in (("interval", "Interval"), ("timeout", "Timeout"), ("start-period", "StartPeriod"),
                      ("start-interval", "StartInterval")):
        if flag in ins.flags:
            hc[key] = duration(ins.flags[flag], f"--{flag}")
    if "retries" in ins.flags:
        try:
            hc["Retries"] = int(ins.flags["retries"])
        except ValueError:
            raise StepError(f"Error parsing --retries: invalid value \"{ins.flags['retries']}\"") from None
    unknown = set(ins.flags) - {"interval", "timeout", "start-period", "start-interval", "retries"}
    if unknown:
        raise StepError(f"Unknown flag: {sorted(unknown)[0]}")
    return hc


def history_text(ins: Instruction, stage: Stage) -> str:
    """docker's classic "created by" of a config-only step."""
    return f"/bin/sh -c #(nop)  {ins.original}"
