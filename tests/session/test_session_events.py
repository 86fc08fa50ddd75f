"""The session announces every change (psygnal events), so views never poll or poke at it."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from fixtures.sessions import KEYPOINTS, VERSION, fake_poses
from napari_superanimal.errors import SessionError


@pytest.fixture()
def heard(predicted_session):
    """Every event of the predicted session, as (name, value, thread) in order."""
    events = []
    for name in ("labels_changed", "predictions_changed", "model_changed", "threshold_changed"):
        signal = getattr(predicted_session.events, name)
        signal.connect(lambda value, name=name: events.append((name, value, threading.get_ident())))
    return events


def names(events):
    return [(name, value) for name, value, _ in events]


def test_every_label_edit_and_its_undo_is_announced_with_its_frames(predicted_session, heard):
    s = predicted_session
    s.label(3, "nose", 10.0, 20.0)
    s.accept(4)
    s.toggle_hidden(5, "left_ear")
    s.delete(3, ["nose"])
    s.delete(3, ["nose"])  # nothing to delete: nothing announced
    s.undo()
    s.redo()
    assert names(heard) == [("labels_changed", (f,)) for f in (3, 4, 5, 3, 3, 3)]


def test_an_import_is_one_announcement_of_all_its_frames(predicted_session, heard, tmp_path):
    from napari_superanimal.labels.io.sleap import save_slp
    from napari_superanimal.labels.model import LabelTable

    table = LabelTable.empty(KEYPOINTS, [7, 9])
    table.xy[:] = 5.0
    save_slp(tmp_path / "l.slp", table, video="clip.mp4")
    assert predicted_session.import_labels(tmp_path / "l.slp") == 2
    assert names(heard) == [("labels_changed", (7, 9))]


def test_predictions_from_a_worker_thread_are_announced_from_that_thread(predicted_session, heard):
    s = predicted_session
    poses = fake_poses(2, np.random.default_rng(1))
    worker = threading.Thread(target=s.add_predictions, args=([20, 21], poses))
    worker.start()
    worker.join()
    assert names(heard) == [("predictions_changed", (20, 21))]
    assert heard[0][2] == worker.ident  # a Qt view re-emits into its own thread (Relay)
    np.testing.assert_allclose(s.prediction(21), poses[1])


def test_predictions_of_another_version_are_stored_but_not_shown(predicted_session, heard):
    s = predicted_session
    before = s.prediction(20).copy()
    s.add_predictions([20], fake_poses(1, np.random.default_rng(2)), model_version="other")
    assert heard == [] and s.model_version == VERSION
    np.testing.assert_array_equal(s.prediction(20), before)
    assert s.project.frame_predictions(s.video_key, 20, "other") is not None


def test_threshold_and_model_changes_are_announced(predicted_session, heard):
    s = predicted_session
    s.set_threshold(0.7)
    s.set_threshold(0.7)  # unchanged: nothing
    with pytest.raises(SessionError, match="between 0 and 1"):
        s.set_threshold(1.5)
    assert s.threshold == 0.7
    kinds = {p.keypoint: p.kind for p in s.points(0)}
    assert kinds["nose"] == "predicted" and kinds["tail_base"] == "uncertain"  # 0.9 / 0.6
    s.use_model(None)  # no model: its predictions stay on screen
    assert names(heard) == [("threshold_changed", 0.7), ("model_changed", None)]
    assert s.model is None and s.model_version == VERSION


def test_session_state_is_read_only_from_outside(predicted_session):
    s = predicted_session
    for attribute, value in (("model", None), ("model_version", "x"), ("threshold", 0.1)):
        with pytest.raises(AttributeError):
            setattr(s, attribute, value)
