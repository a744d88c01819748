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
