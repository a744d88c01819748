"""Blobs from a registry into the content store: streamed, verified, each fetched once.

Bytes go straight from the socket into the store's ingest file and its running
sha256; the blob is renamed into place only when its size and digest are the ones
the manifest promised (content/store.py), so a wrong or cut-off download leaves
nothing under the digest. Two pulls that want the same blob at the same time share
one download: the second waits for the first and sees its progress.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from berth.common import lazy

from ..content import ContentStore
from ..errors import InvalidArgument
from .media import Descriptor
from .registry import Repository, TransportError

httpx = lazy.module("httpx")  # loaded by the first registry request: an idle berth-containerd holds none of it

# (status, current, total): "Downloading", "Verifying Checksum", "Download complete"
Progress = Callable[[str, int, int], None]
_CHUNK = 1 << 20


class FetchError(Exception):
    """A blob that could not be fetched as promised; str() is docker's wording."""


@dataclass
class _Flight:
    watchers: list[Progress]
    done: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None

    def tell(self, status: str, current: int, total: int) -> None:
        for w in list(self.watchers):
            w(status, current, total)


class Fetcher:
    def __init__(self, content: ContentStore) -> None:
        self.content = content
        self._flights: dict[str, _Flight] = {}
        self._lock = threading.Lock()
        self.downloads = 0  # blobs actually transferred (for the curious: tests, bench)

    def fetch(self, repo: Repository, desc: Descriptor, progress: Progress) -> bool:
        """Make sure `desc`'s blob is in the store; True if this call downloaded it."""
        with self._lock:
            if self.content.exists(desc.digest):
                return False
            flight = self._flights.get(desc.digest)
            if flight is not None:
                flight.watchers.append(progress)
                owner = False
            else:
                flight = self._flights[desc.digest] = _Flight([progress])
                owner = True
        if not owner:
            flight.done.wait()
            if flight.error is not None:
                raise FetchError(str(flight.error))
            return False
        try:
            self._download(repo, desc, flight)
            self.downloads += 1
            return True
        except BaseException as e:
            flight.error = e
            raise
        finally:
            with self._lock:
                del self._flights[desc.digest]
            flight.done.set()

    def _download(self, repo: Repository, desc: Descriptor, flight: _Flight) -> None:
        writer = self.content.writer()
        try:
            with repo.blob(desc.digest) as resp:
                total = desc.size or int(resp.headers.get("Content-Length") or 0)
                step = max(512 << 10, total // 50)
                told = 0
                try:
                    for chunk in resp.iter_raw(_CHUNK):
                        writer.write(chunk)
                        if desc.size and writer.size > desc.size:
                            raise FetchError(f"failed to download {desc.digest}: the registry sent more "
                                             f"than the {desc.size} bytes the manifest says")
                        if writer.size - told >= step:
                            told = writer.size
                            flight.tell("Downloading", told, total)
                except httpx.HTTPError as e:
                    raise TransportError(f"failed to download {desc.digest}: {e or type(e).__name__}") from None
            if desc.size and writer.size != desc.size:
                raise FetchError(f"failed to download {desc.digest}: unexpected EOF "
                                 f"(got {writer.size} of {desc.size} bytes)")
            flight.tell("Downloading", writer.size, total)
            flight.tell("Verifying Checksum", 0, 0)
            try:
                writer.commit(expected=desc.digest)
            except InvalidArgument:
                raise FetchError(f"filesystem layer verification failed for digest {desc.digest}") from None
            flight.tell("Download complete", 0, 0)
        except BaseException:
            writer.abort()
            raise
