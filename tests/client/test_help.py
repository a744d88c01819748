"""`berth --help` lists what `docker --help` lists, for every command berth has, in
docker's sections, order and format; and the management commands' own help."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

BERTH = os.path.join(os.path.dirname(sys.executable), "berth")


def _sections(text: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    title = ""
    for line in text.splitlines():
        if line.endswith(":") and not line.startswith(" "):
            title = line[:-1]
            out[title] = []
        elif title and line.startswith("  ") and not line.startswith("   ") and not line.lstrip().startswith("-"):
            out[title].append(line.split()[0].rstrip("*"))
    return out


def _berth(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([BERTH, *args], capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"})


def _has(name: str) -> bool:
    """berth has the command (a management one answers with its help, exit 0)."""
    r = _berth(name, "--help")
    return r.returncode == 0 and r.stdout.startswith(f"Usage:  berth {name}")


@pytest.mark.skipif(shutil.which("docker") is None, reason="the docker CLI is not installed")
def test_berth_help_lists_what_docker_lists_in_dockers_order() -> None:
    docker = _sections(subprocess.run(["docker", "--help"], capture_output=True, text=True).stdout)
    ours = _sections(_berth("--help").stdout)
    for section in ("Common Commands", "Management Commands", "Commands"):
        expected = [name for name in docker[section] if _has(name)]
        assert ours[section] == expected, section
    assert ours["Management Commands"] == ["container", "image", "network", "system", "volume"]


@pytest.mark.parametrize("group", ["container", "image", "network", "system", "volume"])
def test_each_management_command_has_its_help(group: str) -> None:
    for args in ([group], [group, "--help"]):
        r = _berth(*args)
        assert r.returncode == 0 and r.stdout.startswith(f"Usage:  berth {group} COMMAND\n"), r.stderr
        assert "\nCommands:\n" in r.stdout


def test_an_unknown_subcommand_is_told_as_docker_tells_it() -> None:
    r = _berth("system", "nosuch")
    assert (r.returncode, r.stderr) == (1, "berth: unknown command: berth system nosuch\n\nUsage:  berth system\n\n"
                                           "Run 'berth system --help' for more information\n")
