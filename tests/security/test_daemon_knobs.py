"""berthd's own knobs: the API over TCP only with verified TLS (certificates made here with
openssl), the audit line of every mutating request, and the daemon-wide confinement
defaults (--seccomp-profile, --no-new-privileges, --default-ulimit; --userns-remap: test_userns.py)."""

from __future__ import annotations

import io
import os
import socket
import ssl
import subprocess
import tarfile
import tempfile
import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.daemon.conftest import BERTHD, Berthd, _cleanup
from tests.security.conftest import IMAGE, _import


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


@pytest.fixture(scope="module")
def certs(work: str) -> dict[str, str]:
    d = os.path.join(work, "certs")
    os.makedirs(d)
    p = {n: os.path.join(d, n) for n in ("ca.key", "ca.pem", "server.key", "server.csr", "server.pem",
                                         "client.key", "client.csr", "client.pem", "ext.cnf", "rogue.key",
                                         "rogue.pem")}
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", p["ca.key"], "-out", p["ca.pem"],
             "-days", "2", "-subj", "/CN=berth-test-ca")
    with open(p["ext.cnf"], "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\n")
    for who in ("server", "client"):
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", p[f"{who}.key"], "-out", p[f"{who}.csr"],
                 "-subj", f"/CN=berth-test-{who}")
        _openssl("x509", "-req", "-in", p[f"{who}.csr"], "-CA", p["ca.pem"], "-CAkey", p["ca.key"],
                 "-CAcreateserial", "-out", p[f"{who}.pem"], "-days", "2", "-extfile", p["ext.cnf"])
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", p["rogue.key"], "-out", p["rogue.pem"],
             "-days", "2", "-subj", "/CN=rogue")  # self-signed: not the CA's
    return p


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _private(extra: list[str]) -> Berthd:
    suffix = uuid.uuid4().hex[:8]
    root = tempfile.mkdtemp(prefix="berthd-knobs-")
    os.chmod(root, 0o755)
    return Berthd(root=root, group=f"berth-knob-{suffix}", cgroup_parent=f"berth-knob-{suffix}", extra_args=extra)


@pytest.fixture(scope="module")
def tls_berthd(certs: dict[str, str], image_tar: str) -> Iterator[tuple[Berthd, int]]:
    port = _free_port()
    d = _private(["-H", f"tcp://127.0.0.1:{port}", "--tlsverify", "--tlscacert", certs["ca.pem"],
                  "--tlscert", certs["server.pem"], "--tlskey", certs["server.key"],
                  "--seccomp-profile", "unconfined", "--no-new-privileges", "--default-ulimit", "nofile=321:654"])
    try:
        d.start()
        with d.client() as c:
            _import(c, image_tar)
        yield d, port
    finally:
        _cleanup(d)


def _tls_client(certs: dict[str, str], port: int, cert: str | None, key: str | None) -> httpx.Client:
    ctx = ssl.create_default_context(cafile=certs["ca.pem"])
    if cert:
        ctx.load_cert_chain(cert, key)
    return httpx.Client(base_url=f"https://127.0.0.1:{port}", verify=ctx, timeout=30)


def test_tcp_without_tls_verification_is_refused_and_says_why() -> None:
    r = subprocess.run([BERTHD, "-H", "tcp://127.0.0.1:2375"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 2
    assert "only with TLS and client-certificate verification" in r.stderr
    assert "missing: --tlsverify --tlscacert --tlscert --tlskey" in r.stderr


def test_a_client_without_a_certificate_signed_by_the_ca_is_refused(tls_berthd, certs) -> None:
    _, port = tls_berthd
    for cert, key in ((None, None), (certs["rogue.pem"], certs["rogue.key"])):
        with pytest.raises((httpx.TransportError, ssl.SSLError)), _tls_client(certs, port, cert, key) as c:
            c.get("/_ping")
    with _tls_client(certs, port, certs["client.pem"], certs["client.key"]) as c:
        assert c.get("/_ping").text == "OK"


def test_the_docker_cli_gets_through_with_the_cas_certificate(tls_berthd, certs) -> None:
    d, port = tls_berthd
    r = subprocess.run(["docker", "-H", f"tcp://127.0.0.1:{port}", "--tlsverify", "--tlscacert", certs["ca.pem"],
                        "--tlscert", certs["client.pem"], "--tlskey", certs["client.key"], "version", "-f",
                        "{{.Server.Version}}"], capture_output=True, text=True, env=d.env, timeout=60)
    assert r.returncode == 0 and r.stdout.strip(), r.stderr


def test_every_mutating_request_is_an_audit_line(tls_berthd, certs) -> None:
    d, port = tls_berthd
    with d.client() as c:
        cid = c.post("/containers/create", json={"Image": IMAGE, "Cmd": ["true"]}).json()["Id"]
        c.get(f"/containers/{cid}/json")
        assert c.delete(f"/containers/{cid}").status_code == 204
    with _tls_client(certs, port, certs["client.pem"], certs["client.key"]) as c:
        c.post("/containers/nosuch/start")
    lines = [ln for ln in d.log_tail().splitlines() if "audit:" in ln]
    assert any("uid=0 pid=" in ln and "method=POST path=/containers/create" in ln and f"id={cid} status=201" in ln
               for ln in lines), lines
    assert any(f"method=DELETE path=/containers/{cid} id={cid} status=204" in ln for ln in lines), lines
    assert any("tls_subject=berth-test-client" in ln and "path=/containers/nosuch/start id=nosuch status=404" in ln
               for ln in lines), lines
    assert not any("/json" in ln for ln in lines)  # reads are not audited


def test_cp_in_over_tls_takes_the_asgi_stream(tls_berthd, certs) -> None:
    """TLS's bytes are decrypted in Python, so a PUT's body is not spliced from the socket
    (daemon/http/rawbody.py) but the ASGI stream written into the FIFO: chunked and by
    its length, a file bigger than the FIFO's pipe arrives whole (each its own name and
    data: the second cannot pass on the first's file)."""
    d, port = tls_berthd
    with _tls_client(certs, port, certs["client.pem"], certs["client.key"]) as c:
        cid = c.post("/containers/create", json={"Image": IMAGE, "Cmd": ["true"]}).json()["Id"]
        try:
            for name, chunked in (("length.bin", False), ("chunked.bin", True)):
                data = os.urandom(3 << 20)
                buf = io.BytesIO()
                with tarfile.open(fileobj=buf, mode="w") as tar:
                    info = tarfile.TarInfo(name)
                    info.size = len(data)
                    tar.addfile(info, io.BytesIO(data))
                body = buf.getvalue()
                content = iter([body[:1000], body[1000:]]) if chunked else body
                r = c.put(f"/containers/{cid}/archive", params={"path": "/tmp"}, content=content)
                assert r.status_code == 200, r.text
                r = c.get(f"/containers/{cid}/archive", params={"path": f"/tmp/{name}"})
                with tarfile.open(fileobj=io.BytesIO(r.content)) as tar:
                    assert tar.extractfile(name).read() == data  # type: ignore[union-attr]
                assert c.get("/_ping").text == "OK"
        finally:
            c.delete(f"/containers/{cid}", params={"force": 1})


def test_daemon_defaults_apply_to_every_container(tls_berthd) -> None:
    d, _ = tls_berthd
    r = d.docker("run", "--rm", IMAGE, "sh", "-c", "grep -E 'NoNewPrivs|Seccomp:' /proc/self/status; ulimit -n; "
                 "ulimit -Hn")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["NoNewPrivs:", "1", "Seccomp:", "0", "321", "654"]


def test_a_bad_daemon_seccomp_profile_stops_berthd(work: str) -> None:
    path = os.path.join(work, "bad.json")
    with open(path, "w") as f:
        f.write("{not json")
    r = subprocess.run([BERTHD, "--seccomp-profile", path], capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "Decoding seccomp profile failed" in r.stderr
