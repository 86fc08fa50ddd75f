"""The label store: every keypoint edit committed to SQLite (WAL) before it counts as done.

One row per (video, frame, individual, keypoint) holds x, y, a state (``labeled`` by hand,
``hidden`` / occluded, ``accepted`` from a prediction), the model version a point came from, and
when it changed. ``individual`` names the animal a point belongs to; a single-animal project
keeps every point under :data:`~.model.ONE_ANIMAL` (``""``). Every edit also appends its
before/after to ``history``, which gives undo, redo and an audit trail. Reads for one frame use
the primary key, so they cost O(keypoints) whatever the number of labeled frames. The schema is
versioned: newer files are refused, not misread; a file from an older version migrates in place
when opened for writing (one transaction, row counts checked, a copy of the old file kept beside
it as ``labels.sqlite.v1.bak``) and is read as it is when opened read-only. Only one process may
write (a lock file beside the database); a second one gets a clear error.

Example::

    from napari_superanimal.labels.store import LabelStore
    with LabelStore.open("project/labels.sqlite") as store:
        store.set_point("mouse.mp4", 10, "nose", 101.5, 80.0)
        store.set_point("mice.mp4", 10, "nose", 50.0, 60.0, individual="mouse2")
        store.undo()
"""

from __future__ import annotations

import functools
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

from ..errors import LabelStoreError
from ..video.lock import StoreLock
from .model import ONE_ANIMAL, Point, PointKind

SCHEMA_VERSION = 2
APP = "napari-superanimal.labels"

_LABELS = """CREATE TABLE IF NOT EXISTS {name} (
    video TEXT NOT NULL, frame INTEGER NOT NULL, individual TEXT NOT NULL DEFAULT '',
    keypoint TEXT NOT NULL, x REAL, y REAL,
    state TEXT NOT NULL CHECK (state IN ('labeled', 'hidden', 'accepted')),
    model_version TEXT, updated REAL NOT NULL,
    PRIMARY KEY (video, frame, individual, keypoint)
) WITHOUT ROWID"""
_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
{_LABELS.format(name="labels")};
CREATE TABLE IF NOT EXISTS history (
    id INTEGER PRIMARY KEY AUTOINCREMENT, txn INTEGER NOT NULL,
    video TEXT NOT NULL, frame INTEGER NOT NULL, keypoint TEXT NOT NULL,
    before TEXT, after TEXT, at REAL NOT NULL, undone INTEGER NOT NULL DEFAULT 0,
    individual TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS history_txn ON history (txn);
-- the redo tail (undone rows) is small: a partial index keeps "drop the redo tail" O(tail)
CREATE INDEX IF NOT EXISTS history_undone ON history (txn) WHERE undone = 1;
"""
_COLUMNS = "video, frame, individual, keypoint, x, y, state, model_version, updated"
# v1 had no individuals: its labels table, read as v2 (every point the one animal's)
_V1_LABELS = (
    "SELECT video, frame, '' AS individual, keypoint, x, y, state, model_version, updated "
    "FROM main.labels"
)

#: A change's key: a keypoint name (the one animal's) or an ``(individual, keypoint)`` pair.
Key = str | tuple[str, str]


def _locked(method):
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with self._mutex:
            return method(self, *args, **kwargs)

    return wrapper


class LabelStore:
    """A durable, undoable store of keypoint labels (see the module docstring)."""

    def __init__(self, path: Path, conn: sqlite3.Connection, lock: StoreLock | None):
        self.path = path
        self._conn = conn
        self._lock = lock
        self.readonly = lock is None
        self._journal = path.with_name(path.name + "-wal")
        # One connection shared by the GUI thread and workers (training reads labels): every
        # public method holds this lock, so transactions never interleave.
        self._mutex = threading.RLock()

    # -- opening ----------------------------------------------------------------------------
    @classmethod
    def open(cls, path: str | os.PathLike, readonly: bool = False) -> LabelStore:
        """Open (creating if absent) the store at ``path``; ``readonly`` skips the writer lock.
        A store on media this process cannot write (a mounted dataset, a colleague's share)
        opens read-only by itself: every edit is then refused in one line."""
        path = Path(path)
        lock = None
        if not readonly and path.exists() and not (writable(path) and writable(path.parent)):
            readonly = True
        if not readonly:
            path.parent.mkdir(parents=True, exist_ok=True)
            lock = StoreLock(
                path,
                lock_file=path.with_name(path.name + ".lock"),
                busy="another process has these labels open for writing; "
                "close it first (or open read-only)",
                error=LabelStoreError,
            ).__enter__()
        try:
            conn = cls._connect(path, readonly)
        except BaseException:
            if lock is not None:
                lock.__exit__(None, None, None)
            raise
        return cls(path, conn, lock)

    @staticmethod
    def _connect(path: Path, readonly: bool) -> sqlite3.Connection:
        existed = path.exists() and path.stat().st_size > 0
        if readonly and not existed:
            raise LabelStoreError(f"{path}: no label store here")
        uri = f"file:{path}?mode=ro" if readonly else f"file:{path}"
        if readonly and not writable(path.parent):
            # SQLite cannot make a WAL database's -shm file there; nobody can write it either
            uri = f"file:{path}?immutable=1"
        try:
            conn = sqlite3.connect(
                uri, uri=True, isolation_level=None, timeout=5.0, check_same_thread=False
            )
            if existed:
                tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
            else:
                tables = set()
        except sqlite3.DatabaseError as err:
            raise LabelStoreError(f"{path}: not a label store ({err})") from err
        if existed and not tables:
            conn.close()
            raise LabelStoreError(
                f"{path}: holds no tables: its journal ({path.name}-wal) was probably deleted "
                "before SQLite copied it in; restore both files from a backup"
            )
        if existed and "meta" not in tables:
            conn.close()
            raise LabelStoreError(f"{path}: not a napari-superanimal label store")
        version = SCHEMA_VERSION
        if existed:
            meta = dict(conn.execute("SELECT key, value FROM meta"))
            version = int(meta.get("schema_version", 0))
            if meta.get("app") != APP:
                conn.close()
                raise LabelStoreError(f"{path}: not a napari-superanimal label store")
            if version > SCHEMA_VERSION:
                conn.close()
                raise LabelStoreError(
                    f"{path}: label schema v{version} is newer than this napari-superanimal "
                    f"understands (v{SCHEMA_VERSION}); upgrade napari-superanimal"
                )
        if readonly:
            if version < 2:  # read as it is: read-only media is never migrated
                conn.execute(f"CREATE TEMP VIEW labels AS {_V1_LABELS}")
            return conn
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        try:
            if version < 2:
                _migrate_v1(conn, path)
        except BaseException:
            conn.close()
            raise
        conn.executescript(_SCHEMA)
        if not existed:
            conn.execute(
                "INSERT INTO meta VALUES ('app', ?), ('schema_version', ?)",
                (APP, str(SCHEMA_VERSION)),
            )
            conn.execute("PRAGMA wal_checkpoint(FULL)")  # the schema in the file itself
        return conn

    @_locked
    def close(self) -> None:
        self._conn.close()
        if self._lock is not None:
            self._lock.__exit__(None, None, None)
            self._lock = None

    def __enter__(self) -> LabelStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- reading ----------------------------------------------------------------------------
    @_locked
    def frame(self, video: str, frame: int, individual: str = ONE_ANIMAL) -> dict[str, Point]:
        """One animal's labels on one frame, by keypoint (an index range scan: O(keypoints))."""
        rows = self._conn.execute(
            "SELECT keypoint, x, y, state, model_version, individual FROM labels "
            "WHERE video=? AND frame=? AND individual=?",
            (video, int(frame), individual),
        )
        return {r[0]: Point(*r) for r in rows}

    @_locked
    def animals(self, video: str, frame: int) -> dict[str, dict[str, Point]]:
        """Every animal's labels on one frame: ``{individual: {keypoint: Point}}``."""
        rows = self._conn.execute(
            "SELECT keypoint, x, y, state, model_version, individual FROM labels "
            "WHERE video=? AND frame=?",
            (video, int(frame)),
        )
        out: dict[str, dict[str, Point]] = {}
        for r in rows:
            out.setdefault(r[5], {})[r[0]] = Point(*r)
        return out

    @_locked
    def individual_names(self, video: str | None = None) -> set[str]:
        """Every individual with a label (in ``video``, or in any)."""
        if video is None:
            rows = self._conn.execute("SELECT DISTINCT individual FROM labels")
        else:
            rows = self._conn.execute(
                "SELECT DISTINCT individual FROM labels WHERE video=?", (video,)
            )
        return {r[0] for r in rows}

    @_locked
    def labeled_frames(self, video: str) -> list[int]:
        """Frames of ``video`` with at least one label, sorted."""
        rows = self._conn.execute(
            "SELECT DISTINCT frame FROM labels WHERE video=? ORDER BY frame", (video,)
        )
        return [r[0] for r in rows]

    @_locked
    def videos_with(self, individual: str) -> list[str]:
        """The videos where ``individual`` has labels."""
        rows = self._conn.execute(
            "SELECT DISTINCT video FROM labels WHERE individual=? ORDER BY video", (individual,)
        )
        return [r[0] for r in rows]

    @_locked
    def keypoint_names(self) -> set[str]:
        """Every keypoint name that has a label, in any video."""
        return {r[0] for r in self._conn.execute("SELECT DISTINCT keypoint FROM labels")}

    @_locked
    def frame_states(self, video: str) -> dict[int, set[str]]:
        """For every frame of ``video`` with labels, the set of its points' states."""
        out: dict[int, set[str]] = {}
        rows = self._conn.execute(
            "SELECT frame, state FROM labels WHERE video=? GROUP BY frame, state", (video,)
        )
        for frame, state in rows:
            out.setdefault(frame, set()).add(state)
        return out

    @_locked
    def last_edit(self) -> tuple[str, int] | None:
        """``(video, frame)`` of the edit undo would revert next (None if nothing to undo)."""
        return self._edit_at("SELECT MAX(txn) FROM history WHERE undone = 0")

    @_locked
    def next_redo(self) -> tuple[str, int] | None:
        """``(video, frame)`` of the edit redo would re-apply next (None if nothing to redo)."""
        return self._edit_at("SELECT MIN(txn) FROM history WHERE undone = 1")

    @_locked
    def last_edit_frames(self) -> tuple[str, list[int]] | None:
        """``(video, frames)`` that undo would revert next (an import touches many frames)."""
        return self._frames_at("SELECT MAX(txn) FROM history WHERE undone = 0")

    @_locked
    def next_redo_frames(self) -> tuple[str, list[int]] | None:
        """``(video, frames)`` that redo would re-apply next."""
        return self._frames_at("SELECT MIN(txn) FROM history WHERE undone = 1")

    def _frames_at(self, pick: str) -> tuple[str, list[int]] | None:
        rows = self._conn.execute(
            f"SELECT DISTINCT video, frame FROM history WHERE txn = ({pick}) ORDER BY frame"
        ).fetchall()
        return (rows[0][0], [r[1] for r in rows]) if rows else None

    def _edit_at(self, pick: str) -> tuple[str, int] | None:
        row = self._conn.execute(
            f"SELECT video, frame FROM history WHERE txn = ({pick}) LIMIT 1"
        ).fetchone()
        return (row[0], row[1]) if row else None

    @_locked
    def integrity_ok(self) -> bool:
        """SQLite's own ``PRAGMA integrity_check``."""
        return self._conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"

    # -- editing ----------------------------------------------------------------------------
    def set_point(
        self,
        video: str,
        frame: int,
        keypoint: str,
        x: float,
        y: float,
        state: str = "labeled",
        model_version: str | None = None,
        individual: str = ONE_ANIMAL,
    ) -> None:
        """Label one keypoint (committed and durable when this returns)."""
        point = Point(keypoint, float(x), float(y), state, model_version, individual)
        self.apply(video, frame, {(individual, keypoint): point})

    @_locked
    def hide(self, video: str, frame: int, keypoint: str, individual: str = ONE_ANIMAL) -> None:
        """Mark a keypoint hidden (occluded) on a frame, keeping its last position if any."""
        old = self.frame(video, frame, individual).get(keypoint)
        hidden = Point(
            keypoint,
            old.x if old else None,
            old.y if old else None,
            PointKind.HIDDEN,
            old.model_version if old else None,
            individual,
        )
        self.apply(video, frame, {(individual, keypoint): hidden})

    def delete(
        self, video: str, frame: int, keypoints: Iterable[str], individual: str = ONE_ANIMAL
    ) -> None:
        """Remove labels (undoable)."""
        self.apply(video, frame, {(individual, k): None for k in keypoints})

    def apply(self, video: str, frame: int, changes: dict[Key, Point | None]) -> int:
        """Apply several changes to one frame in one transaction; return its history id."""
        return self.apply_frames(video, {frame: changes})

    @_locked
    def reassign(
        self, video: str, mapping: dict[str, str], frames: Iterable[int] | None = None
    ) -> int | None:
        """Give the points of individual ``a`` to ``mapping[a]`` on ``frames`` (default: every
        labeled frame of ``video``), in one undoable step: ``{"a": "b", "b": "a"}`` swaps two
        animals, ``{"a": "c"}`` renames one. Refused in one line (nothing changed) where a
        target already holds points that the mapping does not move away. Returns the history
        id, or None when no frame had points to move."""
        frames = self.labeled_frames(video) if frames is None else sorted(set(frames))
        changes: dict[int, dict[Key, Point | None]] = {}
        for frame in frames:
            animals = self.animals(video, frame)
            moved = {a: pts for a, pts in animals.items() if a in mapping}
            if not moved:
                continue
            clash = {mapping[a] for a in moved} & (set(animals) - set(mapping))
            if clash:
                raise LabelStoreError(
                    f"{video} frame {frame}: {sorted(clash)[0]!r} already has points there; "
                    "move or delete them first"
                )
            frame_changes: dict[Key, Point | None] = {
                (a, k): None for a, pts in moved.items() for k in pts
            }
            for a, pts in moved.items():
                for k, p in pts.items():
                    frame_changes[(mapping[a], k)] = replace(p, individual=mapping[a])
            changes[frame] = frame_changes
        return self.apply_frames(video, changes) if changes else None

    @_locked
    def apply_frames(self, video: str, changes: dict[int, dict[Key, Point | None]]) -> int:
        """Apply changes to many frames in one transaction (all or nothing, one undo step), as
        an import does; return its history id. A change's key is a keypoint (the one animal's,
        :data:`~.model.ONE_ANIMAL`) or an ``(individual, keypoint)`` pair."""
        self._check_writable()
        now = time.time()
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            txn = conn.execute("SELECT COALESCE(MAX(txn), 0) + 1 FROM history").fetchone()[0]
            conn.execute("DELETE FROM history WHERE undone = 1")  # a new edit drops the redo tail
            for frame, frame_changes in changes.items():
                for key, point in frame_changes.items():
                    individual, keypoint = (ONE_ANIMAL, key) if isinstance(key, str) else key
                    before = self._row(video, frame, individual, keypoint)
                    after = (
                        None
                        if point is None
                        else [point.x, point.y, PointKind(point.state).value, point.model_version]
                    )
                    self._write(video, frame, individual, keypoint, after, now)
                    conn.execute(
                        "INSERT INTO history (txn, video, frame, individual, keypoint, before, "
                        "after, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        (
                            txn,
                            video,
                            int(frame),
                            individual,
                            keypoint,
                            _dump(before),
                            _dump(after),
                            now,
                        ),
                    )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        self._keep_durable()
        return txn

    @_locked
    def undo(self) -> bool:
        """Revert the latest edit still in effect; False when there is nothing to undo."""
        return self._step("SELECT MAX(txn) FROM history WHERE undone = 0", "before", 1)

    @_locked
    def redo(self) -> bool:
        """Re-apply the earliest undone edit; False when there is nothing to redo."""
        return self._step("SELECT MIN(txn) FROM history WHERE undone = 1", "after", 0)

    def _step(self, pick: str, column: str, mark: int) -> bool:
        self._check_writable()
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            txn = conn.execute(pick).fetchone()[0]
            if txn is None:
                conn.execute("COMMIT")
                return False
            rows = conn.execute(
                f"SELECT video, frame, individual, keypoint, {column} FROM history "
                "WHERE txn=? ORDER BY id",
                (txn,),
            ).fetchall()
            if column == "before":
                rows.reverse()  # undo in reverse: a swap's delete and set on one key
            for video, frame, individual, keypoint, value in rows:
                self._write(video, frame, individual, keypoint, _load(value), time.time())
            conn.execute("UPDATE history SET undone=? WHERE txn=?", (mark, txn))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        self._keep_durable()
        return True

    def _check_writable(self) -> None:
        if self.readonly:
            raise LabelStoreError(
                f"{self.path}: opened read-only (read-only media, or opened so); "
                "copy the project to a folder you can write to edit labels"
            )

    def _keep_durable(self) -> None:
        """A journal deleted while the store is open (a sync tool, a cleanup script) would
        take every edit since the last checkpoint with it at the next crash: copy them into
        the database file at once, after every edit, while SQLite still holds the file."""
        if not self._journal.exists():
            self._conn.execute("PRAGMA wal_checkpoint(FULL)")

    def _row(self, video: str, frame: int, individual: str, keypoint: str) -> list | None:
        row = self._conn.execute(
            "SELECT x, y, state, model_version FROM labels "
            "WHERE video=? AND frame=? AND individual=? AND keypoint=?",
            (video, int(frame), individual, keypoint),
        ).fetchone()
        return list(row) if row else None

    def _write(
        self, video: str, frame: int, individual: str, keypoint: str, value, now: float
    ) -> None:
        if value is None:
            self._conn.execute(
                "DELETE FROM labels WHERE video=? AND frame=? AND individual=? AND keypoint=?",
                (video, int(frame), individual, keypoint),
            )
        else:
            self._conn.execute(
                f"INSERT OR REPLACE INTO labels ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (video, int(frame), individual, keypoint, *value, now),
            )


def _migrate_v1(conn: sqlite3.Connection, path: Path) -> None:
    """Schema v1 -> v2 (points gain an individual: the one animal's, ``""``), in one
    transaction, the row counts checked before it commits; a copy of the v1 file is kept
    beside it first, so an older napari-superanimal can still open the labels."""
    backup = path.with_name(path.name + ".v1.bak")
    if not backup.exists():
        with sqlite3.connect(backup) as copy:
            conn.backup(copy)
        copy.close()
    conn.execute("BEGIN IMMEDIATE")
    try:
        counts = [conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in _TABLES]
        conn.execute(_LABELS.format(name="labels_v2"))
        conn.execute(f"INSERT INTO labels_v2 ({_COLUMNS}) {_V1_LABELS}")
        conn.execute("DROP TABLE labels")
        conn.execute("ALTER TABLE labels_v2 RENAME TO labels")
        conn.execute("ALTER TABLE history ADD COLUMN individual TEXT NOT NULL DEFAULT ''")
        after = [conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in _TABLES]
        if after != counts:
            raise LabelStoreError(
                f"{path}: migrating the labels to schema v2 would change the row counts "
                f"{counts} to {after}; nothing was changed"
            )
        conn.execute("UPDATE meta SET value='2' WHERE key='schema_version'")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("PRAGMA wal_checkpoint(FULL)")


_TABLES = ("labels", "history")


def _dump(value) -> str | None:
    return None if value is None else json.dumps(value)


def _load(text: str | None):
    return None if text is None else json.loads(text)


def writable(path: Path) -> bool:
    """Whether this process may write ``path`` (false on read-only mounts and shares)."""
    return os.access(path, os.W_OK)
