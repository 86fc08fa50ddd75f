"""Jitter metrics on constructed tracks, and export smoothing (off unless asked, recorded)."""

from __future__ import annotations

import numpy as np
import pytest

from napari_superanimal.labels.io.dlc import read_export_metadata
from napari_superanimal.labels.smooth import smooth_poses
from napari_superanimal.metrics.jitter import (
    MIN_JUMP_PX,
    clip_frames,
    compare,
    describe,
    jitter_metrics,
)


def track(n=200, speed=2.0, noise=0.0, seed=0, score=0.9):
    """One keypoint moving right at ``speed`` px/frame, plus Gaussian noise."""
    rng = np.random.default_rng(seed)
    poses = np.zeros((n, 1, 3))
    poses[:, 0, 0] = 50 + speed * np.arange(n) + rng.normal(0, noise, n)
    poses[:, 0, 1] = 80 + rng.normal(0, noise, n)
    poses[:, 0, 2] = score
    return poses


def test_steady_motion_has_its_speed_as_displacement_and_no_shake_or_jumps():
    m = jitter_metrics(track(speed=2.0), ["nose"])["keypoints"]["nose"]
    assert m["median_displacement"] == pytest.approx(2.0)
    assert m["median_acceleration"] == pytest.approx(0.0, abs=1e-9)
    assert m["jump_share"] == 0 and m["low_confidence_share"] == 0
    assert m["pairs"] == 199


def test_noise_raises_displacement_and_acceleration():
    calm = jitter_metrics(track(noise=0.2))["all"]
    shaky = jitter_metrics(track(noise=2.0))["all"]
    assert shaky["median_acceleration"] > 4 * calm["median_acceleration"]
    assert shaky["mean_displacement"] > calm["mean_displacement"]


def test_jumps_are_counted_against_the_robust_spread():
    poses = track(n=101, speed=1.0, noise=0.3, seed=1)
    poses[[20, 60], 0, 0] += 40  # two frames flip away and back: 4 implausible moves of 100
    m = jitter_metrics(poses, ["nose"])["keypoints"]["nose"]
    assert m["jump_share"] == pytest.approx(4 / 100)
    assert MIN_JUMP_PX <= m["jump_px"] < 40
    # a wide but honest spread of speeds is not a jump
    fast = track(n=101, speed=1.0)
    fast[:, 0, 0] = 50 + np.cumsum(np.tile([1.0, 7.0], 51)[:101])
    assert jitter_metrics(fast)["all"]["jump_share"] == 0


def test_low_confidence_frames_are_counted_and_left_out_of_motion():
    poses = track(n=100)
    poses[10:30, 0, 2] = 0.05  # below the 0.1 threshold
    poses[50, 0, :2] = np.nan
    poses[11:29, 0, 0] = 1e4  # wild but unconfident: must not count as motion
    m = jitter_metrics(poses)["all"]
    assert m["low_confidence_share"] == pytest.approx(21 / 100)
    assert m["median_displacement"] == pytest.approx(2.0) and m["jump_share"] == 0
    assert m["pairs"] == 99 - 21 - 2  # pairs touching an unconfident frame drop out
    lenient = jitter_metrics(poses, threshold=0.01)["all"]
    assert lenient["low_confidence_share"] == pytest.approx(0.01)


def test_only_consecutive_frames_make_pairs():
    poses = track(n=6, speed=2.0)
    m = jitter_metrics(poses, frames=[0, 1, 2, 10, 11, 12])["all"]
    assert m["pairs"] == 4 and m["median_displacement"] == pytest.approx(2.0)
    with pytest.raises(ValueError, match="frame indices"):
        jitter_metrics(poses, frames=[0, 1])


def test_compare_keeps_the_first_models_jump_cut():
    shaky, calm = track(noise=2.0, seed=3), track(noise=0.1, seed=3)
    report = compare(shaky, calm, ["nose"])
    cut = report["before"]["keypoints"]["nose"]["jump_px"]
    assert report["after"]["keypoints"]["nose"]["jump_px"] == cut
    assert (
        report["after"]["all"]["median_acceleration"]
        < report["before"]["all"]["median_acceleration"]
    )
    assert "->" in describe(report["before"], report["after"])


def test_clip_frames_are_runs_of_consecutive_frames():
    frames = clip_frames(1000, total=120, clips=3)
    assert len(frames) == 120 and frames[0] == 0 and frames[-1] == 999
    assert int((np.diff(frames) == 1).sum()) == 117
    assert clip_frames(50) == list(range(50))


def test_smoothing_filters_confident_keypoints_only():
    poses = track(n=60, speed=1.0, noise=1.5, seed=4)
    poses[30, 0, 2] = 0.01  # unconfident: kept as it is and left out of its neighbours
    poses[30, 0, 0] = 999.0
    for method in ("median", "savgol"):
        smoothed = smooth_poses(poses, method, window=5)
        assert smoothed[30, 0, 0] == 999.0
        assert abs(smoothed[29, 0, 0] - 79) < 5 and abs(smoothed[31, 0, 0] - 81) < 5
        shake = jitter_metrics(smoothed)["all"]["median_acceleration"]
        assert shake < 0.6 * jitter_metrics(poses)["all"]["median_acceleration"], method
        np.testing.assert_array_equal(smoothed[..., 2], poses[..., 2])  # scores untouched
    with pytest.raises(ValueError, match="odd"):
        smooth_poses(poses, "median", window=4)
    with pytest.raises(ValueError, match="unknown smoothing"):
        smooth_poses(poses, "mean")


def test_export_smoothing_is_off_by_default_and_recorded_when_on(tmp_path):
    import pandas as pd

    from napari_superanimal.session import Session
    from napari_superanimal.video.synthetic import write_index_video

    video = write_index_video(tmp_path / "clip.mp4", n_frames=30)
    with Session.open(video, keypoints=["nose", "tail"], project=tmp_path / "p") as s:
        poses = np.concatenate([track(n=30, noise=2.0), track(n=30, noise=2.0, seed=9)], 1)
        # predictions made elsewhere (as dask workers add them)
        s.add_predictions(range(30), poses.astype(np.float32), model_version="fake-model")
        raw = s.export(tmp_path / "raw.h5")
        smooth = s.export(tmp_path / "smooth.h5", smooth="savgol", window=7)
        with pytest.raises(ValueError, match="dlc-h5"):
            s.export(tmp_path / "x.slp", format="slp", smooth="median")
    assert read_export_metadata(raw) == {}
    meta = read_export_metadata(smooth)["smoothing"]
    assert meta == {"method": "savgol", "window": 7, "threshold": 0.1, "polyorder": 2}
    a = pd.read_hdf(raw, "df_with_missing").to_numpy().reshape(30, 2, 3)
    b = pd.read_hdf(smooth, "df_with_missing").to_numpy().reshape(30, 2, 3)
    np.testing.assert_allclose(a, poses, rtol=1e-6)  # off by default: the raw predictions
    assert not np.allclose(a[..., :2], b[..., :2])
