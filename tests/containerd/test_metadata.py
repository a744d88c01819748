"""The metadata database: a database an older berth made (no images.parent or .made
column) gets the columns when opened, its images read as having no parent, new ones keep
theirs; `made` is worked out once for the old rows (the manifest berth makes for the
record: berth made the image), then only recorded (commit, import, load set it). Snapshot
keys by prefix (a remapped layer's copies) come from the key's index."""

from __future__ import annotations

import json
import sqlite3

from berth.containerd.content import ContentStore
from berth.containerd.images import ImageService
from berth.containerd.images.manifest import own_manifest
from berth.containerd.metadata import ImageRecord, Metadata, SnapshotRecord
from berth.containerd.snapshots import Snapshotter

_OLD_IMAGES = """CREATE TABLE images (id TEXT PRIMARY KEY, manifest_digest TEXT NOT NULL, config BLOB NOT NULL,
size INTEGER NOT NULL, layers TEXT NOT NULL, layer_blobs TEXT NOT NULL, chain_id TEXT NOT NULL,
created TEXT NOT NULL)"""


def test_an_older_database_gets_the_parent_column(tmp_path):
    path = str(tmp_path / "metadata.db")
    db = sqlite3.connect(path)
    db.execute(_OLD_IMAGES)
    db.execute("INSERT INTO images VALUES ('sha256:old','sha256:m',x'7b7d',1,'[]','[]','','2020')")
    db.commit()
    db.close()
    meta = Metadata(path)
    try:
        old = meta.image("sha256:old")
        assert old is not None and old.parent == "" and old.config == b"{}"
        meta.put_image(ImageRecord("sha256:new", "sha256:m2", b"{}", 1, [], [], "", "2021", parent="sha256:old"))
        assert meta.image("sha256:new").parent == "sha256:old"
        assert meta.image_children("sha256:old") == ["sha256:new"] and meta.image_children("sha256:new") == []
    finally:
        meta.close()
    Metadata(path).close()  # opened again: the column is there, nothing to add


def test_made_is_worked_out_once_for_an_older_database(tmp_path):
    content = ContentStore(str(tmp_path / "content"))
    config, _ = content.put(b"{}")
    ours = own_manifest(content, ImageRecord(config, "", b"{}", 0, [], [], "", ""))
    theirs = json.dumps({"schemaVersion": 2, "config": {"digest": config}, "layers": []}, indent=3).encode()
    path = str(tmp_path / "metadata.db")
    db = sqlite3.connect(path)
    db.execute(_OLD_IMAGES)
    for image_id, body in ((config, ours.body), ("sha256:pulled", theirs)):
        digest, _ = content.put(body)
        db.execute("INSERT INTO images VALUES (?,?,x'7b7d',1,'[]','[]','','2020')", (image_id, digest))
    db.commit()
    db.close()
    Metadata(path).close()  # a crash after the columns came and before they were filled in
    meta = Metadata(path)
    try:
        assert meta.made_pending
        ImageService(content, Snapshotter(str(tmp_path / "snapshots"), meta), meta)
        assert (meta.image(config).made, meta.image("sha256:pulled").made) == (True, False)
    finally:
        meta.close()
    meta = Metadata(path)
    assert not meta.made_pending and meta.image(config).made
    meta.close()


def test_snapshot_keys_by_prefix(tmp_path):
    meta = Metadata(str(tmp_path / "metadata.db"))
    try:
        for key in ("remapped:abc.1", "remapped:abc.2", "remapped:abd.1", "remapped:ab", "sha256:abc"):
            meta.put_snapshot(SnapshotRecord(key, "committed", ""))
        assert meta.snapshot_keys("remapped:abc.") == ["remapped:abc.1", "remapped:abc.2"]
        assert meta.snapshot_keys("remapped:ab") == ["remapped:ab", "remapped:abc.1", "remapped:abc.2",
                                                     "remapped:abd.1"]
        assert meta.snapshot_keys("nothing") == []
    finally:
        meta.close()
