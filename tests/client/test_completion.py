"""Bash completion (contrib/completion/bash/berth), in a real bash without bash-completion:
the file sourced, the function called as bash calls it (COMP_LINE, COMP_POINT,
COMP_WORDS, COMP_CWORD), COMPREPLY read back. Names come from a private berthd."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import uuid
from collections.abc import Iterator

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, "contrib", "completion", "bash", "berth")
BIN = os.path.dirname(sys.executable)  # this venv's berth


def complete(line: str, host: str) -> list[str]:
    """COMPREPLY for `line` with the cursor at its end, in `bash --norc` (no bash-completion)."""
    script = f"""
        . {shlex.quote(SCRIPT)}
        complete -p berth
        COMP_LINE={shlex.quote(line)}
        COMP_POINT=${{#COMP_LINE}}
        COMP_WORDBREAKS=$' \\t\\n"\\'><=;|&(:'
        # as bash splits the line for COMP_WORDS (at spaces and its break characters)
        read -r -a COMP_WORDS <<<"$(printf '%s' "$COMP_LINE" | sed 's/\\([:=]\\)/ \\1 /g')"
        case $COMP_LINE in *' ') COMP_WORDS+=("") ;; esac
        COMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 ))
        _berth berth "${{COMP_WORDS[COMP_CWORD]}}" "${{COMP_WORDS[COMP_CWORD-1]}}"
        printf '%s\\n' "${{COMPREPLY[@]}}"
    """
    r = subprocess.run(["bash", "--norc", "--noprofile", "-c", script], capture_output=True, text=True,
                       env={"PATH": f"{BIN}:/usr/bin:/bin", "BERTH_HOST": host, "HOME": "/nonexistent"}, timeout=60)
    assert r.returncode == 0 and r.stderr == "", r.stderr
    first, *rest = r.stdout.splitlines()
    assert first == "complete -o default -F _berth berth"
    return [w for w in rest if w]


@pytest.fixture(scope="module")
def named(engine_host: str, image: str) -> Iterator[str]:
    """A running and a stopped container, a network and a volume, all named compl-<suffix>-..."""
    suffix = uuid.uuid4().hex[:6]
    base = [os.path.join(BIN, "berth"), "-H", engine_host]

    def berth(*args: str) -> None:
        r = subprocess.run([*base, *args], capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr

    prefix = f"compl-{suffix}"
    berth("run", "-d", "--name", f"{prefix}-up", image, "sleep", "600")
    berth("create", "--name", f"{prefix}-down", image, "true")
    berth("network", "create", f"{prefix}-net")
    berth("volume", "create", f"{prefix}-vol")
    try:
        yield prefix
    finally:
        subprocess.run([*base, "rm", "-f", f"{prefix}-up", f"{prefix}-down"], capture_output=True, timeout=120)
        subprocess.run([*base, "network", "rm", f"{prefix}-net"], capture_output=True, timeout=60)
        subprocess.run([*base, "volume", "rm", f"{prefix}-vol"], capture_output=True, timeout=60)


def test_commands_and_management_commands(engine_host: str) -> None:
    words = complete("berth ", engine_host)
    for name in ("run", "ps", "exec", "images", "container", "image", "network", "system", "volume", "rmi"):
        assert name in words
    assert "__complete" not in words and "--help" not in words
    assert complete("berth con", engine_host) == ["container"]
    assert complete("berth -", engine_host) == ["--help", "--host", "--version", "-H", "-v"]


def test_subcommands_and_flags_from_the_command_table(engine_host: str) -> None:
    assert {"ls", "ps", "run", "rm", "inspect"} <= set(complete("berth container ", engine_host))
    assert complete("berth image ", engine_host)[:3] == ["build", "commit", "history"]
    assert complete("berth network ", engine_host) == ["connect", "create", "disconnect", "inspect", "ls", "prune",
                                                       "rm"]
    assert complete("berth system ", engine_host) == ["df", "events", "info"]
    assert complete("berth volume c", engine_host) == ["create"]
    assert complete("berth run --rm --na", engine_host) == ["--name"]
    assert complete("berth ps --", engine_host) == ["--all", "--filter", "--format", "--help", "--last", "--latest",
                                                    "--no-trunc", "--quiet", "--size"]
    assert complete("berth logs -", engine_host) == ["--follow", "--help", "--since", "--tail", "--timestamps",
                                                     "-f", "-n", "-t"]


def test_container_names_running_ones_where_only_those_make_sense(engine_host: str, named: str) -> None:
    assert complete(f"berth stop {named}-", engine_host) == [f"{named}-up"]
    assert complete(f"berth exec -it {named}-", engine_host) == [f"{named}-up"]
    assert complete(f"berth start {named}-", engine_host) == [f"{named}-down", f"{named}-up"]
    assert complete(f"berth container rm -f {named}-", engine_host) == [f"{named}-down", f"{named}-up"]
    assert complete(f"berth exec {named}-up ", engine_host) == []  # the command to run: bash's files


def test_image_names_and_tags_across_the_colon(engine_host: str, image: str) -> None:
    assert complete(f"berth run --rm {image[:5]}", engine_host) == [f"{image}:latest"]
    # bash breaks the word at ':' and replaces what follows it
    assert complete(f"berth rmi {image}:la", engine_host) == ["latest"]
    assert f"{image}:latest" in complete("berth image inspect ", engine_host)
    assert complete(f"berth run {image} ", engine_host) == []  # the command, not another image


def test_network_and_volume_names(engine_host: str, named: str) -> None:
    assert complete(f"berth network rm {named}-", engine_host) == [f"{named}-net"]
    assert complete(f"berth network connect {named}-net {named}-", engine_host) == [f"{named}-down", f"{named}-up"]
    assert complete(f"berth run --network {named}-", engine_host) == [f"{named}-net"]
    assert complete(f"berth run --network={named}-", engine_host) == [f"{named}-net"]  # after the '=' break
    assert complete(f"berth volume rm {named}-", engine_host) == [f"{named}-vol"]


def test_no_daemon_no_names_and_no_noise() -> None:
    assert complete("berth stop ", "unix:///nonexistent/berth.sock") == []
    assert complete("berth -H unix:///nonexistent/berth.sock st", "unix:///x") == ["start", "stats", "stop"]
