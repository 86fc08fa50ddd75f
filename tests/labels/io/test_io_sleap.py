"""SLEAP .slp import/export through sleap-io: labels, predictions with scores, skeleton, video."""

from __future__ import annotations

import numpy as np
import pytest
import sleap_io as sio

from napari_superanimal.errors import LabelFormatError
from napari_superanimal.labels.io.sleap import load_slp, save_slp
from napari_superanimal.labels.model import LabelTable
from napari_superanimal.session import Session

KEYPOINTS = ["nose", "left_ear", "right_ear", "tail_base"]
EDGES = [("nose", "left_ear"), ("nose", "right_ear"), ("nose", "tail_base")]


def test_session_round_trip_with_labels_predictions_and_video(session, tmp_path):
    session.label(4, "nose", 10.25, 20.5)
    session.label(4, "tail_base", 100, 60)
    session.label(9, "left_ear", 30, 40)
    session.hide(9, "left_ear")  # hidden, keeping its position
    session.hide(9, "right_ear")  # hidden, never placed
    poses = np.full((len(session), 4, 3), np.nan, np.float32)
    poses[[4, 50]] = [[11, 21, 0.9], [31, 41, 0.5], [51, 61, 0.25], [99, 59, 0.75]]
    session.add_predictions([4, 50], poses[[4, 50]], model_version="fake-v1")
    out = session.export(tmp_path / "clip.slp", format="slp")

    labels = sio.load_slp(str(out), open_videos=False)  # the real reader
    assert labels.videos[0].filename == str(session.video.source_path)
    assert labels.skeletons[0].node_names == KEYPOINTS
    assert [(e.source.name, e.destination.name) for e in labels.skeletons[0].edges] == EDGES
    by_frame = {lf.frame_idx: lf for lf in labels.labeled_frames}
    assert sorted(by_frame) == [4, 9, 50]
    user = by_frame[4].user_instances[0].numpy()
    assert user[0].tolist() == [10.25, 20.5] and np.isnan(user[1]).all()
    pred = by_frame[4].predicted_instances[0]
    assert isinstance(pred, sio.PredictedInstance)
    np.testing.assert_allclose(pred.numpy(scores=True)[:, 2], [0.9, 0.5, 0.25, 0.75])
    assert not by_frame[50].user_instances and by_frame[50].predicted_instances
    hidden = by_frame[9].user_instances[0]
    assert hidden.points["visible"].tolist() == [False, False, False, False]
    assert hidden.numpy(invisible_as_nan=False)[1].tolist() == [30, 40]

    tables = load_slp(out)
    # predictions are float32 in the project
    np.testing.assert_allclose(tables.predictions.scores[0], [0.9, 0.5, 0.25, 0.75], rtol=1e-6)
    with Session.open(session.video, keypoints=KEYPOINTS, project=tmp_path / "p2") as fresh:
        assert fresh.import_labels(out) == 2  # frames 4 and 9: predictions are not labels
        assert fresh.labels(4)["nose"].x == 10.25
        assert fresh.labels(9)["left_ear"].state == "hidden"
        assert (fresh.labels(9)["left_ear"].x, fresh.labels(9)["left_ear"].y) == (30, 40)
        # SLEAP cannot tell "hidden, never placed" from "not labeled": it comes back unlabeled
        assert "right_ear" not in fresh.labels(9)
        assert fresh.skeleton == EDGES


def test_save_and_load_keep_values_exactly(tmp_path):
    table = LabelTable.empty(KEYPOINTS, [0, 7])
    table.xy[0] = [[1.125, 2.5], [np.nan, np.nan], [3, 4], [5, 6]]
    table.xy[1, 3] = (7.75, 8.25)
    out = save_slp(tmp_path / "a.slp", table, video="clip.mp4", skeleton=EDGES)
    back = load_slp(out)
    assert back.labels.frames == [0, 7] and back.labels.keypoints == tuple(KEYPOINTS)
    np.testing.assert_array_equal(back.labels.xy, table.xy)
    assert back.predictions is None and back.video == "clip.mp4"


def _write(tmp_path, frames):
    """A .slp written by sleap-io itself, from {frame: [points per user instance]}."""
    skeleton = sio.Skeleton(list(KEYPOINTS))  # sleap-io turns the list it gets into Nodes
    video = sio.Video(filename="clip.mp4", open_backend=False)
    lfs = [
        sio.LabeledFrame(
            video=video,
            frame_idx=f,
            instances=[sio.Instance.from_numpy(np.asarray(p, float), skeleton) for p in insts],
        )
        for f, insts in frames.items()
    ]
    path = tmp_path / "in.slp"
    sio.save_slp(sio.Labels(lfs, videos=[video], skeletons=[skeleton]), str(path))
    return path


GOOD = [[1, 2], [3, 4], [5, 6], [7, 8]]


def test_two_animals_on_a_frame_are_refused(tmp_path):
    path = _write(tmp_path, {3: [GOOD, GOOD]})
    with pytest.raises(LabelFormatError, match=r"in.slp: frame 3 has 2 labeled animals"):
        load_slp(path)


def test_half_a_coordinate_is_refused(tmp_path):
    path = _write(tmp_path, {3: [[[1, np.nan], [3, 4], [5, 6], [7, 8]]]})
    with pytest.raises(LabelFormatError, match="nose on frame 3 has one coordinate"):
        load_slp(path)


def test_session_import_checks_frame_and_keypoints_before_writing(session, tmp_path):
    outside = _write(tmp_path, {3: [GOOD], 5: [[[500, 2], [3, 4], [5, 6], [7, 8]]]})
    with pytest.raises(LabelFormatError, match=r"nose on frame 5 at \(500.0, 2.0\) is outside"):
        session.import_labels(outside)
    assert session.labeled_frames() == []  # frame 3 was fine but nothing was imported
    other = tmp_path / "other"
    other.mkdir()
    sk = sio.Skeleton(["a", "b"])
    vid = sio.Video(filename="clip.mp4", open_backend=False)
    lf = sio.LabeledFrame(
        video=vid, frame_idx=1, instances=[sio.Instance.from_numpy(np.ones((2, 2)), sk)]
    )
    sio.save_slp(sio.Labels([lf], videos=[vid], skeletons=[sk]), str(other / "x.slp"))
    with pytest.raises(LabelFormatError, match="keypoint set does not match the project"):
        session.import_labels(other / "x.slp")


def test_not_a_slp_file(tmp_path):
    bad = tmp_path / "bad.slp"
    bad.write_text("hello")
    with pytest.raises(LabelFormatError, match=r"bad.slp: not a readable SLEAP file"):
        load_slp(bad)
