"""Several animals in one project: every edit names its animal, an identity switch is fixed in
one undoable step, and what only knows one animal says so instead of leaving animals out."""

from __future__ import annotations

import json

import pytest

from fixtures.sessions import KEYPOINTS
from napari_superanimal import open_video
from napari_superanimal.errors import SuperAnimalError
from napari_superanimal.labels.model import ONE_ANIMAL
from napari_superanimal.session import Session


@pytest.fixture()
def mice(video_copy):
    with Session.open(open_video(video_copy, convert=False), keypoints=KEYPOINTS) as session:
        session.set_individuals(["mouse1", "mouse2"])
        yield session


def test_every_edit_names_its_animal_and_undo_covers_each(mice):
    mice.label(3, "nose", 10, 10, individual="mouse1")
    mice.label(3, "nose", 50, 40, individual="mouse2")
    mice.toggle_hidden(3, "tail_base", individual="mouse2")
    assert mice.labels(3, "mouse1")["nose"].x == 10 and mice.labels(3, "mouse2")["nose"].x == 50
    assert mice.animals(3)["mouse2"]["tail_base"].state == "hidden"
    assert mice.delete(3, ["nose"], individual="mouse1") == 1
    assert mice.labels(3, "mouse2")["nose"].x == 50  # the other animal keeps its nose
    assert mice.undo() == 3 and mice.labels(3, "mouse1")["nose"].x == 10
    assert mice.undo() == 3 and "tail_base" not in mice.labels(3, "mouse2")
    assert mice.labeled_frames() == [3]
    assert [p.keypoint for p in mice.points(3, "mouse2")] == ["nose"]


def test_an_edit_without_its_animal_or_with_an_unknown_one_is_refused_in_one_line(mice):
    for edit, match in (
        (lambda: mice.label(3, "nose", 1, 1), "several animals .*mouse1, mouse2.*individual="),
        (lambda: mice.labels(3), "individual="),
        (lambda: mice.label(3, "nose", 1, 1, individual="mouse3"), "unknown individual 'mouse3'"),
        (lambda: mice.hide(3, "nose", individual=ONE_ANIMAL), "unknown individual ''"),
    ):
        with pytest.raises(SuperAnimalError, match=match) as err:
            edit()
        assert "\n" not in str(err.value)
    assert mice.labeled_frames() == []


def test_a_swap_from_a_frame_on_fixes_an_identity_switch_in_one_undoable_step(mice):
    seen = []
    for frame in range(0, 40, 5):
        mice.label(frame, "nose", 10 + frame, 10, individual="mouse1")
        mice.label(frame, "nose", 100 + frame, 50, individual="mouse2")
    mice.events.labels_changed.connect(seen.append)
    assert mice.swap_individuals("mouse1", "mouse2", start=20) == 4  # frames 20, 25, 30, 35
    assert seen == [(20, 25, 30, 35)]
    assert mice.labels(15, "mouse1")["nose"].x == 25  # before the switch: unchanged
    assert mice.labels(20, "mouse1")["nose"].x == 120 and mice.labels(35, "mouse2")["nose"].x == 45
    assert mice.swap_individuals("mouse1", "mouse2", start=5, stop=10) == 1  # a range
    assert mice.labels(5, "mouse1")["nose"].x == 105
    assert mice.undo() == 5 and mice.undo() == 20
    assert mice.labels(35, "mouse1")["nose"].x == 45  # all back as labeled
    assert mice.redo() == 20 and mice.labels(35, "mouse1")["nose"].x == 135


def test_a_single_animal_project_gives_its_labels_to_the_first_animal(video_copy):
    with Session.open(open_video(video_copy, convert=False), keypoints=KEYPOINTS) as session:
        session.label(2, "nose", 7, 8)
        session.set_individuals(["mouse1", "mouse2"])
        assert session.labels(2, "mouse1")["nose"].x == 7
        assert session.animals(2).keys() == {"mouse1"}
        with pytest.raises(SuperAnimalError, match="mouse1 still have labels"):
            session.set_individuals(["mouse2"])  # would orphan mouse1's points
        folder = session.project.folder
    # a move cut off after project.json was written (a crash): the next open finishes it
    with Session.open(open_video(video_copy, convert=False), keypoints=KEYPOINTS) as session:
        session.label(4, "nose", 1, 2, individual="mouse2")
        session.project.labels.set_point(session.video_key, 6, "nose", 3, 3)  # the old animal
    with Session.open(open_video(video_copy, convert=False)) as session:
        assert session.labels(6, "mouse1")["nose"].x == 3
    meta = json.loads((folder / "project.json").read_text())
    assert meta["individuals"] == ["mouse1", "mouse2"]


def test_training_on_too_few_labeled_animals_is_refused_in_one_line(mice):
    mice.label(3, "nose", 10, 10, individual="mouse1")  # one point: no box around the animal
    with pytest.raises(SuperAnimalError, match="0 labeled animal.*2 points of an animal") as err:
        mice.finetune(steps=1)
    assert "\n" not in str(err.value) and mice.animals(3).keys() == {"mouse1"}


def test_merging_and_splitting_tracks_and_removing_an_animal_from_a_frame(mice):
    for frame in (1, 2):
        mice.label(frame, "nose", 10, 10, individual="mouse1")
    for frame in (3, 4):  # the same animal, lost and found again as "mouse2"
        mice.label(frame, "nose", 12, 10, individual="mouse2")
    assert mice.move_individual("mouse2", "mouse1") == 2  # merged: one track, 1-4
    assert [bool(mice.labels(f, "mouse1")) for f in (1, 2, 3, 4)] == [True] * 4
    assert mice.move_individual("mouse1", "mouse2", start=3) == 2  # split it again at 3
    assert not mice.labels(3, "mouse1") and mice.labels(4, "mouse2")["nose"].x == 12
    mice.label(3, "nose", 50, 50, individual="mouse1")  # another animal there now
    with pytest.raises(SuperAnimalError, match="frame 3: 'mouse1' already has points there"):
        mice.move_individual("mouse2", "mouse1")
    assert mice.labels(3, "mouse2")["nose"].x == 12  # nothing moved
    assert mice.undo() == 3  # (that label)
    assert mice.remove_animal(4, "mouse2") == 1 and mice.labeled_frames() == [1, 2, 3]
    assert mice.undo() == 4 and mice.undo() == 3 and mice.labels(3, "mouse1")  # split undone


def test_deleting_two_animals_points_at_once_is_one_undo_step(mice):
    mice.label(3, "nose", 1, 1, individual="mouse1")
    mice.label(3, "nose", 2, 2, individual="mouse2")
    assert mice.delete_points(3, [("mouse1", "nose"), ("mouse2", "nose")]) == 2
    assert mice.animals(3) == {}
    assert mice.undo() == 3 and mice.animals(3).keys() == {"mouse1", "mouse2"}
