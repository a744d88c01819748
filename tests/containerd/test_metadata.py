"""The metadata database: a database an older berth made (no images.parent column)
gets the column when opened, its images read as having no parent, and new ones keep
theirs."""

from __future__ import annotations

import sqlite3

from berth.containerd.metadata import ImageRecord, Metadata

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
