"""ADD: a local tar archive unpacked, a URL fetched (from a server on 127.0.0.1), a
heredoc COPY; the image read by tools nobody here wrote (umoci unpacks it, skopeo
inspects it: history and diff ids as berth says)."""

from __future__ import annotations

import http.server
import io
import json
import os
import subprocess
import tarfile
import tempfile
import threading
import uuid

from tests.build.conftest import berth, write_tree


def _tgz(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as t:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        body = b"fetched over http\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_add_archive_url_heredoc_and_oci_tools(engine, api, ctx):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/files/remote.txt"
        write_tree(ctx, {
            "Dockerfile": f"FROM busybox\nADD bundle.tgz /opt/\nADD {url} /web/\n"
                          "COPY <<EOF /etc/motd\nhello $HOSTNAME_UNSET heredoc\nEOF\n"
                          "RUN rm /bin/vi\n",
            "bundle.tgz": _tgz({"pkg/a.txt": b"A", "pkg/b.txt": b"B"}),
        })
        name = f"add-{uuid.uuid4().hex[:8]}:v1"
        r = berth(engine, "build", "-t", name, ctx)
        assert r.returncode == 0, r.stdout + r.stderr
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
    run = lambda *a: engine.docker("run", "--rm", name, *a)  # noqa: E731
    assert run("cat", "/opt/pkg/a.txt", "/opt/pkg/b.txt").stdout == "AB"
    assert run("cat", "/web/remote.txt").stdout == "fetched over http\n"
    assert run("stat", "-c", "%a", "/web/remote.txt").stdout == "600\n"
    assert run("cat", "/etc/motd").stdout == "hello  heredoc\n"
    assert run("ls", "/bin/vi").returncode != 0
    img = api.get(f"/images/{name}/json").json()
    work = tempfile.mkdtemp(prefix="berth-build-oci-")
    try:
        saved = api.get(f"/images/{name}/get").content
        with tarfile.open(fileobj=io.BytesIO(saved)) as tar:
            tar.extractall(f"{work}/layout", filter="data")
        out = subprocess.run(["skopeo", "inspect", "--config", f"oci:{work}/layout:v1"], capture_output=True,
                             text=True, check=True).stdout
        cfg = json.loads(out)
        assert cfg["rootfs"]["diff_ids"] == img["RootFS"]["Layers"]
        assert [h.get("created_by", "") for h in cfg["history"]][-1] == "/bin/sh -c rm /bin/vi"
        subprocess.run(["umoci", "unpack", "--image", f"{work}/layout:v1", f"{work}/bundle"], check=True,
                       capture_output=True, timeout=120)
        rootfs = f"{work}/bundle/rootfs"
        with open(f"{rootfs}/opt/pkg/a.txt") as f:
            assert f.read() == "A"
        assert not os.path.lexists(f"{rootfs}/bin/vi")  # the whiteout applied
        assert os.path.lexists(f"{rootfs}/bin/sh")
    finally:
        subprocess.run(["rm", "-rf", work], check=False)
