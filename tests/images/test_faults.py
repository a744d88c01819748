"""kill -9 in the middle of a pull: after a restart the same pull completes, and a
blob is never visible in the store before it is whole and verified."""

from __future__ import annotations

import hashlib
import os
import subprocess
import threading
import uuid

import pytest

from tests.daemon.conftest import _cleanup
from tests.images import oci
from tests.images.conftest import BERTH, new_engine


def _blob(engine, digest: str) -> str:
    return os.path.join(engine.data_root, "containerd", "content", "blobs", "sha256", digest[7:])


@pytest.mark.parametrize("containerd", [True, False], ids=["berthd+containerd", "berthd"])
def test_kill9_mid_pull_then_pull_again(registry, proxy, layout, containerd):
    big = oci.Layer(oci.tar_bytes([("big/data", "file", os.urandom(4 << 20))]), "gzip")
    small = oci.Layer(oci.tar_bytes(oci.busybox_entries("survived a kill -9")), "gzip")
    desc = layout.image([small, big], ["cat", "/hello.txt"])
    name = f"kill9-{uuid.uuid4().hex[:6]}"
    layout.tag(desc, name)
    oci.push(layout, name, f"{registry.host}/{name}:v1")
    ref = f"{proxy.host}/{name}:v1"
    big_digest = oci.digest(big.blob)
    release = proxy.hold[big_digest] = threading.Event()
    engine = new_engine()
    try:
        puller = subprocess.Popen([BERTH, "-H", engine.host, "pull", ref], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        assert proxy.held.wait(60), ("the pull never reached the big layer", puller.poll(), engine.log_tail())
        engine.kill9(containerd=containerd)
        puller.communicate(timeout=60)
        assert puller.returncode != 0  # its daemon died under it
        assert not os.path.exists(_blob(engine, big_digest))  # half a blob is never in blobs/
        engine.start()
        release.set()  # the registry answers again (a killed containerd's connection is gone)
        r = subprocess.run([BERTH, "-H", engine.host, "run", "--rm", ref], capture_output=True, text=True,
                           timeout=300)
        assert r.returncode == 0, r.stderr
        assert r.stdout == "survived a kill -9"
        with open(_blob(engine, big_digest), "rb") as f:
            assert "sha256:" + hashlib.sha256(f.read()).hexdigest() == big_digest
        assert os.listdir(os.path.join(engine.data_root, "containerd", "content", "ingest")) == []
        if not containerd:
            # the containerd that kept running finished its download; the new pull joined it
            assert proxy.blob_gets[big_digest] == 1
    finally:
        release.set()
        _cleanup(engine)
