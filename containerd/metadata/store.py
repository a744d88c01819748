"""Metadata in SQLite: images and their names, containers, snapshot records.

Every change runs in one transaction (BEGIN IMMEDIATE ... COMMIT), so a crash
leaves either the old state or the new one. One connection shared by the gRPC
worker threads, serialised by a lock; the queries are tiny.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
from dataclasses import dataclass, field
from typing import Iterator

_MADE_WORKED_OUT = 1  # PRAGMA user_version: images.made filled in for older rows
_SCHEMA = """
CREATE TABLE IF NOT EXISTS images (
    id TEXT PRIMARY KEY,            -- sha256:<config digest>
    manifest_digest TEXT NOT NULL,
    config BLOB NOT NULL,
    size INTEGER NOT NULL,
    layers TEXT NOT NULL,           -- JSON list of diff ids, bottom first
    layer_blobs TEXT NOT NULL,      -- JSON list of layer blob digests
    chain_id TEXT NOT NULL,         -- top committed snapshot
    created TEXT NOT NULL,
    parent TEXT NOT NULL DEFAULT '', -- the image this one was committed over (docker's Parent), '' for none
    made INTEGER NOT NULL DEFAULT 0  -- 1: berth made it (commit, build, import, load), not a registry
);
CREATE TABLE IF NOT EXISTS image_names (
    name TEXT PRIMARY KEY,
    image_id TEXT NOT NULL REFERENCES images(id)
);
CREATE TABLE IF NOT EXISTS containers (
    id TEXT PRIMARY KEY,
    image TEXT NOT NULL,
    spec BLOB NOT NULL,
    runtime TEXT NOT NULL,
    labels TEXT NOT NULL,
    created TEXT NOT NULL,
    snapshot TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS blob_sources (  -- where a blob is known to be: cross-repository mounts
    digest TEXT NOT NULL,
    host TEXT NOT NULL,             -- the registry, host[:port]
    repo TEXT NOT NULL,             -- a repository there that has it (pulled from, or pushed to)
    PRIMARY KEY (digest, host, repo)
);
CREATE TABLE IF NOT EXISTS compressed_layers (  -- push: the gzip made once of a plain layer (moby's v2 metadata)
    diff_id TEXT PRIMARY KEY,       -- the plain layer's digest
    digest TEXT NOT NULL            -- its gzip blob in the content store, as pushed
);
CREATE TABLE IF NOT EXISTS snapshots (
    key TEXT PRIMARY KEY,           -- chain id (committed) or active:<container id>
    kind TEXT NOT NULL,             -- committed | active
    parent TEXT NOT NULL            -- key of the parent, '' for a base layer
);
"""


@dataclass
class ImageRecord:
    id: str
    manifest_digest: str
    config: bytes
    size: int
    layers: list[str]
    layer_blobs: list[str]
    chain_id: str
    created: str
    names: list[str] = field(default_factory=list)
    parent: str = ""                  # docker's Parent: set by commit and the builder's steps
    made: bool = False                # berth made it (push sends it as dockerd pushes its own)


@dataclass
class ContainerRecord:
    id: str
    image: str
    spec: bytes
    runtime: str
    labels: dict[str, str]
    created: str
    snapshot: str


@dataclass
class SnapshotRecord:
    key: str
    kind: str
    parent: str


class Metadata:
    def __init__(self, path: str) -> None:
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._lock = threading.RLock()
        self._db.executescript(_SCHEMA)
        # what the rows an older berth wrote lack (ImageService fills in `made`)
        self._add_columns("images", {"parent": "TEXT NOT NULL DEFAULT ''", "made": "INTEGER NOT NULL DEFAULT 0"})
        # `made` is worked out after its column is there: until that is done and said
        # (user_version), a crash in between leaves it to do at the next start
        self.made_pending = self._db.execute("PRAGMA user_version").fetchone()[0] < _MADE_WORKED_OUT

    def made_worked_out(self) -> None:
        self._db.execute(f"PRAGMA user_version = {_MADE_WORKED_OUT}")
        self.made_pending = False

    def _add_columns(self, table: str, columns: dict[str, str]) -> None:
        """Columns a newer berth added, put into a database an older one made."""
        have = {r[1] for r in self._db.execute(f"PRAGMA table_info({table})")}
        for name, decl in columns.items():
            if name not in have:
                self._db.execute(f"ALTER TABLE {table} ADD COLUMN {name} {decl}")

    @contextlib.contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; nested calls join the outer one."""
        with self._lock:
            if self._db.in_transaction:
                yield self._db
                return
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _query(self, sql: str, args: tuple = ()) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    # ---------------------------------------------------------------- images
    def put_image(self, img: ImageRecord) -> None:
        with self.tx() as db:
            db.execute(
                "INSERT OR IGNORE INTO images VALUES (?,?,?,?,?,?,?,?,?,?)",
                (img.id, img.manifest_digest, img.config, img.size, json.dumps(img.layers),
                 json.dumps(img.layer_blobs), img.chain_id, img.created, img.parent, int(img.made)),
            )

    def set_name(self, name: str, image_id: str) -> str | None:
        """Point `name` at an image; returns the image it pointed at before, if another."""
        with self.tx() as db:
            row = db.execute("SELECT image_id FROM image_names WHERE name=?", (name,)).fetchone()
            db.execute("INSERT OR REPLACE INTO image_names VALUES (?,?)", (name, image_id))
        return row[0] if row and row[0] != image_id else None

    def remove_name(self, name: str) -> None:
        with self.tx() as db:
            db.execute("DELETE FROM image_names WHERE name=?", (name,))

    def delete_image(self, image_id: str) -> None:
        with self.tx() as db:
            db.execute("DELETE FROM image_names WHERE image_id=?", (image_id,))
            db.execute("DELETE FROM images WHERE id=?", (image_id,))

    def image_for_name(self, name: str) -> str | None:
        rows = self._query("SELECT image_id FROM image_names WHERE name=?", (name,))
        return rows[0][0] if rows else None

    def images(self) -> list[ImageRecord]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM images ORDER BY created").fetchall()
            names = self._db.execute("SELECT name, image_id FROM image_names ORDER BY name").fetchall()
        by_id: dict[str, list[str]] = {}
        for name, image_id in names:
            by_id.setdefault(image_id, []).append(name)
        return [_image(r, by_id.get(r[0], [])) for r in rows]

    def image(self, image_id: str) -> ImageRecord | None:
        rows = self._query("SELECT * FROM images WHERE id=?", (image_id,))
        if not rows:
            return None
        names = [r[0] for r in self._query("SELECT name FROM image_names WHERE image_id=? ORDER BY name", (image_id,))]
        return _image(rows[0], names)

    def set_made(self, image_id: str) -> None:
        with self.tx() as db:
            db.execute("UPDATE images SET made=1 WHERE id=?", (image_id,))

    def image_children(self, image_id: str) -> list[str]:
        """The images committed over this one (docker's imageStore.Children)."""
        return [r[0] for r in self._query("SELECT id FROM images WHERE parent=?", (image_id,))]

    # ------------------------------------------------------------ containers
    def put_container(self, c: ContainerRecord) -> bool:
        """Insert; False when the id is taken."""
        with self.tx() as db:
            if db.execute("SELECT 1 FROM containers WHERE id=?", (c.id,)).fetchone():
                return False
            db.execute(
                "INSERT INTO containers VALUES (?,?,?,?,?,?,?)",
                (c.id, c.image, c.spec, c.runtime, json.dumps(c.labels), c.created, c.snapshot),
            )
        return True

    def container(self, cid: str) -> ContainerRecord | None:
        rows = self._query("SELECT * FROM containers WHERE id=?", (cid,))
        return _container(rows[0]) if rows else None

    def containers(self) -> list[ContainerRecord]:
        return [_container(r) for r in self._query("SELECT * FROM containers ORDER BY created")]

    def delete_container(self, cid: str) -> None:
        with self.tx() as db:
            db.execute("DELETE FROM containers WHERE id=?", (cid,))

    def containers_using(self, image_id: str) -> list[str]:
        return [r[0] for r in self._query("SELECT id FROM containers WHERE image=?", (image_id,))]

    # ---------------------------------------------------------- blob sources
    def add_blob_source(self, digest: str, host: str, repo: str) -> None:
        with self.tx() as db:
            db.execute("INSERT OR IGNORE INTO blob_sources VALUES (?,?,?)", (digest, host, repo))

    def blob_sources(self, digest: str, host: str) -> list[str]:
        return [r[0] for r in self._query("SELECT repo FROM blob_sources WHERE digest=? AND host=? ORDER BY repo",
                                          (digest, host))]

    def forget_blob(self, digest: str) -> None:
        with self.tx() as db:
            db.execute("DELETE FROM blob_sources WHERE digest=?", (digest,))

    # ----------------------------------------------------- compressed layers
    def set_compressed(self, diff_id: str, digest: str) -> None:
        with self.tx() as db:
            db.execute("INSERT OR REPLACE INTO compressed_layers VALUES (?,?)", (diff_id, digest))

    def compressed(self, diff_id: str) -> str | None:
        rows = self._query("SELECT digest FROM compressed_layers WHERE diff_id=?", (diff_id,))
        return rows[0][0] if rows else None

    def compressed_layers(self) -> dict[str, str]:
        """diff id -> gzip digest, every one recorded."""
        return dict(self._query("SELECT diff_id, digest FROM compressed_layers"))  # type: ignore[arg-type]

    def forget_compressed(self, diff_id: str) -> None:
        with self.tx() as db:
            db.execute("DELETE FROM compressed_layers WHERE diff_id=?", (diff_id,))

    # ------------------------------------------------------------- snapshots
    def put_snapshot(self, s: SnapshotRecord) -> None:
        with self.tx() as db:
            db.execute("INSERT OR REPLACE INTO snapshots VALUES (?,?,?)", (s.key, s.kind, s.parent))

    def snapshot(self, key: str) -> SnapshotRecord | None:
        rows = self._query("SELECT * FROM snapshots WHERE key=?", (key,))
        return SnapshotRecord(*rows[0]) if rows else None

    def snapshots(self) -> list[SnapshotRecord]:
        return [SnapshotRecord(*r) for r in self._query("SELECT * FROM snapshots ORDER BY key")]

    def snapshot_keys(self, prefix: str) -> list[str]:
        """The keys that start with `prefix` (a range of the primary key's index, no scan)."""
        if not prefix:
            return [r.key for r in self.snapshots()]
        end = prefix[:-1] + chr(ord(prefix[-1]) + 1)
        return [r[0] for r in self._query("SELECT key FROM snapshots WHERE key >= ? AND key < ? ORDER BY key",
                                          (prefix, end))]

    def snapshot_children(self, key: str) -> list[str]:
        return [r[0] for r in self._query("SELECT key FROM snapshots WHERE parent=?", (key,))]

    def delete_snapshot(self, key: str) -> None:
        with self.tx() as db:
            db.execute("DELETE FROM snapshots WHERE key=?", (key,))

    def chain_in_use(self, chain_id: str) -> bool:
        """Whether an image still has this snapshot as its top."""
        return bool(self._query("SELECT 1 FROM images WHERE chain_id=?", (chain_id,)))

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _image(row: tuple, names: list[str]) -> ImageRecord:
    return ImageRecord(row[0], row[1], bytes(row[2]), row[3], json.loads(row[4]), json.loads(row[5]),
                       row[6], row[7], names, row[8], bool(row[9]))


def _container(row: tuple) -> ContainerRecord:
    return ContainerRecord(row[0], row[1], bytes(row[2]), row[3], json.loads(row[4]), row[5], row[6])
