"""Inference: crops round-trip, batch equals frame-by-frame, full-frame path, CLI predict to .h5."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch

from napari_superanimal import open_video
from napari_superanimal.model.checkpoint import save_snapshot
from napari_superanimal.model.inference import load_model
from napari_superanimal.model.networks import build_network
from napari_superanimal.model.preprocess import context_box, crop_with_context

KEYPOINTS = ("a", "b", "c")


@pytest.mark.parametrize("box", [(40, 30, 50, 20), (-10, -5, 30, 60), (150, 80, 60, 60)])
def test_crop_then_map_back_round_trips_a_keypoint_within_a_pixel(box):
    frame = np.zeros((120, 200, 3), np.uint8)
    x, y, w, h = box
    px, py = x + 0.3 * w, y + 0.6 * h  # a bright 1-pixel keypoint inside the box
    if 0 <= int(py) < 120 and 0 <= int(px) < 200:
        frame[int(py), int(px)] = 255
    crop, transform = crop_with_context(frame, box, (256, 256))
    assert crop.shape == (256, 256, 3)
    cx, cy, cw, ch = context_box(box, (256, 256))
    assert cw == pytest.approx(ch)  # widened to the output's square aspect ratio
    back = transform.to_frame(transform.to_crop(np.array([[px, py, 1.0]])))
    np.testing.assert_allclose(back[0, :2], [px, py], atol=1e-9)
    if frame.any():  # the brightest crop pixel maps back onto the keypoint's pixel
        r, c = np.unravel_index(crop[..., 0].argmax(), crop.shape[:2])
        mapped = transform.to_frame(np.array([[c + 0.5, r + 0.5, 1.0]]))[0]
        assert abs(mapped[0] - (int(px) + 0.5)) <= 1 and abs(mapped[1] - (int(py) + 0.5)) <= 1


def test_crop_pads_outside_the_frame_with_zeros():
    frame = np.full((50, 50, 3), 200, np.uint8)
    crop, _ = crop_with_context(frame, (-50, -50, 60, 60), (64, 64))
    assert crop[:20, :20].max() == 0 and crop[-5:, -5:].min() > 150


@pytest.fixture(scope="module")
def light_model(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("w") / "light.pt"
    save_snapshot(path, build_network("light_resnet18", len(KEYPOINTS)))
    return load_model(
        "light", weights=path, arch="light_resnet18", keypoints=KEYPOINTS, device="cpu"
    )


def test_batch_prediction_equals_frame_by_frame(light_model):
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 255, (5, 96, 128, 3), dtype=np.uint8)
    batched = light_model.predict(frames, batch_size=4)
    single = np.stack([light_model.predict(f) for f in frames])
    np.testing.assert_allclose(batched, single, atol=1e-4)
    assert batched.shape == (5, 3, 3)
    assert (batched[..., 0] < 128).all() and (batched[..., 1] < 96).all()  # frame pixels
    boxes = np.tile([10, 10, 60, 40], (5, 1))
    crops = light_model.predict(frames, boxes=boxes, batch_size=2)
    np.testing.assert_allclose(
        crops,
        np.stack([light_model.predict(f, boxes=b) for f, b in zip(frames, boxes, strict=True)]),
        atol=1e-4,
    )


def test_full_frame_pads_to_a_multiple_of_32_and_returns_frame_pixels(light_model):
    frames = np.zeros((1, 90, 100, 3), np.uint8)  # not multiples of 32
    out = light_model.predict(frames)
    assert out.shape == (1, 3, 3)
    assert np.all(out[..., 2] >= 0) and np.all(out[..., 2] <= 1)


def test_predict_video_matches_predicting_its_frames(light_model, video_copy):
    video = open_video(video_copy, convert=False)
    got = light_model.predict_video(video, frames=range(0, 20), batch_size=8)
    frames = np.stack([video.read_frame(i) for i in range(20)])
    np.testing.assert_allclose(got, light_model.predict(frames), atol=1e-4)


def test_superanimal_model_without_weights_offline_fails_with_a_clear_line(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from napari_superanimal.zoo import WeightsNotFoundError

    with pytest.raises(WeightsNotFoundError, match="superanimal_quadruped_hrnet_w32.pt"):
        load_model("superanimal_quadruped", download=False)


@pytest.mark.slow
def test_cli_predict_writes_a_deeplabcut_h5(video_copy, tmp_path):
    weights = tmp_path / "superanimal_topviewmouse_hrnet_w32.pt"
    torch.manual_seed(1)
    save_snapshot(weights, build_network("hrnet_w32", 27))
    out = tmp_path / "pred.h5"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "napari_superanimal.cli",
            "predict",
            str(video_copy),
            "--weights",
            str(weights),
            "--out",
            str(out),
            "--quiet",
            "--offline",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    df = pd.read_hdf(out, key="df_with_missing")
    assert df.shape == (150, 27 * 3)
    assert list(df.columns.names) == ["scorer", "individuals", "bodyparts", "coords"]
    assert df.columns.get_level_values("bodyparts")[0] == "nose"
    assert set(df.columns.get_level_values("coords")) == {"x", "y", "likelihood"}
    likelihood = df.xs("likelihood", level="coords", axis=1).to_numpy()
    assert ((likelihood >= 0) & (likelihood <= 1)).all()
    from movement.io import load_poses  # what movement users will call on our output

    ds = load_poses.from_dlc_file(out, fps=30)
    assert ds.position.shape[0] == 150 and "nose" in list(ds.keypoints.values)
    # the predictions also persist in the video's project, under the model that made them
    from napari_superanimal.labels.project import Project

    with Project.open(video_copy.with_name("clip.superanimal"), readonly=True) as project:
        stored = project.frame_predictions("clip.mp4", 7, "superanimal_topviewmouse_hrnet_w32")
    np.testing.assert_allclose(stored, df.iloc[7].to_numpy().reshape(27, 3), rtol=1e-6)
