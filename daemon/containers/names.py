"""Docker-style generated names (adjective_surname) and name validation."""

from __future__ import annotations

import random
import re

from ..http.errors import bad_request

_VALID = re.compile(r"^/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$")

_LEFT = ["admiring", "bold", "brave", "clever", "dreamy", "eager", "elated", "focused",
         "gifted", "happy", "hopeful", "jolly", "keen", "kind", "lucid", "modest", "nifty",
         "peaceful", "quirky", "relaxed", "serene", "sharp", "stoic", "tender", "vibrant",
         "wizardly", "youthful", "zealous"]
_RIGHT = ["babbage", "bell", "curie", "darwin", "einstein", "euler", "feynman", "gauss",
          "hopper", "hypatia", "kepler", "lamport", "liskov", "lovelace", "mccarthy",
          "noether", "pascal", "ritchie", "shannon", "thompson", "torvalds", "turing",
          "wozniak", "yalow"]


def generate(taken: set[str]) -> str:
    for attempt in range(100):
        name = f"/{random.choice(_LEFT)}_{random.choice(_RIGHT)}"
        if attempt > 10:
            name += str(random.randint(0, 99))
        if name not in taken:
            return name
    raise RuntimeError("could not generate a free container name")


def validate(name: str) -> str:
    """The stored form, with docker's leading slash."""
    if not _VALID.match(name):
        raise bad_request(f"Invalid container name ({name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")
    return name if name.startswith("/") else "/" + name
