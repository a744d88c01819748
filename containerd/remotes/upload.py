"""Blobs and manifests into a registry: the distribution spec's push side.

A blob is checked first (HEAD: the registry may have it already), then mounted from
another repository of the same registry that is known to hold it (one request, no
bytes sent), and only then uploaded: POST opens an upload session, then either one
PUT carries the whole blob (monolithic) or PATCHes carry it in chunks and a final
PUT closes it; either way the registry checks the digest given with the PUT. Bytes
are read from the content store file as they are sent: nothing is held in memory.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from typing import Protocol

from berth.common import lazy

from .registry import RegistryError, Repository, TransportError

httpx = lazy.module("httpx")  # loaded by the first registry request: an idle berth-containerd holds none of it

# (bytes sent so far, total)
Sent = Callable[[int, int], None]
_READ = 1 << 20
# Bigger blobs go in PATCHes of this size: bounded requests, which proxies in front
# of registries often insist on (a body limit), at the cost of a round trip each.
CHUNK = 64 << 20
# A blob sent as it is made goes in smaller PATCHes: each waits for its bytes to exist.
SEGMENT = 8 << 20


def blob_exists(repo: Repository, digest: str) -> bool:
    """HEAD /v2/NAME/blobs/DIGEST: 200 yes, 404 no (anything else is an error)."""
    try:
        repo.send("HEAD", repo.url("blobs", digest), {})
    except RegistryError as e:
        if e.status == 404:
            return False
        raise
    return True


def mount(repo: Repository, digest: str, source: str) -> str:
    """Cross-repository mount of `digest` from repository `source` (same registry).

    Returns "" when mounted; otherwise the registry opened an ordinary upload instead
    (202, as the spec allows) and this is its Location, for upload() to use."""
    url = f"{repo.base}/v2/{repo.ref.path}/blobs/uploads/"
    resp = repo.send("POST", _with(url, {"mount": digest, "from": source}), {"Content-Length": "0"})
    if resp.status_code == 201:
        return ""
    return _location(resp, url)


def start(repo: Repository) -> str:
    """POST /v2/NAME/blobs/uploads/: a new upload session; its URL."""
    url = f"{repo.base}/v2/{repo.ref.path}/blobs/uploads/"
    return _location(repo.send("POST", url, {"Content-Length": "0"}), url)


def upload(repo: Repository, location: str, digest: str, path: str, size: int, sent: Sent,
           chunk: int = CHUNK) -> None:
    """The blob at `path` into the session at `location`: one PUT if it fits in a
    chunk, else PATCHes of `chunk` bytes (Content-Range) and an empty closing PUT."""
    if size <= chunk:
        _put(repo, location, digest, lambda: _read(path, 0, size, sent, size), size)
        return
    spans = ((o, min(chunk, size - o)) for o in range(0, size, chunk))
    location, _ = _patches(repo, location, spans, lambda o, n: _read(path, o, n, sent, size))
    _put(repo, location, digest, lambda: b"", 0)


def _patches(repo: Repository, location: str, spans: Iterable[tuple[int, int]],
             read: Callable[[int, int], Iterator[bytes]]) -> tuple[str, int]:
    """A PATCH (Content-Range) of each (offset, length) span, its body read by `read`
    (again, if a challenge makes it resend); the session's last Location and the bytes sent."""
    end = 0
    for offset, n in spans:
        headers = {"Content-Type": "application/octet-stream", "Content-Length": str(n),
                   "Content-Range": f"{offset}-{offset + n - 1}"}
        resp = repo.send("PATCH", location, headers, body=lambda o=offset, n=n: read(o, n))  # type: ignore[misc]
        location = _location(resp, location)
        end = offset + n
    return location, end


class Growing(Protocol):
    """A blob still being written (a push's gzip of a plain layer), readable from `fd`."""

    fd: int
    finished: bool
    digest: str

    def wait(self, offset: int, want: int) -> int: ...


def upload_growing(repo: Repository, location: str, blob: Growing, segment: int = SEGMENT) -> tuple[str, int]:
    """A blob sent while it is made (its digest known only at the end): PATCHes of
    `segment` bytes with Content-Range as they are written, then the closing PUT with the
    digest. Each PATCH reads its bytes again if a challenge makes it resend. Returns
    (digest, size)."""
    location, size = _patches(repo, location, _written(blob, segment), lambda o, n: _pread(blob.fd, o, n))
    _put(repo, location, blob.digest, lambda: b"", 0)
    return blob.digest, size


def _written(blob: Growing, segment: int) -> Iterator[tuple[int, int]]:
    """(offset, length) of each segment of the blob as it is written, until it is finished."""
    offset = 0
    while True:
        end = blob.wait(offset, segment)
        if end == offset and blob.finished:
            return
        n = min(segment, end - offset)
        yield offset, n
        offset += n


def put_manifest(repo: Repository, tag: str, media_type: str, body: bytes) -> str:
    """PUT /v2/NAME/manifests/TAG; the digest the registry answers with (or ours)."""
    resp = repo.send("PUT", repo.url("manifests", tag), {"Content-Type": media_type},
                     body=lambda: body)
    return resp.headers.get("Docker-Content-Digest", "")


def _put(repo: Repository, location: str, digest: str, body: Callable[[], bytes | Iterator[bytes]],
         size: int) -> None:
    headers = {"Content-Type": "application/octet-stream", "Content-Length": str(size)}
    resp = repo.send("PUT", _with(location, {"digest": digest}), headers, body=body)
    if resp.status_code not in (201, 204):
        raise RegistryError(resp.status_code, "", f"upload of {digest}: unexpected status {resp.status_code}")


def _read(path: str, offset: int, length: int, sent: Sent, total: int) -> Iterator[bytes]:
    """`length` bytes of the file from `offset`, told to `sent` as they go."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as e:
        raise TransportError(f"read {path}: {e.strerror}") from None
    try:
        done = 0
        for data in _pread(fd, offset, length):
            done += len(data)
            sent(offset + done, total)
            yield data
    finally:
        os.close(fd)


def _pread(fd: int, offset: int, length: int) -> Iterator[bytes]:
    done = 0
    while done < length:
        data = os.pread(fd, min(_READ, length - done), offset + done)
        if not data:
            raise TransportError(f"read: the blob is shorter than {offset + length} bytes")
        done += len(data)
        yield data


def _with(url: str, params: dict[str, str]) -> str:
    """The URL with these query parameters added (an upload's Location carries its own)."""
    return str(httpx.URL(url).copy_merge_params(params))


def _location(resp: httpx.Response, base: str) -> str:
    where = resp.headers.get("Location", "")
    if not where:
        raise RegistryError(resp.status_code, "", f"upload to {base}: the registry gave no Location")
    return str(httpx.URL(base).join(where))
