"""Layers in parallel, each fetched once: two pulls that want the same layer at the
same time share one download (counted by the proxy in front of the registry)."""

from __future__ import annotations

import json
import os
import threading
import uuid

from tests.images import oci
from tests.images.conftest import pull_lines


def _image(layout: oci.Layout, host: str, shared: oci.Layer, name: str) -> str:
    own = oci.Layer(oci.tar_bytes([(f"own/{name}", "file", os.urandom(2048))]), "gzip")
    desc = layout.image([shared, own], ["true"])
    layout.tag(desc, name)
    oci.push(layout, name, f"{host}/{name}:v1")
    return f"{host}/{name}:v1"


def test_two_pulls_sharing_a_layer_download_it_once(engine, registry, proxy, layout):
    shared = oci.Layer(oci.tar_bytes([("shared/blob", "file", os.urandom(4 << 20))]), "gzip")
    tag = uuid.uuid4().hex[:6]
    a = _image(layout, registry.host, shared, f"share-a-{tag}").replace(registry.host, proxy.host)
    b = _image(layout, registry.host, shared, f"share-b-{tag}").replace(registry.host, proxy.host)
    shared_digest = oci.digest(shared.blob)
    release = proxy.hold[shared_digest] = threading.Event()
    results: dict[str, list[dict]] = {}

    def pull(ref: str, seen: threading.Event | None = None) -> None:
        with engine.client(timeout=300) as c:
            name, tag_ = ref.rsplit(":", 1)
            with c.stream("POST", "/images/create", params={"fromImage": name, "tag": tag_}) as r:
                msgs = []
                for line in r.iter_lines():
                    if line.strip():
                        msgs.append(json.loads(line))
                        # B's own layer is done: its job for the shared layer (picked first) has long
                        # been waiting on A's download by now
                        if seen is not None and msgs[-1].get("status") == "Pull complete":
                            seen.set()
                results[ref] = msgs

    first = threading.Thread(target=pull, args=(a,))
    first.start()
    assert proxy.held.wait(60), "pull A never reached the shared layer"
    b_own_done = threading.Event()
    second = threading.Thread(target=pull, args=(b, b_own_done))
    second.start()
    assert b_own_done.wait(60)
    release.set()
    first.join(120)
    second.join(120)
    for ref in (a, b):
        assert results[ref][-1]["status"].startswith("Status: Downloaded newer image"), results[ref][-3:]
    assert proxy.blob_gets[shared_digest] == 1
    short = shared_digest[7:19]
    b_statuses = [m["status"] for m in results[b] if m.get("id") == short]
    assert "Downloading" in b_statuses and b_statuses[-1] == "Pull complete"  # A's progress, seen by B


def test_many_layers_in_parallel(api, registry, proxy, layout):
    layers = [oci.Layer(oci.tar_bytes([(f"l{i}/data", "file", os.urandom(256 << 10))]), ("gzip", "zstd", "tar")[i % 3])
              for i in range(7)]
    desc = layout.image(layers, ["true"])
    name = f"seven-{uuid.uuid4().hex[:6]}"
    layout.tag(desc, name)
    oci.push(layout, name, f"{registry.host}/{name}:v1")
    status, msgs = pull_lines(api, f"{proxy.host}/{name}:v1")
    assert status == 200 and "Downloaded newer image" in msgs[-1]["status"]
    assert sorted(proxy.blob_gets.values()) == [1] * 8  # seven layers and the config, once each
    assert sum(1 for m in msgs if m.get("status") == "Waiting") == 3  # beyond the 4 download slots
