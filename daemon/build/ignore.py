""".dockerignore: which paths of the build context are left out.

docker's rules (moby/patternmatcher): one pattern per line, `#` lines are comments,
a leading `/` means nothing, `!` makes an exception; `*` and `?` never cross a `/`,
`**` matches any number of directories; a pattern that matches a directory excludes
everything below it; the last pattern that matches a path decides.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass


def read_patterns(text: str) -> list[str]:
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        neg = line.startswith("!")
        body = line[1:].strip() if neg else line
        if not body:
            continue
        body = posixpath.normpath(body).lstrip("/") or "."
        out.append(("!" if neg else "") + body)
    return out


def _regex(pattern: str) -> re.Pattern[str]:
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
            continue
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            end = pattern.find("]", i + 1)
            if end < 0:
                out.append(re.escape(c))
            else:
                body = pattern[i + 1:end]
                out.append("[" + ("^" + body[1:] if body.startswith(("^", "!")) else body).replace("\\", "\\\\") + "]")
                i = end
        elif c == "\\" and i + 1 < len(pattern):
            i += 1
            out.append(re.escape(pattern[i]))
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out))


@dataclass
class _Pattern:
    text: str
    exception: bool
    regex: re.Pattern[str]


class Matcher:
    def __init__(self, patterns: list[str]) -> None:
        self.patterns = [_Pattern(p.lstrip("!"), p.startswith("!"), _regex(p.lstrip("!"))) for p in patterns]
        self.has_exceptions = any(p.exception for p in self.patterns)

    def _matches(self, p: _Pattern, path: str) -> bool:
        if p.regex.fullmatch(path):
            return True
        parts = path.split("/")
        # a pattern matching a parent directory covers what is below it
        return any(p.regex.fullmatch("/".join(parts[:n])) for n in range(1, len(parts)))

    def excluded(self, path: str, is_dir: bool = False) -> bool:
        path = posixpath.normpath(path).lstrip("/")
        result = False
        for p in self.patterns:
            if p.exception == result and self._matches(p, path):
                result = not p.exception
        return result

    def may_include_below(self, directory: str) -> bool:
        """Whether an exception might bring back something under an excluded directory."""
        return self.has_exceptions
