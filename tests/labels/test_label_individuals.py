"""Individuals in the label store: every point belongs to an animal, projects from before
individuals migrate in place without losing a label, and read-only media are never migrated.

``data/project_v1.superanimal`` was written by napari-superanimal at commit 6539057 (label
schema v1): labels on two videos, a hidden point with no position, an accepted point with its
model version, a two-frame import, and a move that was undone (a redo tail).
"""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest

from napari_superanimal.errors import LabelStoreError
from napari_superanimal.labels.model import ONE_ANIMAL, Point
from napari_superanimal.labels.project import Project
from napari_superanimal.labels.store import LabelStore

V1 = Path(__file__).parent / "data" / "project_v1.superanimal"
V = "mice.mp4"

#: every label in the v1 fixture, as (video, frame, keypoint) -> (x, y, state, model_version)
V1_LABELS = {
    ("mouse.mp4", 0, "nose"): (10.5, 20.25, "labeled", None),
    ("mouse.mp4", 0, "tail_base"): (30.0, 40.0, "labeled", None),
    ("mouse.mp4", 5, "left_ear"): (11.0, 12.0, "accepted", "v1"),
    ("mouse.mp4", 5, "nose"): (None, None, "hidden", None),
    ("mouse.mp4", 7, "nose"): (1.0, 2.0, "labeled", None),
    ("other.mp4", 3, "tail_base"): (50.0, 60.0, "labeled", None),
    ("other.mp4", 4, "nose"): (5.0, 6.0, "labeled", None),
    ("other.mp4", 9, "nose"): (7.0, 8.0, "labeled", None),
}


def every_label(store: LabelStore) -> dict:
    out = {}
    for video in ("mouse.mp4", "other.mp4"):
        for frame in store.labeled_frames(video):
            for individual, points in store.animals(video, frame).items():
                assert individual == ONE_ANIMAL  # v1 labels all belong to the one animal
                for name, p in points.items():
                    out[(video, frame, name)] = (p.x, p.y, p.state.value, p.model_version)
    return out


def schema_version(path: Path) -> int:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        return int(conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0])


def digest(folder: Path) -> dict[str, str]:
    """The project's files (SQLite may add its empty -wal and -shm beside a reader)."""
    files = [folder / "project.json", folder / "labels.sqlite"]
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


@pytest.fixture()
def v1_project(tmp_path) -> Path:
    folder = tmp_path / "project_v1.superanimal"
    shutil.copytree(V1, folder)
    return folder


def test_a_v1_project_migrates_in_place_keeping_every_label_and_its_history(v1_project):
    assert schema_version(v1_project / "labels.sqlite") == 1
    with Project.open(v1_project) as project:
        store = project.labels
        assert every_label(store) == V1_LABELS
        assert store.redo()  # the undone move of the v1 history is still there to redo
        assert store.frame("mouse.mp4", 0)["nose"].x == 99.0
        assert store.undo() and store.undo()  # and undo walks back into v1's edits
        assert store.labeled_frames("other.mp4") == [3]  # the two-frame import, one step
        assert store.redo()
        store.set_point("mouse.mp4", 7, "nose", 3.0, 4.0)  # and the store takes new edits
    assert schema_version(v1_project / "labels.sqlite") == 2
    backup = v1_project / "labels.sqlite.v1.bak"  # what an older version can still open
    assert schema_version(backup) == 1
    with LabelStore.open(v1_project / "labels.sqlite") as store:  # reopens without migrating
        assert store.frame("mouse.mp4", 7)["nose"].x == 3.0
        labels = every_label(store)
    assert labels == {**V1_LABELS, ("mouse.mp4", 7, "nose"): (3.0, 4.0, "labeled", None)}


def test_a_v1_store_opened_read_only_is_read_as_it_is(v1_project):
    before = digest(v1_project)
    with Project.open(v1_project, readonly=True) as project:
        assert every_label(project.labels) == V1_LABELS
        assert project.labels.individual_names() == {ONE_ANIMAL}
        with pytest.raises(LabelStoreError, match="read-only"):
            project.labels.set_point("mouse.mp4", 1, "nose", 1, 1)
    assert digest(v1_project) == before  # not migrated, not touched


def test_a_v1_project_on_read_only_media_opens_read_only_without_migrating(v1_project, tmp_path):
    mount = tmp_path / "mounted"
    mount.mkdir()
    if subprocess.run(["mount", "--bind", str(v1_project), str(mount)]).returncode:
        pytest.skip("read-only media need a bind mount: run as root (CI does)")
    try:
        subprocess.run(["mount", "-o", "remount,ro,bind", str(mount)], check=True)
        before = digest(v1_project)
        with Project.open(mount) as project:  # no readonly=: the media decide
            assert project.readonly
            assert every_label(project.labels) == V1_LABELS
        assert digest(v1_project) == before
        assert schema_version(v1_project / "labels.sqlite") == 1
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=True)


def test_each_animal_keeps_its_own_points_and_undo_covers_them(tmp_path):
    with LabelStore.open(tmp_path / "labels.sqlite") as store:
        store.set_point(V, 3, "nose", 10, 10, individual="mouse1")
        store.set_point(V, 3, "nose", 50, 50, individual="mouse2")
        store.hide(V, 3, "tail_base", individual="mouse2")
        store.set_point(V, 3, "nose", 90, 90)  # the one animal of a single-animal project
        mouse1 = Point("nose", 10, 10, "labeled", None, "mouse1")
        assert store.frame(V, 3, "mouse1") == {"nose": mouse1}
        assert store.frame(V, 3)["nose"].x == 90  # the default individual is the one animal
        animals = store.animals(V, 3)
        assert sorted(animals) == [ONE_ANIMAL, "mouse1", "mouse2"]
        assert animals["mouse2"]["tail_base"].state == "hidden"
        assert store.individual_names(V) == {ONE_ANIMAL, "mouse1", "mouse2"}
        store.delete(V, 3, ["nose"], individual="mouse2")
        assert store.frame(V, 3, "mouse1")["nose"].x == 10  # the other animal's nose stays
        assert store.undo() and store.frame(V, 3, "mouse2")["nose"].x == 50
        assert store.undo() and store.frame(V, 3) == {}  # the one animal's point went alone
        assert store.undo() and list(store.frame(V, 3, "mouse2")) == ["nose"]
        assert store.undo() and store.undo()
        assert store.animals(V, 3) == {}


def test_swapping_two_animals_from_a_frame_on_is_one_undoable_step(tmp_path):
    with LabelStore.open(tmp_path / "labels.sqlite") as store:
        for frame in range(6):
            store.set_point(V, frame, "nose", frame, 1.0, individual="a")
            store.set_point(V, frame, "nose", frame, 2.0, individual="b")
            store.set_point(V, frame, "tail_base", frame, 3.0, individual="b")
        before = {f: store.animals(V, f) for f in range(6)}
        assert store.reassign(V, {"a": "b", "b": "a"}, frames=range(3, 6)) is not None
        for frame in range(6):
            a, b = store.frame(V, frame, "a"), store.frame(V, frame, "b")
            if frame < 3:
                assert store.animals(V, frame) == before[frame]
            else:
                assert (a["nose"].y, a["tail_base"].y, b["nose"].y) == (2.0, 3.0, 1.0)
                assert "tail_base" not in b and a["nose"].individual == "a"
        assert store.undo()  # the whole swap, one step
        assert {f: store.animals(V, f) for f in range(6)} == before
        assert store.redo() and store.frame(V, 4, "a")["tail_base"].y == 3.0


def test_renaming_onto_an_animal_that_has_points_there_is_refused_and_changes_nothing(tmp_path):
    with LabelStore.open(tmp_path / "labels.sqlite") as store:
        store.set_point(V, 1, "nose", 1, 1, individual="a")
        store.set_point(V, 2, "nose", 2, 2, individual="a")
        store.set_point(V, 2, "nose", 5, 5, individual="b")
        with pytest.raises(LabelStoreError, match="frame 2: 'b' already has points") as err:
            store.reassign(V, {"a": "b"})
        assert "\n" not in str(err.value)
        assert store.frame(V, 1, "a")["nose"].x == 1 and store.frame(V, 2, "b")["nose"].x == 5
        assert store.reassign(V, {"a": "c"}) is not None  # a free name: every frame moves
        assert store.individual_names(V) == {"b", "c"}
