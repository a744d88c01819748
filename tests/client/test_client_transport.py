"""The CLI reads a container's output however the daemon frames it: 101 upgrade, chunked, or to close.

A small unix-socket server stands in for the daemon and answers with canned bytes.
"""

import os
import socket
import threading

import pytest

from berth.client import streams
from berth.client.api import Client, ConnectError, DaemonError


def frame(stream: int, data: bytes) -> bytes:
    return bytes([stream, 0, 0, 0]) + len(data).to_bytes(4, "big") + data


OUTPUT = frame(1, b"out 1\n") + frame(2, b"err\n") + frame(1, b"out 2\n")


@pytest.fixture
def daemon(tmp_path):
    """Serve one canned answer per connection; record the requests' heads."""
    path = str(tmp_path / "d.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen()
    answers: list[bytes] = []
    requests: list[bytes] = []

    def serve():
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    data += conn.recv(65536)
                head, _, body = data.partition(b"\r\n\r\n")
                if b"Transfer-Encoding: chunked" in head:
                    while not body.endswith(b"0\r\n\r\n"):
                        body += conn.recv(65536)
                requests.append(head + b"\r\n\r\n" + body)
                conn.sendall(answers.pop(0))

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"unix://{path}", answers, requests
    server.close()
    os.unlink(path)


def demux(stream) -> list[tuple[int, bytes]]:
    got: list[tuple[int, bytes]] = []
    streams.copy(stream, lambda s, d: got.append((s, d)), True)
    return got


EXPECTED = [(1, b"out 1\n"), (2, b"err\n"), (1, b"out 2\n")]


def test_an_upgraded_attach_stream_is_demultiplexed(daemon):
    host, answers, requests = daemon
    answers.append(b"HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\n"
                   b"Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n" + OUTPUT)
    stream = Client(host).stream("POST", "/containers/x/attach", {"stream": "1"},
                                 headers={"Connection": "Upgrade", "Upgrade": "tcp"})
    assert demux(stream) == EXPECTED
    assert requests[0].startswith(b"POST /v1.41/containers/x/attach?stream=1 HTTP/1.1\r\n")
    assert b"Upgrade: tcp" in requests[0]


def test_a_chunked_stream_split_mid_frame_is_demultiplexed(daemon):
    host, answers, _ = daemon
    pieces = [OUTPUT[:3], OUTPUT[3:13], OUTPUT[13:]]
    body = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"
    answers.append(b"HTTP/1.1 200 OK\r\nContent-Type: application/vnd.docker.multiplexed-stream\r\n"
                   b"Transfer-Encoding: chunked\r\n\r\n" + body)
    assert demux(Client(host).stream("GET", "/containers/x/logs")) == EXPECTED


def test_a_stream_that_ends_when_the_daemon_closes_is_read_to_the_end(daemon):
    host, answers, _ = daemon
    answers.append(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n\r\n" + OUTPUT)
    got: list[tuple[int, bytes]] = []
    streams.copy(Client(host).stream("GET", "/containers/x/logs"), lambda s, d: got.append((s, d)), None)
    assert got == EXPECTED


def test_a_tty_stream_is_passed_through_untouched():
    got: list[tuple[int, bytes]] = []
    streams.copy([b"hel", b"lo\n"], lambda s, d: got.append((s, d)), None)
    assert got == [(1, b"hello\n")]


def test_errors_carry_the_daemons_message(daemon):
    host, answers, _ = daemon
    body = b'{"message":"No such container: nosuch"}'
    answers.append(b"HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\n"
                   b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
    with pytest.raises(DaemonError) as err:
        Client(host).post("/containers/nosuch/stop")
    assert (err.value.status, err.value.message) == (404, "No such container: nosuch")


def test_a_streamed_upload_is_sent_chunked(daemon):
    host, answers, requests = daemon
    answers.append(b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 23\r\n\r\n'
                   b'{"status":"sha256:abc"}')
    stream = Client(host).stream("POST", "/images/create", {"fromSrc": "-"}, body=iter([b"tar", b"ball"]))
    assert list(stream.json_messages()) == [{"status": "sha256:abc"}]
    assert requests[0].endswith(b"3\r\ntar\r\n4\r\nball\r\n0\r\n\r\n")


def test_a_socket_the_user_may_not_open_says_so(tmp_path):
    path = tmp_path / "berth.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen()
    try:
        os.chmod(path, 0o600)
        pid = os.fork()
        if pid == 0:  # a user who is neither root nor in the group
            os.setgid(65534)
            os.setgroups([])
            os.setuid(65534)
            try:
                Client(f"unix://{path}").get("/_ping")
            except ConnectError as e:
                ok = "permission denied" in str(e) and str(path) in str(e) and "berth group" in str(e)
                os._exit(0 if ok else 2)
            os._exit(3)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
    finally:
        server.close()


def test_an_answer_that_arrives_a_byte_at_a_time_is_read_whole(monkeypatch):
    """Response keeps its own buffer over recv(): lines and chunks split anywhere still parse."""
    from berth.client import wire

    monkeypatch.setattr(wire, "_CHUNK", 1)
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    with ours, theirs:
        theirs.sendall(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
                       b"X-Odd:  spaced \r\n\r\n5;ext=1\r\nhello\r\n1\r\n!\r\n0\r\nTrailer: t\r\n\r\n")
        resp = wire.Response(ours)
        assert (resp.status, resp.reason, resp.header("x-odd")) == (200, "OK", "spaced")
        assert resp.read() == b"hello!"
        theirs.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 4\r\n\r\nnope")
        resp = wire.Response(ours)
        assert (resp.status, resp.read()) == (404, b"nope")
        theirs.sendall(b"HTTP/1.1 200 OK\r\n\r\nto the end")
        theirs.shutdown(socket.SHUT_WR)
        assert wire.Response(ours).read() == b"to the end"


@pytest.mark.parametrize("text", ["plain", "a b/c", "naïve €", "x?y&z=1#f+%", "😀", "", "-_.~:@!$'()*,;"])
def test_paths_and_queries_are_escaped_as_urllib_escapes_them(text):
    from urllib.parse import quote, urlencode

    from berth.client.api import _PATH_SAFE, _quote, query_string

    assert _quote(text, _PATH_SAFE) == quote(text)
    query = {"name": text, "t": 10, "changes": [text, "ENV A=1"], "empty": [], text: True}
    assert query_string(query) == urlencode(query, doseq=True)


@pytest.mark.parametrize("raw", [b'{"Id": "abc", "Names": ["/x"], "Ports": [], "Created": 1700000000}',
                                 b' [1, -2.5e3, true, false, null, "\\u00e9\\ud83d\\ude00"] \n',
                                 "[\"na\u00efve\"]".encode(), b"[NaN, Infinity]",
                                 b"", b"{", b"[1,]", b"{} x", b'"\x01"', b"\xff", "\ufeff{}".encode()])
def test_json_reads_as_the_json_package_reads(raw):
    import json

    from berth.client import jsontext

    def outcome(loads):
        try:
            return repr(loads(raw))  # repr: NaN != NaN
        except ValueError as e:
            return type(e), str(e)

    assert outcome(jsontext.loads) == outcome(json.loads)


@pytest.mark.parametrize("value", [{"Image": "busybox", "Cmd": ["sh", "-c", "echo \"é\"\n"], "Tty": False,
                                    "Env": None, "HostConfig": {"AutoRemove": True, "ConsoleSize": [24, 80]}},
                                   [], {}, "tab\there", 1.5, {1: "int key"}, ("a", 2)])
def test_json_writes_as_the_json_package_writes(value):
    import json

    from berth.client import jsontext

    assert jsontext.dumps(value) == json.dumps(value)
    assert jsontext.dumps(value, ensure_ascii=False) == json.dumps(value, ensure_ascii=False)
