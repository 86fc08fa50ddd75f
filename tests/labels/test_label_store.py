"""The label store: edits, undo/redo, durability across SIGKILL, one writer, bad files refused."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from napari_superanimal.errors import LabelStoreError
from napari_superanimal.labels.store import LabelStore

V = "mouse.mp4"


@pytest.fixture()
def db(tmp_path):
    return tmp_path / "project" / "labels.sqlite"


def test_edits_undo_redo_and_the_redo_tail(db):
    with LabelStore.open(db) as store:
        store.set_point(V, 5, "nose", 10, 20)
        store.set_point(V, 5, "nose", 11, 21)  # a drag: same key, new place
        store.hide(V, 5, "nose")
        assert store.frame(V, 5)["nose"].state == "hidden"
        assert store.undo() and store.frame(V, 5)["nose"].x == 11
        assert store.undo() and store.frame(V, 5)["nose"].x == 10
        assert store.redo() and store.frame(V, 5)["nose"].x == 11
        store.set_point(V, 6, "tail_base", 1, 2)  # a new edit drops what could be redone
        assert not store.redo()
        store.delete(V, 5, ["nose"])
        assert "nose" not in store.frame(V, 5)
        assert store.undo() and store.frame(V, 5)["nose"].x == 11
        assert store.labeled_frames(V) == [5, 6]


def test_labels_survive_reopening(db):
    with LabelStore.open(db) as store:
        store.set_point(V, 1, "nose", 3.25, 4.5, state="accepted", model_version="v1")
    with LabelStore.open(db) as store:
        point = store.frame(V, 1)["nose"]
        assert (point.x, point.y, point.state, point.model_version) == (3.25, 4.5, "accepted", "v1")
        assert store.integrity_ok()


def test_one_frame_read_is_a_primary_key_search(db):
    with LabelStore.open(db) as store:
        plan = " ".join(
            str(r)
            for r in store._conn.execute(
                "EXPLAIN QUERY PLAN SELECT keypoint FROM labels WHERE video=? AND frame=?", (V, 1)
            )
        )
    assert "SEARCH" in plan and "PRIMARY KEY" in plan  # not a scan of every label


def test_an_edit_does_not_scan_the_whole_history(db):
    with LabelStore.open(db) as store:
        plans = [
            " ".join(str(r) for r in store._conn.execute("EXPLAIN QUERY PLAN " + sql))
            for sql in (
                "DELETE FROM history WHERE undone = 1",  # every edit drops the redo tail
                "SELECT COALESCE(MAX(txn), 0) + 1 FROM history",
            )
        ]
    assert "history_undone" in plans[0], plans[0]  # O(redo tail), not O(all edits ever)
    assert "history_txn" in plans[1] or "COVERING INDEX" in plans[1], plans[1]


def test_a_second_writer_gets_a_clear_error_and_readers_still_read(db):
    with LabelStore.open(db) as store:
        store.set_point(V, 2, "nose", 1, 1)
        with pytest.raises(LabelStoreError, match="another process has these labels open"):
            LabelStore.open(db)
        with LabelStore.open(db, readonly=True) as reader:
            assert reader.frame(V, 2)["nose"].x == 1
    with LabelStore.open(db) as store:  # the lock went with the first writer
        assert store.frame(V, 2)["nose"].y == 1


@pytest.mark.parametrize("content", [b"hello, not a database" * 100, b"\x00\x01" * 4096])
def test_a_foreign_file_in_place_of_the_store_is_refused_and_kept(db, content):
    db.parent.mkdir(parents=True)
    db.write_bytes(content)
    with pytest.raises(LabelStoreError, match="not a"):
        LabelStore.open(db)
    assert db.read_bytes() == content


def test_another_apps_sqlite_file_is_refused(db):
    db.parent.mkdir(parents=True)
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE people (name TEXT)")
    with pytest.raises(LabelStoreError, match="not a napari-superanimal label store"):
        LabelStore.open(db)


def test_a_newer_schema_is_refused_without_touching_it(db):
    with LabelStore.open(db) as store:
        store.set_point(V, 1, "nose", 1, 1)
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE meta SET value='99' WHERE key='schema_version'")
    with pytest.raises(LabelStoreError, match="newer than this"):
        LabelStore.open(db)
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM labels").fetchone()[0] == 1


WRITER = """
import sys
from napari_superanimal.labels.store import LabelStore
store = LabelStore.open(sys.argv[1])
start = int(sys.argv[2])
for i in range(start, start + 100000):
    store.set_point("mouse.mp4", i, "nose", i, i + 0.5)
    print(i, flush=True)  # acknowledged: the commit returned
"""


@pytest.mark.slow
def test_every_acknowledged_edit_survives_sigkill(db):
    rng = random.Random(0)
    acked: list[int] = []
    for _kill in range(20):
        start = (acked[-1] + 1) if acked else 0
        proc = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(db), str(start)], stdout=subprocess.PIPE, text=True
        )
        first = proc.stdout.readline()  # it is writing
        assert first
        acked.append(int(first))
        time.sleep(rng.uniform(0.0, 0.3))
        os.kill(proc.pid, signal.SIGKILL)
        rest, _ = proc.communicate()
        acked.extend(int(line) for line in rest.split())
        with LabelStore.open(db) as store:
            assert store.integrity_ok()
            frames = set(store.labeled_frames(V))
            missing = [i for i in acked if i not in frames]
            assert not missing, f"acknowledged edits lost: {missing[:5]}"
            assert store.frame(V, acked[-1])["nose"].y == acked[-1] + 0.5
    assert len(acked) > 40


@pytest.mark.slow
def test_edits_through_the_session_survive_sigkill(video_copy, tmp_path):
    """The widget's code path (Session.label), killed at random moments 20 times."""
    from napari_superanimal.session.crashcheck import run

    result = run(video_copy, tmp_path / "crash.superanimal", kills=20, seed=1)
    assert result["kills"] == 20
    assert result["lost"] == [] and result["integrity_failures"] == 0
    assert result["acknowledged"] > 40  # the writer really was writing when killed


def test_the_documented_crashcheck_command_runs(video_copy, tmp_path):
    # docs/labeling.md: `python -m napari_superanimal.session.crashcheck VIDEO --kills N`; its
    # writer used to be started as `-m __main__` and fail at once
    import json
    import subprocess
    import sys

    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "napari_superanimal.session.crashcheck",
            str(video_copy),
            "--project",
            str(tmp_path / "check.superanimal"),
            "--kills",
            "2",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["kills"] == 2 and result["lost"] == [] and result["acknowledged"] > 0
