"""The shim's select loop dispatches a batch of events one callback after another: an
earlier callback may close what a later event is about (an exec's exit closes its
stdin copy while its FIFO's EOF is in the same batch). Seen with `docker compose exec
-T` against a container with a health check: the shim died of it, and with it the
container (ValueError: Invalid file descriptor: -1)."""

from __future__ import annotations

import os
import selectors

from berth.shim.stdin import StdinCopy


def test_a_stdin_copy_closed_earlier_in_the_batch_ignores_its_stale_event() -> None:
    fifo_r, fifo_w = os.pipe()
    target_r, target_w = os.pipe()
    sel = selectors.DefaultSelector()
    try:
        copy = StdinCopy(sel, fifo_r, target_w)
        os.close(fifo_w)  # the client hung up: EOF is readable
        batch = sel.select(0)
        assert [key.fd for key, _ in batch] == [fifo_r]
        copy.close()  # the exec's exit, handled first in the batch
        for key, _ in batch:
            key.data()  # raised ValueError before
        assert copy.closed and len(sel.get_map()) == 0
        assert os.read(target_r, 10) == b""  # the process's stdin saw EOF
    finally:
        sel.close()
        os.close(target_r)
