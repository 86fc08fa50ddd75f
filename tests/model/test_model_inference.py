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
from napari_superanimal.model.motion import flag_implausible
from napari_superanimal.model.networks import build_network
from napari_superanimal.model.preprocess import crop_corners, crop_with_context, pad_to_multiple

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
    assert transform.scale_x == transform.scale_y  # widened to the output's square aspect ratio
    assert transform.scale_x * 256 >= max(box[2], box[3]) - 1
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


def test_crop_corners_round_half_to_even_as_deeplabcut():
    frame = np.arange(40 * 40 * 3, dtype=np.uint32).reshape(40, 40, 3).astype(np.uint8)
    # centre 5.5 -> corners 0.5 and 10.5 -> 0 and 10 (half to even), not 1 and 11
    crop, t = crop_with_context(frame, (0.5, 0.5, 10, 10), (10, 10))
    np.testing.assert_array_equal(crop, frame[0:10, 0:10])
    assert (t.offset_x, t.offset_y, t.scale_x) == (0.0, 0.0, 1.0)
    # centre 6.5 -> 1.5 and 11.5 -> 2 and 12
    crop, t = crop_with_context(frame, (1.5, 1.5, 10, 10), (10, 10))
    np.testing.assert_array_equal(crop, frame[2:12, 2:12])


def test_crop_resize_is_bilinear_with_half_pixel_centres():
    # OpenCV's INTER_LINEAR, which DeepLabCut uses: 2 px [0, 100] -> 4 px [0, 25, 75, 100]
    frame = np.zeros((2, 2, 3), np.uint8)
    frame[:, 1] = 100
    crop, _ = crop_with_context(frame, (0, 0, 2, 2), (4, 4))
    np.testing.assert_array_equal(crop[0, :, 0], [0, 25, 75, 100])


def test_full_frame_padding_mirrors_the_frame_without_repeating_its_edge():
    frames = np.arange(2 * 30 * 33 * 3, dtype=np.uint32).reshape(2, 30, 33, 3).astype(np.uint8)
    padded = pad_to_multiple(frames, 32)
    assert padded.shape == (2, 32, 64, 3)
    np.testing.assert_array_equal(padded[:, :30, :33], frames)  # frame pixels stay put
    np.testing.assert_array_equal(padded[:, 30, :33], frames[:, 28])  # row 30 mirrors row 28
    np.testing.assert_array_equal(padded[:, :30, 33], frames[:, :, 31])


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
    single = light_model.predict(frames)
    np.testing.assert_allclose(got[..., :2], single[..., :2], atol=1e-4)
    # the same scores, except where the video shows a keypoint cannot be right (a model
    # trained here: :mod:`napari_superanimal.model.motion`)
    flagged = flag_implausible(single[:, None], range(20))[:, 0]
    np.testing.assert_allclose(got[..., 2], flagged[..., 2], atol=1e-4)


def test_a_frame_without_a_box_gets_nan_keypoints_and_zero_score(light_model):
    frames = np.zeros((2, 96, 128, 3), np.uint8)
    boxes = np.array([[10, 10, 40, 40], [np.nan] * 4])
    out = light_model.predict(frames, boxes=boxes)
    assert np.isfinite(out[0]).all()
    assert np.isnan(out[1, :, :2]).all() and (out[1, :, 2] == 0).all()


def test_a_box_under_a_pixel_is_no_animal_not_an_error(light_model):
    # A random SuperAnimal detector finds boxes 0.03-0.1 px thin at the frame's edge
    # (benchmarks/bench_topdown_dlc.py, seed 0: 8 of 20 frames); DeepLabCut 3.0.2 rounds their
    # crop to no pixel and fails in OpenCV's resize. No pixel holds no animal.
    for box in [(127.97, 40.0, 0.03, 0.05), (10.2, 10.2, 0.04, 0.04)]:
        assert crop_corners(box) is None
        with pytest.raises(ValueError, match="under a pixel"):
            crop_with_context(np.zeros((96, 128, 3), np.uint8), box)
    assert crop_corners((10.0, 10.0, 0.6, 0.6)) == (10, 10, 11, 11)  # half a pixel: one pixel
    frames = np.zeros((3, 96, 128, 3), np.uint8)
    boxes = np.array([[127.97, 40.0, 0.03, 0.05], [10, 10, 40, 40], [5.0, 5.0, 0.0, 9.0]])
    out = light_model.predict(frames, boxes=boxes)
    assert np.isnan(out[[0, 2], :, :2]).all() and (out[[0, 2], :, 2] == 0).all()
    np.testing.assert_array_equal(out[1], light_model.predict(frames[1], boxes=boxes[1]))


def test_tracked_boxes_follow_the_previous_frames_confident_keypoints():
    from napari_superanimal.model.boxes import RoiBoxes, TrackedBoxes

    seed = RoiBoxes((0, 0, 50, 50))
    track = TrackedBoxes(seed, min_score=0.5, margin=0.25)
    frame = np.zeros((1, 10, 10, 3), np.uint8)
    np.testing.assert_array_equal(track.boxes(frame), [[0, 0, 50, 50]])  # first frame: seed
    pts = np.array([[[100, 200, 0.9], [140, 220, 0.8], [500, 500, 0.1]]])  # 3rd not confident
    track.update(pts)
    np.testing.assert_allclose(track.boxes(frame), [[90, 190, 60, 40]])  # 40 px side, 10 px pad
    track.update(np.array([[[7, 7, 0.9], [7.5, 7.2, 0.8]]]))  # on one spot: lost as well
    np.testing.assert_array_equal(track.boxes(frame), [[0, 0, 50, 50]])
    track.update(pts)
    track.update(np.array([[[1, 1, 0.2], [2, 2, 0.3], [3, 3, 0.9]]]))  # lost: back to the seed
    np.testing.assert_array_equal(track.boxes(frame), [[0, 0, 50, 50]])


def test_predict_video_with_tracked_boxes_equals_a_frame_by_frame_loop(light_model, video_copy):
    from napari_superanimal.model.boxes import RoiBoxes, TrackedBoxes

    video = open_video(video_copy, convert=False)
    got = light_model.predict_video(
        video,
        frames=range(6),
        batch_size=8,
        boxes=TrackedBoxes(RoiBoxes((20, 10, 60, 60)), 0.0),
        flag=False,  # frame by frame: no frame is judged by its neighbours
    )
    box = np.array([20, 10, 60, 60.0])
    for i in range(6):
        expect = light_model.predict(video.read_frame(i), boxes=box)
        np.testing.assert_allclose(got[i], expect, atol=1e-4)
        (x0, y0), (x1, y1) = expect[:, :2].min(0), expect[:, :2].max(0)
        if max(x1 - x0, y1 - y0) < 1.0:  # a random network may put every keypoint on one spot
            box = np.array([20, 10, 60, 60.0])
            continue
        pad = 0.25 * max(x1 - x0, y1 - y0)
        box = np.array([x0 - pad, y0 - pad, x1 - x0 + 2 * pad, y1 - y0 + 2 * pad])


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
            "--full-frame",  # 150 frames: the detector's path is tested on a short clip
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    df = pd.read_hdf(out, key="df_with_missing")
    assert df.shape == (150, 27 * 3)
    assert list(df.columns.names) == ["scorer", "bodyparts", "coords"]  # one animal
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
