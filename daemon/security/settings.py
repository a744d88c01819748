"""berthd's own security settings (dockerd's flags of the same names): the default seccomp
profile, no-new-privileges for every container, default ulimits. Checked when berthd starts,
as dockerd checks them: a bad profile or ulimit stops the daemon with a message."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import seccomp


@dataclass
class DaemonSecurity:
    seccomp_profile: str = ""  # --seccomp-profile: "" or "builtin" (default), "unconfined", or a path
    seccomp_text: str = ""  # the file's content, read at start
    no_new_privileges: bool = False  # --no-new-privileges
    default_ulimits: list[dict[str, Any]] = field(default_factory=list)  # --default-ulimit, as HostConfig.Ulimits
    remap: Any = None  # --userns-remap: a userns.Remap, or None

    def default_seccomp(self) -> dict[str, Any] | None:
        """The profile a container gets when it names none; None: unconfined."""
        if self.seccomp_profile == seccomp.UNCONFINED:
            return None
        if self.seccomp_text:
            return seccomp.parse(self.seccomp_text)
        return seccomp.default_profile()


_RLIMITS = {"core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice", "nofile", "nproc",
            "rss", "rtprio", "rttime", "sigpending", "stack", "as"}


def parse_ulimit(text: str) -> dict[str, Any]:
    """docker's units.ParseUlimit: NAME=SOFT[:HARD], with its messages."""
    name, eq, limits = text.partition("=")
    if not eq:
        raise ValueError(f"invalid ulimit argument: {text}")
    if name not in _RLIMITS:
        raise ValueError(f"invalid ulimit type: {name}")
    soft_s, colon, hard_s = limits.partition(":")
    try:
        soft = int(soft_s)
        hard = int(hard_s) if colon else soft
    except ValueError:
        raise ValueError(f"invalid ulimit argument: {text}") from None
    if soft > hard:
        raise ValueError(f"ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}")
    return {"Name": name, "Soft": soft, "Hard": hard}


def load(seccomp_profile: str, no_new_privileges: bool, ulimits: list[str]) -> DaemonSecurity:
    out = DaemonSecurity(seccomp_profile=seccomp_profile, no_new_privileges=no_new_privileges)
    if seccomp_profile not in ("", seccomp.BUILTIN, seccomp.UNCONFINED):
        try:
            with open(seccomp_profile) as f:
                out.seccomp_text = f.read()
        except OSError as e:
            raise ValueError(f"opening seccomp profile ({seccomp_profile}) failed: {e.strerror}") from None
        seccomp.parse(out.seccomp_text)
    by_name: dict[str, dict[str, Any]] = {}
    for text in ulimits:
        u = parse_ulimit(text)
        by_name[u["Name"]] = u
    out.default_ulimits = list(by_name.values())
    return out


def rlimit_type(name: str) -> str:
    return "RLIMIT_" + name.upper()


def security_options(sec: DaemonSecurity) -> list[str]:
    """docker info's SecurityOptions entries for seccomp (and no-new-privileges when set)."""
    profile = sec.seccomp_profile or seccomp.BUILTIN
    out = [f"name=seccomp,profile={profile}"]
    if sec.no_new_privileges:
        out.append("name=no-new-privileges")
    if sec.remap is not None:
        out.append("name=userns")
    return out
