"""What every berth component agrees on: the version, the default paths, the name of
the in-process runtime. The shared helpers are its submodules (files, reference,
timefmt, humanize).

Constants only, and no imports: the client imports this on every start.
"""

VERSION = "0.1.0"  # the one version: pyproject.toml reads it, every `version` prints it

# Defaults; each is a flag too (docs/internals.md), so that tests run private engines.
EXEC_ROOT = "/run/berth"  # berthd --exec-root: sockets, pidfiles, stdin FIFOs
DATA_ROOT = "/var/lib/berth"  # berthd --data-root: container records and logs
DEFAULT_HOST = "unix://" + EXEC_ROOT + "/berth.sock"  # the Engine API: berthd -H, berth -H
# berth-containerd's: where berthd puts the one it starts under its own roots.
CONTAINERD_ADDRESS = EXEC_ROOT + "/containerd.sock"
CONTAINERD_ROOT = DATA_ROOT + "/containerd"
CONTAINERD_STATE = EXEC_ROOT + "/containerd"

# The runtime name that means berth-runc called as a library inside the shim (no new
# interpreter per container); any other runtime is a runc-compatible binary.
RUNTIME_LIBRARY = "berth"
