"""Facts about the host's kernel that several of berthd's parts ask (one check each)."""

from __future__ import annotations

import functools
import os


@functools.cache  # a fact about the host: the hierarchy is mounted before berthd starts
def cgroup_v2() -> bool:
    """A cgroup v2 host has the unified hierarchy's files at the top of /sys/fs/cgroup."""
    return os.path.exists("/sys/fs/cgroup/cgroup.controllers")
