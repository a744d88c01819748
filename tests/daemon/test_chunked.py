"""berthd's own decoding of chunked request bodies (daemon/http/chunked.py): every way a
body may be cut into reads gives the same bytes, and what is not chunked encoding is
refused; then a chunked PUT through berthd, a byte at a time, with keep-alive after it."""

from __future__ import annotations

import io
import random
import socket
import tarfile

import httpx
import pytest
from berth.daemon.http.chunked import ChunkedBody, ChunkError
from tests.daemon.conftest import Berthd, run_container


def _encode(parts: list[bytes], ext: bool = False, trailer: bytes = b"") -> bytes:
    out = b"".join(b"%x%s\r\n%s\r\n" % (len(p), b";name=v" if ext else b"", p) for p in parts if p)
    return out + b"0\r\n" + trailer + b"\r\n"


def _decode(wire: bytes, cuts: list[int]) -> tuple[bytes, bytes, bool]:
    d = ChunkedBody()
    body, rest, last = b"", b"", 0
    for cut in [*cuts, len(wire)]:
        pieces, tail = d.feed(wire[last:cut])
        body += b"".join(pieces)
        rest += tail
        last = cut
        if d.done:
            rest += wire[cut:]
            break
    return body, rest, d.done


@pytest.mark.parametrize("seed", range(20))
def test_any_split_gives_the_body(seed: int) -> None:
    rnd = random.Random(seed)
    parts = [rnd.randbytes(rnd.randint(0, 3000)) for _ in range(rnd.randint(0, 6))]
    wire = _encode(parts, ext=seed % 2 == 0, trailer=b"X-Sum: 1\r\n" if seed % 3 == 0 else b"")
    cuts = sorted(rnd.sample(range(len(wire)), min(len(wire), rnd.randint(0, 40))))
    assert _decode(wire + b"GET /next", cuts) == (b"".join(parts), b"GET /next", True)


def test_byte_at_a_time() -> None:
    wire = _encode([b"hello", b" ", b"world" * 100])
    assert _decode(wire, list(range(1, len(wire)))) == (b"hello " + b"world" * 100, b"", True)


@pytest.mark.parametrize("wire", [b"zz\r\nab\r\n", b"2\r\nabXY", b"\r\n", b"2\nab\r\n", b"-1\r\n", b"1" * 5000])
def test_malformed_is_refused(wire: bytes) -> None:
    with pytest.raises(ChunkError):
        ChunkedBody().feed(wire)


def test_a_chunked_put_through_berthd(berthd: Berthd, api: httpx.Client) -> None:
    """Cut into odd reads, then another request on the same connection."""
    cid = run_container(api, {"Image": "busybox", "Cmd": ["sleep", "1000"]})
    try:
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            data = random.Random(1).randbytes(300_000)
            info = tarfile.TarInfo("chunked.bin")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        wire = _encode([buf.getvalue()[i:i + 7000] for i in range(0, len(buf.getvalue()), 7000)])
        s = socket.socket(socket.AF_UNIX)
        s.connect(berthd.sock)
        s.sendall(f"PUT /containers/{cid}/archive?path=/tmp HTTP/1.1\r\nHost: x\r\n"
                  "Transfer-Encoding: chunked\r\nContent-Type: application/x-tar\r\n\r\n".encode())
        for i in range(0, len(wire), 1 << 15):
            s.sendall(wire[i:i + (1 << 15)])
        s.sendall(b"GET /_ping HTTP/1.1\r\nHost: x\r\n\r\n")
        got = b""
        while got.count(b"HTTP/1.1 200") < 2 or not got.endswith(b"OK"):
            chunk = s.recv(65536)
            assert chunk, got
            got += chunk
        s.close()
        r = api.get(f"/containers/{cid}/archive", params={"path": "/tmp/chunked.bin"})
        with tarfile.open(fileobj=io.BytesIO(r.content)) as tar:
            assert tar.extractfile("chunked.bin").read() == data  # type: ignore[union-attr]
    finally:
        api.delete(f"/containers/{cid}", params={"force": 1})
