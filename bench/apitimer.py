"""A relay between an API client and an engine's socket that records when the engine was
busy answering: per connection, from a request's first byte to its answer's last byte
(keep-alive: the next request starts a new span). The union of the spans over a window
is the engine's share of a client command, measured the same way for every engine; the
client's own start-up and its waits between polls are not in it."""

from __future__ import annotations

import os
import socket
import threading
import time


class Timer:
    def __init__(self, upstream: str, path: str) -> None:
        self.path, self._upstream = path, upstream
        self.spans: list[tuple[float, float]] = []
        self._lock = threading.Lock()
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.bind(path)
        self._sock.listen(64)
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._sock.accept()
            except OSError:
                return
            engine = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            engine.connect(self._upstream)
            state: dict[str, float | None] = {"start": None, "last": None}
            threading.Thread(target=self._pump, args=(client, engine, state, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(engine, client, state, False), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, state: dict, request: bool) -> None:
        try:
            while data := src.recv(1 << 16):
                now = time.perf_counter()
                with self._lock:
                    if not request:
                        state["last"] = now
                    elif state["start"] is None:
                        state["start"] = now
                    elif state["last"] is not None:  # the answer was complete: a new request
                        self.spans.append((state["start"], state["last"]))
                        state["start"], state["last"] = now, None
                dst.sendall(data)
        except OSError:
            pass
        finally:
            with self._lock:
                if request and state["start"] is not None and state["last"] is not None:
                    self.spans.append((state["start"], state["last"]))
                    state["start"] = None
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def busy(self, since: float, until: float) -> float:
        """Seconds within [since, until] when at least one request was being answered."""
        with self._lock:
            spans = sorted((max(a, since), min(b, until)) for a, b in self.spans if b > since and a < until)
        total, end = 0.0, since
        for a, b in spans:
            if b > end:
                total += b - max(a, end)
                end = b
        return total

    def close(self) -> None:
        self._sock.close()
        os.unlink(self.path)
