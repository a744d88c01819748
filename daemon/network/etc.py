"""A container's /etc/hosts, /etc/hostname and /etc/resolv.conf, as dockerd writes them.

Bridge networks: hosts has the container's own address under its hostname, the
--add-host and --link entries; resolv.conf is the host's without loopback servers
(unreachable from another namespace), or 127.0.0.11 (the embedded DNS) on a user
network, or --dns. Host network: the host's files. They live in the container's
directory, where spec.py bind-mounts them, and are rewritten in place, not renamed
over: a bind mount holds the inode, so a new file would not be seen by a running
container (connect and disconnect update its hosts file)."""

from __future__ import annotations

import os
import socket

EMBEDDED_DNS = "127.0.0.11"
_BASE_HOSTS = ("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
               "fe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\n"
               "ff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n")


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def hosts(entries: list[tuple[str, str]], host_mode: bool = False) -> str:
    """`entries`: (address, names) lines after docker's base ones."""
    text = _read("/etc/hosts") if host_mode else _BASE_HOSTS
    return text + "".join(f"{ip}\t{names}\n" for ip, names in entries)


def extra_hosts(items: list[str]) -> list[tuple[str, str]]:
    """--add-host NAME:IP (or NAME=IP) as hosts lines."""
    out = []
    for item in items:
        sep = "=" if "=" in item else ":"
        name, _, ip = item.partition(sep)
        out.append((ip.strip("[]"), name))
    return out


def resolv_conf(dns: list[str], search: list[str], options: list[str], embedded: bool) -> str:
    lines = _read("/etc/resolv.conf").splitlines()
    host_search = [w for line in lines if line.startswith("search") for w in line.split()[1:]]
    host_options = [w for line in lines if line.startswith("options") for w in line.split()[1:]]
    servers = [line.split()[1] for line in lines
               if line.startswith("nameserver") and len(line.split()) > 1]
    if embedded:
        servers = [EMBEDDED_DNS]
        host_options = [*host_options, "ndots:0"]
    elif dns:
        servers = dns
    else:
        servers = [s for s in servers if not s.startswith("127.") and s != "::1"] or ["8.8.8.8", "8.8.4.4"]
    out = [f"nameserver {s}" for s in servers]
    if search or host_search:
        out.append("search " + " ".join(search or host_search))
    if options or host_options:
        out.append("options " + " ".join(options or host_options))
    return "\n".join(out) + "\n"


def upstream_servers() -> list[str]:
    """Where the embedded DNS sends names it does not know: the host's resolvers."""
    return [line.split()[1] for line in _read("/etc/resolv.conf").splitlines()
            if line.startswith("nameserver") and len(line.split()) > 1]


def write(container_dir: str, hostname: str, hosts_text: str, resolv_text: str) -> None:
    for name, text in (("hostname", hostname + "\n"), ("hosts", hosts_text), ("resolv.conf", resolv_text)):
        with open(os.path.join(container_dir, name), "w") as f:
            f.write(text)


def host_hostname() -> str:
    return socket.gethostname()
