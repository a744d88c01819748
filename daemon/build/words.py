"""Words and variables as the Dockerfile has them (docker's shell lexer, cut down).

Outside quotes the escape character takes the next character literally; single quotes
are literal; double quotes expand variables and let the escape character protect
`"`, `$` and itself. `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`,
`${VAR:+alt}`, `${VAR+alt}`, `${VAR:?message}`. An unknown variable is empty.
"""

from __future__ import annotations

from typing import Mapping

_NAME_START = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_"
_NAME = _NAME_START + "0123456789"


class SubstitutionError(ValueError):
    pass


def split(text: str, escape: str = "\\") -> list[str]:
    """Whitespace-separated words, quotes and escapes kept (for KEY=VALUE lists)."""
    words: list[str] = []
    cur: list[str] = []
    quote = ""
    i = 0
    in_word = False
    while i < len(text):
        c = text[i]
        if quote:
            cur.append(c)
            if c == escape and quote == '"' and i + 1 < len(text):
                cur.append(text[i + 1])
                i += 1
            elif c == quote:
                quote = ""
        elif c == escape and i + 1 < len(text):
            cur.extend((c, text[i + 1]))
            in_word = True
            i += 1
        elif c in "'\"":
            quote = c
            cur.append(c)
            in_word = True
        elif c.isspace():
            if in_word:
                words.append("".join(cur))
                cur, in_word = [], False
        else:
            cur.append(c)
            in_word = True
        i += 1
    if in_word:
        words.append("".join(cur))
    return words


def _variable(text: str, i: int, env: Mapping[str, str], escape: str) -> tuple[str, int]:
    """Expand the variable whose `$` is at text[i-1]; returns (value, next index)."""
    if i >= len(text):
        return "$", i
    if text[i] == "{":
        j = i + 1
        name_end = j
        while name_end < len(text) and text[name_end] in _NAME:
            name_end += 1
        name = text[j:name_end]
        if not name:
            raise SubstitutionError(f"failed to process \"{text}\": missing ':' in substitution")
        if name_end < len(text) and text[name_end] == "}":
            return env.get(name, ""), name_end + 1
        op = text[name_end:name_end + 2] if text[name_end:name_end + 1] == ":" else text[name_end:name_end + 1]
        depth, k = 1, name_end + len(op)
        start = k
        while k < len(text):
            if text[k] == escape:
                k += 2
                continue
            if text[k] == "{":
                depth += 1
            elif text[k] == "}":
                depth -= 1
                if depth == 0:
                    break
            k += 1
        if k >= len(text):
            raise SubstitutionError(f"failed to process \"{text}\": syntax error: missing '}}'")
        word = expand(text[start:k], env, escape)
        value, is_set = env.get(name, ""), name in env
        if op == ":-":
            return (value if value else word), k + 1
        if op == "-":
            return (value if is_set else word), k + 1
        if op == ":+":
            return (word if value else ""), k + 1
        if op == "+":
            return (word if is_set else ""), k + 1
        if op in (":?", "?"):
            if (op == ":?" and not value) or not is_set:
                raise SubstitutionError(f"failed to process \"{text}\": {name}: {word or 'is not allowed to be unset'}")
            return value, k + 1
        raise SubstitutionError(f"failed to process \"{text}\": unsupported modifier ({op}) in substitution")
    if text[i] in _NAME_START:
        j = i
        while j < len(text) and text[j] in _NAME:
            j += 1
        return env.get(text[i:j], ""), j
    return "$", i


def expand(word: str, env: Mapping[str, str], escape: str = "\\") -> str:
    """One word with its quotes removed and its variables expanded."""
    out: list[str] = []
    i, quote = 0, ""
    while i < len(word):
        c = word[i]
        if quote == "'":
            if c == "'":
                quote = ""
            else:
                out.append(c)
            i += 1
            continue
        if c == escape and i + 1 < len(word):
            nxt = word[i + 1]
            if quote == '"' and nxt not in ('"', "$", escape):
                out.append(c)
                i += 1
                continue
            out.append(nxt)
            i += 2
            continue
        if c == "$":
            value, i = _variable(word, i + 1, env, escape)
            out.append(value)
            continue
        if c in "'\"" and (not quote or quote == c):
            if c == "'" and quote == '"':
                out.append(c)
            else:
                quote = "" if quote else c
            i += 1
            continue
        out.append(c)
        i += 1
    return "".join(out)


def expand_words(text: str, env: Mapping[str, str], escape: str = "\\") -> list[str]:
    """Each whitespace-separated word, expanded (EXPOSE, VOLUME, COPY's sources...)."""
    return [expand(w, env, escape) for w in split(text, escape)]


def pairs(text: str, env: Mapping[str, str], escape: str = "\\", cmd: str = "ENV") -> list[tuple[str, str]]:
    """KEY=VALUE ... (ENV, LABEL, ARG), or the old `KEY VALUE...` form of ENV and LABEL."""
    words = split(text, escape)
    if not words:
        raise ValueError(f"{cmd} requires at least one argument")
    if "=" not in words[0]:
        if cmd == "ARG":
            return [(expand(words[0], env, escape), "\0")]  # \0: declared without a default
        if len(words) < 2:
            raise ValueError(f"{cmd} must have two arguments")
        value = text.strip()[len(words[0]):].strip()
        return [(words[0], expand(value, env, escape))]
    out = []
    for w in words:
        if "=" not in w:
            if cmd == "ARG":
                out.append((expand(w, env, escape), "\0"))
                continue
            raise ValueError(f"Syntax error - can't find = in \"{w}\". Must be of the form: name=value")
        k, _, v = w.partition("=")
        out.append((expand(k, env, escape), expand(v, env, escape)))
    return out
