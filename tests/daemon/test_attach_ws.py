"""`GET /containers/{id}/attach/ws`: attach over a WebSocket, as dockerd serves it: the
handshake, the container's stdin from the client's messages, its output raw in binary
messages, a close answered. The client is websocket-client (the docker SDK's choice)."""

from __future__ import annotations

import json
import socket

import httpx
import websocket

from tests.daemon.conftest import Berthd, run_container


def _connect(berthd: Berthd, path: str) -> websocket.WebSocket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(berthd.sock)
    return websocket.create_connection(f"ws://docker{path}", socket=sock, timeout=20)


def _receive_until(ws: websocket.WebSocket, want: bytes) -> bytes:
    got = b""
    while want not in got:
        opcode, data = ws.recv_data()
        assert opcode == websocket.ABNF.OPCODE_BINARY, opcode
        got += data
    return got


def test_attach_over_a_websocket_carries_stdin_and_raw_output(berthd: Berthd, api: httpx.Client) -> None:
    cid = run_container(api, {"Image": "busybox", "Cmd": ["sh", "-c", "echo ready; cat; echo bye >&2"],
                              "OpenStdin": True, "AttachStdin": True})
    try:
        ws = _connect(berthd, f"/v1.43/containers/{cid}/attach/ws?logs=1&stream=1&stdin=1&stdout=1&stderr=1")
        assert _receive_until(ws, b"ready\n") == b"ready\n"  # raw: no 8-byte stdcopy header
        ws.send_binary(b"hello over ws\n")
        assert _receive_until(ws, b"hello over ws\n") == b"hello over ws\n"
        ws.send("as text\n")
        assert _receive_until(ws, b"as text\n") == b"as text\n"
        ws.ping(b"x")
        ws.close()  # our close is answered; the container keeps running
        assert api.get(f"/containers/{cid}/json").json()["State"]["Running"]
    finally:
        api.delete(f"/containers/{cid}", params={"force": 1})


def test_websocket_attach_refusals(berthd: Berthd, api: httpx.Client) -> None:
    r = api.get("/containers/nosuch/attach/ws", params={"stream": 1})
    assert r.status_code == 404 and json.loads(r.text)["message"] == "No such container: nosuch"
    cid = run_container(api, {"Image": "busybox", "Cmd": ["sleep", "300"]})
    try:
        r = api.get(f"/containers/{cid}/attach/ws")  # no upgrade: a clear 400, not a hang
        assert r.status_code == 400 and "websocket" in r.json()["message"]
        try:
            _connect(berthd, f"/containers/{cid}/attach/ws?detachKeys=ctrl-%3F")
            raise AssertionError("an invalid detach key spec was accepted")
        except websocket.WebSocketBadStatusException as e:
            assert e.status_code == 400
    finally:
        api.delete(f"/containers/{cid}", params={"force": 1})
