"""unlink.delete (a stopped container's veth, a removed network's bridge): when it
returns, the link is gone from the namespace's list, whatever of the kernel's request is
still running; a link that is not there is no error. In a network namespace of its own
(unshare -n), so the host's links are not touched."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = r"""
import subprocess
from concurrent.futures import ThreadPoolExecutor
from berth.daemon.network import links, unlink

subprocess.run(["ip", "link", "add", "ulv0", "type", "veth", "peer", "name", "ulv1"], check=True)
subprocess.run(["ip", "link", "add", "ulbr0", "type", "bridge"], check=True)
bg = ThreadPoolExecutor(2)
for name in ("ulv0", "ulbr0", "ulmissing"):
    unlink.delete(name, index_of=links.index_of, delete_link=links.delete_link, background=bg)
    out = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True).stdout
    print(name, "listed" if f" {name}:" in out or f" {name}@" in out else "gone")
    if name == "ulv0":  # the name is free at once: a new container's veth may take it
        again = subprocess.run(["ip", "link", "add", "ulv0", "type", "veth", "peer", "name", "ulv2"],
                               capture_output=True, text=True)
        print("name", "free" if again.returncode == 0 else again.stderr.strip())
bg.shutdown(wait=True)
out = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True).stdout
print("peer", "listed" if " ulv1" in out else "gone")
"""


def test_a_deleted_link_is_gone_when_delete_returns() -> None:
    r = subprocess.run(["unshare", "-n", sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split("\n") == ["ulv0 gone", "name free", "ulbr0 gone", "ulmissing gone", "peer gone", ""]
