"""The berth-shim command: spawn a shim from the command line and print its JSON answer.

`berth-shim --id ID --bundle DIR --runtime berth|/path/to/runc --runtime-root DIR
--log-path FILE [--terminal] [--stdin] [--stdin-path FIFO]` prints {"pid", "socket", "container_pid"} once
the container is created and exits 0; on failure it prints the runtime's message on
stderr and exits 1.  The shim itself keeps running, detached from this command.
"""

from __future__ import annotations

import argparse
import json
import sys

from berth.shim.options import RUNTIME_LIBRARY, ShimError, ShimOptions
from berth.shim.spawn import spawn


def parse_args(argv: list[str]) -> ShimOptions:
    parser = argparse.ArgumentParser(prog="berth-shim", description="Run one container and hold it.")
    parser.add_argument("--id", required=True)
    parser.add_argument("--bundle", required=True)
    parser.add_argument("--runtime", default=RUNTIME_LIBRARY)
    parser.add_argument("--runtime-root", required=True)
    parser.add_argument("--log-path", default="")
    parser.add_argument("--terminal", action="store_true")
    parser.add_argument("--stdin", action="store_true")
    parser.add_argument("--stdin-path", default="")
    parser.add_argument("--stdin-once", action="store_true")
    a = parser.parse_args(argv)
    return ShimOptions(id=a.id, bundle=a.bundle, runtime=a.runtime, runtime_root=a.runtime_root,
                       log_path=a.log_path, terminal=a.terminal, stdin=a.stdin,
                       stdin_path=a.stdin_path, stdin_once=a.stdin_once)


def main(argv: list[str] | None = None) -> int:
    options = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        shim = spawn(options)
    except ShimError as e:
        print(f"berth-shim: {e}", file=sys.stderr)
        return 1
    print(json.dumps({"pid": shim.pid, "socket": shim.socket_path, "container_pid": shim.container_pid}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
