"""Predictions of several animals: kept per individual in the project, shown and accepted per
animal, exported with their names, and offered where two animals may have traded names."""

from __future__ import annotations

import numpy as np
import pytest

from fixtures.sessions import KEYPOINTS
from napari_superanimal import open_video
from napari_superanimal.errors import SuperAnimalError
from napari_superanimal.labels.model import PointKind
from napari_superanimal.model.identities import match_animals
from napari_superanimal.session import Session
from napari_superanimal.suggest import likely_swaps, suggest_frames, swap_scores

MICE = ("mouse1", "mouse2")
SHAPE = np.array([[0, 0], [8, -4], [8, 4], [30, 0]], float)  # nose, ears, tail base


def walking(n_frames: int = 60, swap_at: int | None = None) -> np.ndarray:
    """``(T, 2, 4, 3)``: two mice passing each other 40 px apart, score 0.9; from ``swap_at``
    on, the model gives each one the other's name."""
    poses = np.zeros((n_frames, 2, 4, 3), np.float32)
    poses[..., 2] = 0.9
    t = np.arange(n_frames, dtype=float)[:, None, None]
    poses[:, 0, :, :2] = SHAPE + np.stack([10 + 2 * t[..., 0], np.full_like(t[..., 0], 20)], -1)
    poses[:, 1, :, :2] = SHAPE + np.stack([130 - 2 * t[..., 0], np.full_like(t[..., 0], 60)], -1)
    if swap_at is not None:
        poses[swap_at:] = poses[swap_at:, ::-1]
    return poses


@pytest.fixture()
def mice(video_copy):
    with Session.open(open_video(video_copy, convert=False), keypoints=KEYPOINTS) as session:
        session.set_individuals(list(MICE))
        yield session


def test_each_animal_has_its_own_predictions_which_persist(mice, video_copy):
    poses = walking(len(mice))
    mice.add_predictions(range(len(mice)), poses, model_version="m1")
    assert mice.all_predictions().shape == (len(mice), 2, 4, 3)
    np.testing.assert_array_equal(mice.prediction(7, "mouse2"), poses[7, 1])
    assert mice.animal_predictions(7).keys() == set(MICE)
    with pytest.raises(SuperAnimalError, match="individual="):
        mice.prediction(7)  # whose?
    with pytest.raises(SuperAnimalError, match=r"\(N, 2, 4, 3\).*not \(1, 4, 3\)"):
        mice.add_predictions([1], poses[1, 0][None], model_version="m1")
    mice.close()
    with Session.open(open_video(video_copy, convert=False)) as again:
        np.testing.assert_array_equal(again.prediction(7, "mouse1"), poses[7, 0])
        assert again.model_version == "m1"


def test_every_animal_is_drawn_its_labels_first_and_accept_takes_each_in_one_step(mice):
    poses = walking(len(mice))
    poses[5, 1, 2, 2] = 0.2  # mouse2's right ear is unsure on frame 5
    mice.add_predictions(range(len(mice)), poses, model_version="m1")
    mice.label(5, "nose", 1.0, 2.0, individual="mouse1")
    shown = {(p.individual, p.keypoint): p for p in mice.points(5)}
    assert len(shown) == 8
    assert shown["mouse1", "nose"].kind == PointKind.LABELED
    assert shown["mouse2", "right_ear"].kind == PointKind.UNCERTAIN
    assert shown["mouse1", "tail_base"].kind == PointKind.PREDICTED
    assert shown["mouse1", "tail_base"].x == pytest.approx(poses[5, 0, 3, 0])
    assert [p.individual for p in mice.points(5, "mouse2")] == ["mouse2"] * 4

    assert mice.accept(5) == 6  # 3 + 3: not the label, not the unsure ear
    assert mice.animals(5)["mouse2"]["nose"].state == PointKind.ACCEPTED
    assert mice.animals(5)["mouse2"]["nose"].model_version == "m1"
    assert "right_ear" not in mice.animals(5)["mouse2"]
    assert mice.undo() == 5 and set(mice.animals(5)) == {"mouse1"}  # one step
    assert mice.accept(5, individual="mouse2") == 3 and set(mice.animals(5)) == set(MICE)


def test_a_dragged_prediction_remembers_the_version_of_its_own_animal(mice):
    poses = walking(len(mice))
    poses[:, 0] = np.nan  # the model found only mouse2
    mice.add_predictions(range(len(mice)), poses, model_version="m1")
    mice.label(3, "nose", 5, 5, individual="mouse2")
    mice.label(3, "nose", 6, 6, individual="mouse1")
    assert mice.labels(3, "mouse2")["nose"].model_version == "m1"
    assert mice.labels(3, "mouse1")["nose"].model_version is None


def test_predictions_made_before_the_project_had_animals_are_the_first_ones(video_copy):
    """Like its labels; and an animal added later has no predictions, until made."""
    with Session.open(open_video(video_copy, convert=False), keypoints=KEYPOINTS) as session:
        one = walking(len(session))[:, 0]
        session.add_predictions(range(len(session)), one, model_version="m1")
        session.set_individuals(["mouse1"])
        np.testing.assert_array_equal(session.prediction(4, "mouse1"), one[4])
        session.set_individuals(["mouse1", "mouse2"])
        assert session.prediction(4, "mouse2") is None
        np.testing.assert_array_equal(session.prediction(4, "mouse1"), one[4])
        both = walking(len(session))
        session.add_predictions([4], both[4:5])  # rewrites the stored array in the new layout
        np.testing.assert_array_equal(session.prediction(4, "mouse2"), both[4, 1])
        np.testing.assert_array_equal(session.prediction(9, "mouse1"), one[9])  # kept
        stored = session.project.predictions(session.video_key, "m1")
        assert stored.shape == (len(session), 2, 4, 3)
        np.testing.assert_array_equal(stored[9, 0], one[9])


def test_the_pose_table_export_names_each_animal_and_holds_its_labels(mice, tmp_path):
    from movement.io import load_poses

    poses = walking(len(mice))
    mice.add_predictions(range(len(mice)), poses, model_version="m1")
    mice.label(5, "nose", 1.0, 2.0, individual="mouse2")
    out = mice.export(tmp_path / "mice.h5")
    ds = load_poses.from_dlc_file(out)
    assert list(ds.individuals.values) == list(MICE)
    position = ds.position.sel(individuals="mouse2", keypoints="nose").values[5]
    assert tuple(position) == (1.0, 2.0)
    np.testing.assert_allclose(
        ds.position.sel(individuals="mouse1", keypoints="tail_base").values[7],
        poses[7, 0, 3, :2],
    )


def test_the_sleap_export_puts_each_animals_predictions_on_its_track(mice, tmp_path):
    import sleap_io

    mice.add_predictions(range(len(mice)), walking(len(mice)), model_version="m1")
    mice.label(5, "nose", 1.0, 2.0, individual="mouse2")
    labels = sleap_io.load_slp(str(mice.export(tmp_path / "mice.slp", format="slp")))
    assert [t.name for t in labels.tracks] == list(MICE)
    frame = next(lf for lf in labels.labeled_frames if lf.frame_idx == 5)
    assert [i.track.name for i in frame.user_instances] == ["mouse2"]
    assert sorted(i.track.name for i in frame.predicted_instances) == list(MICE)


def test_matching_keeps_each_animal_in_its_row_across_frames():
    poses = walking(3)
    assert list(match_animals(poses[0], poses[1][::-1])) == [1, 0]
    assert list(match_animals(poses[0], poses[1])) == [0, 1]
    gone = poses[1].copy()
    gone[0] = np.nan  # an animal the detector missed keeps a free row
    assert sorted(match_animals(poses[0], gone)) == [0, 1]


def test_a_swap_of_names_is_marked_and_suggested_first(mice):
    poses = walking(len(mice), swap_at=40)
    scores = swap_scores(poses)
    assert list(likely_swaps(poses)) == [40]
    assert scores[40] > 1 and np.nanmax(np.delete(scores, 40)) < 0.5
    assert list(suggest_frames(poses, [], n=1, strategy="swaps")) == [40]
    mice.add_predictions(range(len(mice)), poses, model_version="m1")
    assert mice.suggest(n=3, thumbnails=False)[0] == 40  # combined: the swap first
    with pytest.raises(SuperAnimalError, match="swaps strategy needs predictions of several"):
        suggest_frames(poses[:, 0], [], n=1, strategy="swaps")


def test_animals_crossing_are_likely_swaps_even_when_the_names_hold():
    poses = walking(60)
    poses[30, 1, :, :2] = poses[30, 0, :, :2] + 2  # on top of each other
    assert 30 in likely_swaps(poses)
