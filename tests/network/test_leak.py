"""200 run/rm cycles with published ports leave the host as they found it: the same
links, namespaces, NAT rules, berthd's sockets, processes."""

from __future__ import annotations

import socket

from tests.daemon.conftest import Berthd, _pids_mentioning, wait_until
from tests.network.conftest import host_state

CYCLES = 200


def _get(port: int) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"GET /hostname HTTP/1.0\r\n\r\n")
        data = bytearray()
        while chunk := s.recv(65536):
            data += chunk
    return bytes(data)


def test_200_run_rm_cycles_with_published_ports_leak_nothing(berthd: Berthd, api) -> None:  # noqa: ANN001
    def state() -> tuple:
        return host_state(berthd), sorted(_pids_mentioning(berthd.root))

    before = state()
    for i in range(CYCLES):
        port = 18400 + i % 50
        r = api.post("/containers/create", json={
            "Image": "busybox", "Cmd": ["httpd", "-f", "-p", "80", "-h", "/etc"],
            "HostConfig": {"PortBindings": {"80/tcp": [{"HostPort": str(port)}], "81/udp": [{}]}}})
        assert r.status_code == 201, r.text
        cid = r.json()["Id"]
        assert api.post(f"/containers/{cid}/start").status_code == 204
        if i % 20 == 0:  # the port works, now and then (every fetch costs a retry loop)
            assert wait_until(lambda port=port, cid=cid: _safe(port).endswith(cid[:12].encode() + b"\n"))
        assert api.delete(f"/containers/{cid}", params={"force": 1}).status_code == 204
    assert wait_until(lambda: state() == before), (state(), before)


def _safe(port: int) -> bytes:
    try:
        return _get(port)
    except OSError:
        return b""
