"""The Dockerfile grammar: parser directives, comments, line continuations, heredocs,
instructions with their --flags, and the JSON (exec) form.

Each instruction keeps its line number and its original text (docker prints
"Step 2/5 : COPY a /b" from it, and the cache keys on it).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

INSTRUCTIONS = {"FROM", "RUN", "CMD", "ENTRYPOINT", "LABEL", "EXPOSE", "ENV", "ARG", "ADD", "COPY", "WORKDIR",
                "USER", "VOLUME", "STOPSIGNAL", "HEALTHCHECK", "SHELL", "ONBUILD", "MAINTAINER"}
_JSON_FORMS = {"RUN", "CMD", "ENTRYPOINT", "SHELL", "ADD", "COPY", "VOLUME"}
_HEREDOC_FORMS = {"RUN", "COPY", "ADD"}
_DIRECTIVE = re.compile(r"^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$")
_HEREDOC = re.compile(r"<<(-?)(['\"]?)([A-Za-z_][A-Za-z0-9_]*)\2")
_FLAG = re.compile(r"^--([a-zA-Z][a-zA-Z0-9-]*)(?:=(.*))?$")


class ParseError(ValueError):
    """A Dockerfile that cannot be read; str() is docker's "dockerfile parse error line N: ..."."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"dockerfile parse error line {line}: {message}")
        self.line = line


@dataclass
class Heredoc:
    name: str
    content: str
    expand: bool        # an unquoted delimiter: variables are expanded in it
    chomp: bool         # <<- : leading tabs stripped


@dataclass
class Instruction:
    cmd: str                                  # upper case: "COPY"
    rest: str                                 # the text after the instruction and its flags
    line: int
    original: str                             # as written (continuations joined)
    flags: dict[str, str] = field(default_factory=dict)
    json: list[str] | None = None             # the exec form, when the arguments are a JSON array
    heredocs: list[Heredoc] = field(default_factory=list)

    def step_text(self) -> str:
        """How docker's "Step N/M : " line shows it."""
        return self.original


@dataclass
class Dockerfile:
    instructions: list[Instruction]
    escape: str = "\\"


def _directives(lines: list[str]) -> tuple[str, int]:
    escape, i = "\\", 0
    seen: set[str] = set()
    while i < len(lines):
        m = _DIRECTIVE.match(lines[i].strip())
        if not m:
            break
        key, value = m.group(1).lower(), m.group(2)
        if key in seen:
            raise ParseError(i + 1, f"only one {key} parser directive can be used")
        seen.add(key)
        if key == "escape":
            if value not in ("\\", "`"):
                raise ParseError(i + 1, f"invalid escape token '{value}' does not match ` or \\")
            escape = value
        i += 1
    return escape, i


def _split_flags(cmd: str, text: str, line: int) -> tuple[dict[str, str], str]:
    flags: dict[str, str] = {}
    rest = text.lstrip()
    while rest.startswith("--"):
        word, _, tail = rest.partition(" ")
        m = _FLAG.match(word)
        if not m:
            break
        flags[m.group(1)] = m.group(2) if m.group(2) is not None else "true"
        rest = tail.lstrip()
    return flags, rest


def _json_args(text: str) -> list[str] | None:
    text = text.strip()
    if not text.startswith("["):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    return None


def parse(text: str) -> Dockerfile:
    lines = text.replace("\r\n", "\n").split("\n")
    escape, i = _directives(lines)
    out: list[Instruction] = []
    while i < len(lines):
        raw = lines[i]
        start = i
        i += 1
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        parts = [raw.rstrip()]
        while parts[-1].endswith(escape) and i <= len(lines):
            parts[-1] = parts[-1][:-1]
            while i < len(lines) and (not lines[i].strip() or lines[i].lstrip().startswith("#")):
                i += 1  # comments and empty lines inside a continuation are dropped
            if i >= len(lines):
                break
            parts.append(lines[i].rstrip())
            i += 1
        joined = "".join(p if n == 0 else p for n, p in enumerate(parts)).strip()
        word, _, args = joined.partition(" ")
        if "\t" in word:
            word, _, more = word.partition("\t")
            args = more + " " + args
        cmd = word.upper()
        if cmd not in INSTRUCTIONS:
            raise ParseError(start + 1, f"unknown instruction: {word}")
        flags, rest = _split_flags(cmd, args, start + 1)
        ins = Instruction(cmd, rest.strip(), start + 1, joined, flags)
        if cmd in _HEREDOC_FORMS:
            for m in _HEREDOC.finditer(rest):
                body: list[str] = []
                while i < len(lines):
                    candidate = lines[i].lstrip("\t") if m.group(1) else lines[i]
                    i += 1
                    if candidate == m.group(3):
                        break
                    body.append(candidate)
                else:
                    raise ParseError(start + 1, f"unterminated heredoc {m.group(3)}")
                ins.heredocs.append(Heredoc(m.group(3), "\n".join(body) + "\n", not m.group(2), bool(m.group(1))))
        if cmd in _JSON_FORMS and not ins.heredocs:
            ins.json = _json_args(rest)
        if cmd == "ONBUILD" and rest.split(" ", 1)[0].upper() in ("ONBUILD", "FROM", "MAINTAINER"):
            raise ParseError(start + 1, f"{rest.split(' ', 1)[0].upper()} isn't allowed as an ONBUILD trigger")
        out.append(ins)
    if not out:
        raise ParseError(1, "file with no instructions")
    return Dockerfile(out, escape)
