"""The shape of docker's classic builder output where berth works differently.

dockerd makes a container for every step that only changes the config (ENV, LABEL,
CMD, ARG, WORKDIR, ...), never starts it, commits it and removes it, so its output
has ` ---> Running in ID` / `Removing intermediate container ID` for those steps too.
berth commits the config directly, with no container; it prints the same two lines
(with an ID made for the step: no container of that ID ever exists, as dockerd's is
gone by the time the line can be read) so that the output is line by line dockerd's.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from .dockerfile import Instruction

Say = Callable[[str], Awaitable[None]]


async def step(say: Say, n: int, total: int, text: str) -> None:
    """`Step n/total : TEXT`, sent as dockerd sends it: the text, then its newline."""
    await say(f"Step {n}/{total} : {text}")
    await say("\n")


@asynccontextmanager
async def config_step(say: Say) -> AsyncIterator[None]:
    """Around the commit of a config-only step (not printed when it fails: dockerd
    keeps its container then, unless forcerm, and prints no removal)."""
    cid = os.urandom(32).hex()[:12]
    await say(f" ---> Running in {cid}\n")
    yield
    await say(f"Removing intermediate container {cid}\n")


def short(image_id: str) -> str:
    return image_id.removeprefix("sha256:")[:12]


def label_steps(labels: dict[str, str], escape: str) -> list[Instruction]:
    """`--label`s as dockerd 20.10 adds them to the last stage: one `LABEL k=v` step a
    label, sorted by key, shown as given; the values are taken as they are (quoted
    for the parser, no variable expanded)."""
    def quoted(text: str) -> str:
        for c in (escape, '"', "$"):
            text = text.replace(c, escape + c)
        return f'"{text}"'

    return [Instruction("LABEL", f"{quoted(k)}={quoted(v)}", 0, f"LABEL {k}={v}") for k, v in sorted(labels.items())]
