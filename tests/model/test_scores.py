"""Scores a user can act on: calibrated for models trained here, and keypoints on the frame."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from napari_superanimal.model.calibration import Calibration, fit_calibration
from napari_superanimal.model.decode import decode_heatmaps


def test_an_overconfident_score_comes_down_to_how_often_it_is_right():
    rng = np.random.default_rng(0)
    scores = np.full(400, 0.97)
    hits = rng.random(400) < 0.5  # sure of itself, right half the time
    cal = fit_calibration(scores, hits)
    assert cal(np.array([0.97]))[0] == pytest.approx(hits.mean(), abs=0.05)
    assert cal.points == 400 and cal.radius_px == 10


def test_scores_that_separate_right_from_wrong_keep_doing_so():
    rng = np.random.default_rng(1)
    right = rng.uniform(0.7, 1.0, 200)
    wrong = rng.uniform(0.0, 0.5, 200)
    cal = fit_calibration(np.r_[right, wrong], np.r_[np.ones(200), np.zeros(200)])
    out = cal(np.array([0.95, 0.2]))
    assert out[0] > 0.9 and out[1] < 0.1
    assert np.all(np.diff(cal(np.linspace(0, 1, 50))) >= 0)  # a higher score stays higher


def test_a_handful_of_points_cannot_make_scores_extreme():
    """Two validation points, both right at 0.6: the fit is pulled towards the raw score, not
    to certainty."""
    cal = fit_calibration([0.6, 0.6], [True, True])
    assert 0.6 <= cal(np.array([0.6]))[0] < 0.9


def test_views_of_the_same_points_weigh_as_those_points_not_as_more_evidence():
    """A round sees each validation point in several views of its frame; they agree with each
    other, so eight views of four points must not outweigh the pull towards the raw score as
    32 frames' points would."""
    scores, hits = [0.9, 0.9, 0.5, 0.5], [False, False, True, True]  # wrong where sure
    once = fit_calibration(scores, hits)
    eight = fit_calibration(np.tile(scores, 8), np.tile(hits, 8), weight=1 / 8)
    assert eight.slope == pytest.approx(once.slope, abs=1e-6) and eight.points == 4
    assert eight.offset == pytest.approx(once.offset, abs=1e-6)
    overweighted = fit_calibration(np.tile(scores, 8), np.tile(hits, 8))
    assert abs(overweighted.slope - 1) > abs(once.slope - 1)  # 32 points move it further


def test_a_calibration_keeps_missing_keypoints_missing_and_round_trips():
    cal = Calibration(1.5, -0.3, 10.0, 20)
    out = cal(np.array([np.nan, 0.0, 1.0], np.float32))
    assert np.isnan(out[0]) and out.dtype == np.float32 and 0 <= out[1] < out[2] <= 1
    assert Calibration.from_dict(cal.to_dict()) == cal and Calibration.from_dict(None) is None
    with pytest.raises(ValueError, match="as many"):
        fit_calibration([0.5, 0.2], [True])


def test_a_peak_in_the_padding_is_not_a_keypoint_of_a_model_trained_here():
    """A 30x30 frame padded to 32x32 (stride 4: the last row and column of cells have centres
    at 30, in the padding). The network's strongest peak is there; a model trained here takes
    the best peak on the frame, SuperAnimal (DeepLabCut's argmax) the padded one."""
    hm = torch.zeros(1, 1, 8, 8)
    hm[0, 0, 7, 7] = 1.0  # centre (30, 30): past the frame
    hm[0, 0, 2, 3] = 0.5  # centre (14, 10)
    assert decode_heatmaps(hm, 4)[0, 0].tolist() == [30.0, 30.0, 1.0]
    assert decode_heatmaps(hm, 4, extent=(30, 30))[0, 0].tolist() == [14.0, 10.0, 0.5]
    assert decode_heatmaps(hm, 4, extent=(31, 31))[0, 0].tolist() == [30.0, 30.0, 1.0]


def test_models_trained_here_stay_on_the_frame_and_superanimal_keeps_deeplabcuts_argmax(
    zoo_cache,
):
    from napari_superanimal.model.inference import PoseEstimator, load_model
    from napari_superanimal.model.networks import build_network

    zoo_cache(detectors=())
    model = load_model("superanimal_topviewmouse", device="cpu", download=False, detector=None)
    assert model.deeplabcut_outputs
    torch.manual_seed(0)
    model = PoseEstimator(build_network("light_resnet18", 6), list("abcdef"), "cpu")
    assert not model.deeplabcut_outputs  # a network built here
    # 33x33 frames are padded to 64x64: three quarters of what the network sees is padding,
    # where an untrained network's peaks often are
    frames = np.random.default_rng(0).integers(0, 255, (4, 33, 33, 3), dtype=np.uint8)
    inside = model.predict(frames, subpixel=False)
    assert (inside[..., :2] < 33).all()
    refined = model.predict(frames)  # between cells, still on the frame
    assert np.isfinite(refined).all() and (refined[..., :2] <= 33).all()
    model.deeplabcut_outputs = True
    padded = model.predict(frames, subpixel=False)
    assert (padded[..., :2] >= 33).any(axis=-1).mean() > 0.25
    same = (padded[..., :2] < 33).all(-1)  # where the best peak was on the frame anyway
    # the same peaks; the scores agree to float32's last bits, as DeepLabCut's models take
    # DeepLabCut's normalisation arithmetic (preprocess.normalize)
    np.testing.assert_array_equal(inside[same][:, :2], padded[same][:, :2])
    np.testing.assert_allclose(inside[same][:, 2], padded[same][:, 2], rtol=0, atol=1e-6)


def _walking(frames=40, still=False, seed=0):
    """(T, 1, 4, 3) poses of a 20-px animal walking 5 px a frame (or standing), scored 0.95."""
    rng = np.random.default_rng(seed)
    body = np.array([[0, 0], [20, 0], [0, 20], [20, 20]], float)
    path = np.c_[100 + (0 if still else 5) * np.arange(frames), np.full(frames, 100.0)]
    xy = path[:, None] + body[None] + rng.normal(0, 0.7, (frames, 4, 2))
    return np.concatenate([xy, np.full((frames, 4, 1), 0.95)], -1)[:, None].astype(np.float32)


def test_a_keypoint_stuck_on_the_scene_while_its_animal_walks_is_not_sure():
    from napari_superanimal.model.motion import FLAGGED_SCORE, flag_implausible

    poses = _walking()
    poses[:, 0, 3, :2] = [500, 400]  # the tail base on a reflection, every frame
    out = flag_implausible(poses, np.arange(40))
    assert (out[:, 0, 3, 2] == FLAGGED_SCORE).all()
    np.testing.assert_array_equal(out[:, 0, :3], poses[:, 0, :3])  # the others untouched
    np.testing.assert_array_equal(out[..., :2], poses[..., :2])  # nothing moves


def test_a_one_frame_spike_is_not_sure_and_a_resting_or_walking_animal_keeps_its_scores():
    from napari_superanimal.model.motion import FLAGGED_SCORE, flag_implausible

    for still in (True, False):
        poses = _walking(still=still)
        poses[:, 0, 2, :2] = poses[0, 0, 2, :2] if still else poses[:, 0, 2, :2]  # dead still
        np.testing.assert_array_equal(flag_implausible(poses, np.arange(40)), poses)
    poses = _walking()
    poses[10, 0, 1, :2] += [200, 0]
    out = flag_implausible(poses, np.arange(40))
    assert out[10, 0, 1, 2] == FLAGGED_SCORE and (out[..., 2] == FLAGGED_SCORE).sum() == 1
    # the same frames, not consecutive in the video: nothing to judge a jump by
    gaps = np.arange(40) * 2
    np.testing.assert_array_equal(flag_implausible(poses, gaps), poses)
    # backwards in time (tracking runs both ways) is still a run
    backwards = flag_implausible(poses[::-1], np.arange(40)[::-1])[::-1]
    np.testing.assert_array_equal(backwards, out)


def test_a_video_prediction_flags_what_a_model_trained_here_gets_wrong_over_time(tmp_path):
    from napari_superanimal import open_video
    from napari_superanimal.demo.mouse import make_mouse_video
    from napari_superanimal.model.inference import PoseEstimator
    from napari_superanimal.model.motion import flag_implausible
    from napari_superanimal.model.networks import build_network

    path, _ = make_mouse_video(tmp_path / "m.mp4", n_frames=24, size=(96, 128), seed=0)
    video = open_video(path, codec="lossless")
    torch.manual_seed(1)
    model = PoseEstimator(build_network("light_resnet18", 4), list("abcd"), "cpu")
    frames = list(range(24))
    single = model.predict(np.stack([video.read_frame(f) for f in frames]))
    flagged = flag_implausible(single[:, None], frames)[:, 0]
    assert (flagged[..., 2] < single[..., 2]).any()  # an untrained network's peaks wander
    np.testing.assert_allclose(model.predict_video(video, frames), flagged, rtol=1e-5)
    model.deeplabcut_outputs = True  # a SuperAnimal model: DeepLabCut's scores
    single = model.predict(np.stack([video.read_frame(f) for f in frames]))
    np.testing.assert_allclose(model.predict_video(video, frames), single, rtol=1e-5)
