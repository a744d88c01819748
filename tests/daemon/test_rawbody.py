"""A request body spliced from the client's socket into a pipe (daemon/http/rawbody.py):
the pump alone, on a socketpair and a pipe (every split of the wire, 1-byte chunks,
extensions, trailers: the body whole, what follows it left in the socket); what the
pump read past the body's end handed back even when the write of the last data is
stopped (the caller gave up); no fd for the pump, nothing handed over; then docker
cp's PUT through berthd, chunked and by its Content-Length, each followed by a pipelined
request; a body whose call fails first, read to its end and dropped (the connection
lives on); a client that leaves in the middle of a chunk (no FIFO, mount or thread
left); a bad chunk line (400)."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import io
import os
import random
import resource
import socket
import tarfile
import threading
import time
from collections.abc import Iterator

import h11
import httpx
import pytest
from berth.daemon.http import rawbody
from berth.daemon.http.chunked import ChunkedBody, ChunkError
from starlette.requests import ClientDisconnect
from tests.daemon.conftest import Berthd, run_container, wait_until
from tests.daemon.rawhttp import read_head

NEXT = b"GET /_ping HTTP/1.1\r\nHost: x\r\n\r\n"


def _chunked(data: bytes, sizes: list[int], ext: bool = False, trailer: bytes = b"") -> bytes:
    out, pos, i = [], 0, 0
    while pos < len(data):
        n = sizes[i % len(sizes)]
        out.append(b"%x%s\r\n%s\r\n" % (n if pos + n <= len(data) else len(data) - pos, b";a=b" if ext else b"",
                                          data[pos:pos + n]))
        pos, i = pos + n, i + 1
    return b"".join(out) + b"0\r\n" + trailer + b"\r\n"


def _pump(wire: bytes, rest: rawbody.Framing, prefix: bytes = b"", seed: int = 0,
          leave: bool = False) -> tuple[bytes, bytes]:
    """(what went into the pipe, what followed the body: what the pump read past its
    end, then what it left in the socket), the wire sent in random pieces with pauses
    so that the pump waits on an empty socket too; `leave`: the client closes after
    the wire."""
    ours, theirs = socket.socketpair()
    theirs.setblocking(False)
    r, w = os.pipe()
    os.set_blocking(w, False)
    stop = os.eventfd(0)
    got = bytearray()
    rnd = random.Random(seed)

    def send() -> None:
        pos = 0
        while pos < len(wire):
            n = rnd.choice((1, 2, 7, 100, 5000, 70000))
            ours.sendall(wire[pos:pos + n])
            pos += n
            if rnd.random() < 0.05:
                time.sleep(0.001)
        if leave:
            ours.shutdown(socket.SHUT_WR)

    def read() -> None:
        while chunk := os.read(r, 1 << 20):
            got.extend(chunk)

    threads = [threading.Thread(target=send), threading.Thread(target=read)]
    for t in threads:
        t.start()
    h = rawbody.Handover(prefix, rest, theirs)
    try:
        rawbody._pump(h, w, stop)
    finally:
        threads[0].join()
        os.close(w)
        threads[1].join()
        os.close(r)
        os.close(stop)
    ours.close()
    theirs.setblocking(True)
    left = h.after
    while chunk := theirs.recv(65536):
        left += chunk
    theirs.close()
    return bytes(got), left


@pytest.mark.parametrize("seed", range(8))
def test_the_pump_moves_a_chunked_body_whole(seed: int) -> None:
    rnd = random.Random(seed)
    data = rnd.randbytes(rnd.randint(1, 400_000))
    sizes = [1] if seed == 0 else [rnd.randint(1, 70000) for _ in range(5)]
    wire = _chunked(data, sizes, ext=seed % 2 == 1, trailer=b"X-T: 1\r\n" if seed % 3 == 0 else b"")
    assert _pump(wire + NEXT, ChunkedBody(), seed=seed) == (data, NEXT)


def test_the_pump_after_a_prefix_and_mid_chunk() -> None:
    """The protocol had read part of a chunk already: the decoder's state goes on."""
    data = os.urandom(300_000)
    wire = _chunked(data, [100_000])
    body = ChunkedBody()
    pieces, _ = body.feed(wire[:50_007])
    prefix = b"".join(pieces)
    assert body.left  # in the middle of the first chunk
    assert _pump(wire[50_007:] + NEXT, body, prefix=prefix) == (data, NEXT)


def test_the_pump_moves_a_length_body() -> None:
    data = os.urandom(1_000_003)
    assert _pump(data[10:] + NEXT, rawbody.Length(len(data) - 10), prefix=data[:10]) == (data, NEXT)


@pytest.mark.parametrize("wire", [b"zz\r\n", b"2\r\nabXY", b"1" * 5000, b"2\nab\r\n"])
def test_the_pump_refuses_a_bad_chunk(wire: bytes) -> None:
    with pytest.raises(ChunkError):
        _pump(b"3\r\nabc\r\n" + wire, ChunkedBody())


def test_the_pump_ends_with_the_client() -> None:
    with pytest.raises(ClientDisconnect):
        _pump(b"10000\r\n" + bytes(1000), ChunkedBody(), leave=True)
    with pytest.raises(ClientDisconnect):
        _pump(b"10", ChunkedBody(), leave=True)  # in a size line
    with pytest.raises(ClientDisconnect):
        _pump(bytes(1000), rawbody.Length(2000), leave=True)


class _Protocol:
    """protocol.py's side of the hand-over, as the pump's caller sees it: what it hands
    over, and what it is given back."""

    def __init__(self, h: rawbody.Handover) -> None:
        self.h = h
        self.handed = False
        self.back: tuple[rawbody.Framing | None, BaseException | None, bytes] | None = None

    def hand_over(self) -> rawbody.Handover:
        self.handed = True
        return self.h

    def take_back(self, rest: rawbody.Framing | None, error: BaseException | None, after: bytes) -> None:
        self.back = (rest, error, after)


def test_what_follows_the_body_goes_back_when_its_last_write_is_stopped() -> None:
    """The read that ends the body brings the last chunk's data and a pipelined request
    along; the pipe is full, and the caller gives up while the pump waits to write that
    data: the request's bytes still go back to the protocol (h11 reads it next)."""
    head = b"1;" + b"a" * 60 + b"\r\n"  # 64 bytes, read 8 at a time: the next read is 64 long
    wire = head + b"X\r\n1\r\nY\r\n0\r\n\r\n" + NEXT
    ours, theirs = socket.socketpair()
    ours.sendall(wire)
    theirs.setblocking(False)
    r, w = os.pipe()
    fcntl.fcntl(w, fcntl.F_SETPIPE_SZ, 4096)  # one slot: the spliced X fills it
    os.set_blocking(w, False)
    protocol = _Protocol(rawbody.Handover(b"", ChunkedBody(), theirs))

    async def stopped() -> None:
        task = asyncio.ensure_future(rawbody.RawBody(protocol).into(w))
        while not protocol.handed:
            await asyncio.sleep(0.01)
        task.cancel()  # the pump waits only once the pipe is full, before Y
        with pytest.raises(asyncio.CancelledError):
            await task

    try:
        asyncio.run(stopped())
        assert os.read(r, 100) == b"X"
    finally:
        for fd in (r, w):
            os.close(fd)
        ours.close()
    assert protocol.back is not None
    rest, error, after = protocol.back
    assert isinstance(error, asyncio.CancelledError) and rest is not None and rest.done
    assert after == NEXT


def test_h11_still_has_what_the_splice_reads() -> None:
    """protocol.py reads two of h11's internals (what it read past a request's head, and
    what is left of a Content-Length body); another h11 without them sends every body
    through the ASGI stream, and nothing else would fail: this does."""
    conn = h11.Connection(h11.SERVER)
    conn.receive_data(b"PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
    assert isinstance(conn.next_event(), h11.Request)
    assert conn._reader._remaining == 10
    assert bytes(conn._receive_buffer._extract(len(conn._receive_buffer))) == b"abc"


def test_no_fd_to_spare_fails_before_the_hand_over() -> None:
    """EMFILE for the pump's stop fd: the protocol has handed nothing over (its socket
    would stay paused, the dup open, with no take_back to come)."""
    ours, theirs = socket.socketpair()
    protocol = _Protocol(rawbody.Handover(b"", ChunkedBody(), theirs))
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)

    async def starved() -> int:
        spare: list[int] = []
        resource.setrlimit(resource.RLIMIT_NOFILE, (len(os.listdir("/proc/self/fd")) + 16, hard))
        try:
            with contextlib.suppress(OSError):
                while True:  # every fd the limit allows taken (the loop has its own)
                    spare.append(os.dup(0))
            with pytest.raises(OSError) as e:
                await rawbody.RawBody(protocol).into(1)
            return e.value.errno
        finally:
            for fd in spare:
                os.close(fd)
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))

    try:
        assert asyncio.run(starved()) == errno.EMFILE
    finally:
        ours.close()
        theirs.close()
    assert not protocol.handed


def _tar(name: str, data: bytes) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _head(cid: str, path: str, framing: str) -> bytes:
    return (f"PUT /containers/{cid}/archive?path={path} HTTP/1.1\r\nHost: x\r\n"
            f"Content-Type: application/x-tar\r\n{framing}\r\n\r\n").encode()


def _answers(s: socket.socket, count: int) -> bytes:
    """What the server sends until `count` responses have ended (each with a body of
    its own: the PUT's is empty, the ping's is OK) or it closes (a 400's connection:
    reset, as the body it left unread was dropped)."""
    got = b""
    while got.count(b"HTTP/1.1 ") < count or not (got.endswith(b"OK") or got.endswith(b"}")):
        try:
            chunk = s.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        got += chunk
    return got


def _file(api: httpx.Client, cid: str, path: str) -> bytes:
    r = api.get(f"/containers/{cid}/archive", params={"path": path})
    assert r.status_code == 200, r.text
    with tarfile.open(fileobj=io.BytesIO(r.content)) as tar:
        return tar.extractfile(tar.getmembers()[0]).read()  # type: ignore[union-attr]


@pytest.fixture(scope="module")
def box(berthd: Berthd) -> Iterator[str]:
    with berthd.client() as api:
        cid = run_container(api, {"Image": "busybox", "Cmd": ["sleep", "100000"]})
    yield cid
    with berthd.client() as api:
        api.delete(f"/containers/{cid}", params={"force": 1})


def _connect(berthd: Berthd) -> socket.socket:
    s = socket.socket(socket.AF_UNIX)
    s.connect(berthd.sock)
    return s


@pytest.mark.parametrize("sizes", [[1], [3, 1, 65536, 17], [32768]], ids=["1-byte", "odd", "32k"])
@pytest.mark.parametrize("late", [False, True], ids=["with the head", "after the head"])
def test_a_chunked_put_then_a_pipelined_request(berthd: Berthd, api: httpx.Client, box: str,
                                                sizes: list[int], late: bool) -> None:
    """The body sent with its head (the protocol has it all) or after a pause (spliced),
    with chunk extensions and a trailer; the next request on the connection is answered."""
    data = random.Random(f"{sizes}{late}").randbytes(20_000 if sizes == [1] else 3_000_000)
    name = f"c-{len(sizes)}-{sizes[0]}-{int(late)}.bin"  # the box is the module's: a name per case
    wire = _chunked(_tar(name, data), sizes, ext=True, trailer=b"X-Sum: 0\r\n")
    with _connect(berthd) as s:
        s.sendall(_head(box, "/tmp", "Transfer-Encoding: chunked") + (b"" if late else wire + NEXT))
        if late:
            time.sleep(0.3)
            s.sendall(wire + NEXT)
        got = _answers(s, 2)
    assert got.startswith(b"HTTP/1.1 200") and got.count(b"HTTP/1.1 200") == 2 and got.endswith(b"OK"), got[:300]
    assert _file(api, box, f"/tmp/{name}") == data


def test_a_put_by_its_length_then_a_pipelined_request(berthd: Berthd, api: httpx.Client, box: str) -> None:
    data = os.urandom(5_000_000)
    tar = _tar("l.bin", data)
    with _connect(berthd) as s:
        s.sendall(_head(box, "/tmp", f"Content-Length: {len(tar)}") + tar[:1000])
        time.sleep(0.3)
        s.sendall(tar[1000:] + NEXT)
        got = _answers(s, 2)
    assert got.count(b"HTTP/1.1 200") == 2 and got.endswith(b"OK"), got[:300]
    assert _file(api, box, "/tmp/l.bin") == data


@pytest.mark.parametrize("framing", ["chunked", "length"])
def test_a_body_whose_call_fails_is_dropped_and_the_connection_goes_on(berthd: Berthd, box: str,
                                                                       framing: str) -> None:
    """berth-containerd refuses the path before it reads: the rest of the 8 MB body is
    read and dropped, the 404 answered, and the next request on the connection too."""
    tar = _tar("x", bytes(8 << 20))
    wire, head = (_chunked(tar, [32768]), "Transfer-Encoding: chunked") if framing == "chunked" else \
        (tar, f"Content-Length: {len(tar)}")
    with _connect(berthd) as s:
        s.sendall(_head(box, "/nowhere", head))

        def send() -> None:
            s.sendall(wire + NEXT)

        t = threading.Thread(target=send)
        t.start()
        got = _answers(s, 2)
        t.join()
    assert got.startswith(b"HTTP/1.1 404") and b"Could not find the file /nowhere" in got, got[:300]
    assert got.count(b"HTTP/1.1 200") == 1 and got.endswith(b"OK"), got[-300:]


def _fifo_dirs(berthd: Berthd) -> list[str]:
    return [n for n in os.listdir(berthd.exec_root) if n.startswith("archive-")]


def _threads(berthd: Berthd) -> set[str]:
    assert berthd.proc is not None
    return set(os.listdir(f"/proc/{berthd.proc.pid}/task"))


def _containerd_mounts(berthd: Berthd) -> list[str]:
    with open(f"/proc/{berthd.containerd_pid()}/mountinfo") as f:
        return [line.split()[4] for line in f if berthd.root in line]


@pytest.mark.parametrize("framing", ["chunked", "length"])
def test_a_client_that_leaves_mid_chunk_leaves_nothing(berthd: Berthd, api: httpx.Client, framing: str) -> None:
    """A stopped container's files are mounted in berth-containerd for the call: the
    extraction is aborted, the mount and the FIFO go (berthd removes the FIFO only once
    the body's thread has ended), the body's thread ends (no thread started while the
    body came in is left in berthd), and the next cp works."""
    r = api.post("/containers/create", json={"Image": "busybox", "Cmd": ["true"]})
    assert r.status_code == 201, r.text
    cid = r.json()["Id"]
    try:
        mounts, threads = _containerd_mounts(berthd), _threads(berthd)
        tar = _tar("gone", bytes(4 << 20))
        wire, head = (_chunked(tar, [1 << 20]), "Transfer-Encoding: chunked") if framing == "chunked" else \
            (tar, f"Content-Length: {len(tar)}")
        with _connect(berthd) as s:
            s.sendall(_head(cid, "/", head) + wire[:100])
            time.sleep(0.3)
            s.sendall(wire[100:(2 << 20) + 333])  # into the middle of the third chunk
            assert wait_until(lambda: _containerd_mounts(berthd) != mounts)  # the call is under way
            started = _threads(berthd) - threads  # the body's among them
            assert started
        assert wait_until(lambda: not _fifo_dirs(berthd) and _containerd_mounts(berthd) == mounts), \
            (_fifo_dirs(berthd), _containerd_mounts(berthd), mounts)
        assert wait_until(lambda: not started & _threads(berthd)), started & _threads(berthd)
        r = api.put(f"/containers/{cid}/archive", params={"path": "/"}, content=_tar("after", b"ok"))
        assert r.status_code == 200, r.text
        assert _file(api, cid, "/after") == b"ok"
    finally:
        api.delete(f"/containers/{cid}", params={"force": 1})


@pytest.mark.parametrize("bad", [b"zz\r\n", b"1" * 5000, b"3\r\nabcXY"], ids=["not hex", "oversize", "no crlf"])
@pytest.mark.parametrize("late", [False, True], ids=["with the head", "after the head"])
def test_a_bad_chunk_is_a_400(berthd: Berthd, api: httpx.Client, box: str, bad: bytes, late: bool) -> None:
    first = b"%x\r\n%s\r\n" % (700_000, bytes(700_000))
    with _connect(berthd) as s:
        s.sendall(_head(box, "/tmp", "Transfer-Encoding: chunked") + (b"" if late else first + bad))
        if late:
            time.sleep(0.3)
            s.sendall(first)
            time.sleep(0.3)
            s.sendall(bad)
        got = _answers(s, 1)
    assert got.startswith(b"HTTP/1.1 400"), got[:300]
    assert api.get("/_ping").status_code == 200
    assert wait_until(lambda: not _fifo_dirs(berthd)), _fifo_dirs(berthd)


def test_a_client_that_waits_for_100_continue_gets_it(berthd: Berthd, api: httpx.Client, box: str) -> None:
    """curl's way with a big upload: the body only after the interim answer."""
    data = os.urandom(2_000_000)
    tar = _tar("e.bin", data)
    with _connect(berthd) as s:
        s.sendall(_head(box, "/tmp", f"Content-Length: {len(tar)}\r\nExpect: 100-continue"))
        head, _ = read_head(s)
        assert head.startswith(b"HTTP/1.1 100 "), head
        s.sendall(tar + NEXT)
        got = _answers(s, 2)
    assert got.startswith(b"HTTP/1.1 200") and got.count(b"HTTP/1.1 200") == 2 and got.endswith(b"OK"), got[:300]
    assert _file(api, box, "/tmp/e.bin") == data
