"""The build cache: which image a step made, by what it was made from.

A step is reused when its parent image, its instruction (as written, with the
build args it sees) and, for COPY and ADD, the content of its sources are the same.
The keys live in one small JSON file in berthd's data root (no image label carries
them), rewritten atomically; an entry whose image is gone is a miss. A new key is written
without fsyncs: one a crash loses is only a miss, and a step's fsyncs cost more than its check.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading

from berth.common.files import read_json, write_atomic, write_json_atomic


def key(parent: str, instruction: str, extra: str = "") -> str:
    return hashlib.sha256(f"{parent}\n{instruction}\n{extra}".encode()).hexdigest()


class BuildCache:
    def __init__(self, data_root: str) -> None:
        self.path = os.path.join(data_root, "build", "cache.json")
        self._lock = threading.Lock()

    def _load(self) -> dict[str, str]:
        try:
            value = read_json(self.path)
        except (FileNotFoundError, ValueError):
            return {}
        return value if isinstance(value, dict) else {}

    def get(self, k: str) -> str | None:
        with self._lock:
            return self._load().get(k)

    def put(self, k: str, image_id: str) -> None:
        with self._lock:
            entries = self._load()
            entries[k] = image_id
            os.makedirs(os.path.dirname(self.path), mode=0o700, exist_ok=True)
            write_atomic(self.path, json.dumps(entries, separators=(",", ":")).encode(), 0o600, durable=False)

    def prune(self) -> int:
        with self._lock:
            n = len(self._load())
            if n:
                write_json_atomic(self.path, {}, 0o600)  # durable: pruned keys must not come back
            return n
