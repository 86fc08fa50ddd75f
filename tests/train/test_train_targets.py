"""Training targets, augmentation and the learning-rate schedule: the pieces a round is made of."""

from __future__ import annotations

import numpy as np
import pytest

from napari_superanimal.train.augment import AugmentSettings, augment
from napari_superanimal.train.schedule import one_cycle as _one_cycle
from napari_superanimal.train.targets import gaussian_targets

STRIDE = 4


def test_a_keypoint_peaks_at_its_cell_with_deeplabcuts_sigma():
    # cell (row 5, col 7) has its centre at x = 7 * 4 + 2 = 30, y = 5 * 4 + 2 = 22
    maps, weights = gaussian_targets(np.array([[[30.0, 22.0]]]), np.array([[True]]), (16, 16), 4)
    heat = maps[0, 0].numpy()
    assert np.unravel_index(heat.argmax(), heat.shape) == (5, 7)
    assert heat[5, 7] == pytest.approx(1.0)
    sigma = 2 * 17 / 3
    assert heat[5, 8] == pytest.approx(np.exp(-(STRIDE**2) / (2 * sigma**2)), rel=1e-5)
    assert weights[0, 0] == 1


def test_hidden_unknown_and_cropped_out_keypoints_neither_pull_nor_push():
    points = np.array([[[30.0, 22.0], [np.nan, np.nan], [500.0, -300.0], [64.5, 30.0]]])
    visible = np.array([[False, True, True, True]])
    maps, weights = gaussian_targets(points, visible, (16, 16), 4)
    assert weights.tolist() == [[0.0, 0.0, 0.0, 0.0]] and maps.max() == 0
    maps, weights = gaussian_targets(np.array([[[63.5, 30.0]]]), np.array([[True]]), (16, 16), 4)
    assert weights[0, 0] == 1 and maps[0, 0, 7, 15] > 0.9  # inside, on the last column


def test_augmented_keypoints_land_on_the_same_image_content():
    frame = np.zeros((200, 300, 3), np.uint8)
    dots = np.array([[100.5, 60.5], [180.5, 120.5]])  # pixel centres (x, y)
    for (x, y), colour in zip(dots, ((255, 0, 0), (0, 255, 0)), strict=True):
        frame[int(y) - 2 : int(y) + 3, int(x) - 2 : int(x) + 3] = colour
    plain = AugmentSettings(brightness=0, contrast=(1, 1), noise=0, blur_probability=0)
    rng = np.random.default_rng(4)
    for _ in range(10):  # random rotation, zoom and shift
        crop, points = augment(frame, dots, rng, size=128, settings=plain)
        for (x, y), channel in zip(points, (0, 1), strict=True):
            if 3 <= x < 125 and 3 <= y < 125:
                assert crop[int(y), int(x), channel] > 200
    _, points = augment(frame, np.array([[np.nan, np.nan], *dots[:1]]), rng, 128, plain)
    assert np.isnan(points[0]).all() and np.isfinite(points[1]).all()


def test_the_learning_rate_warms_up_then_anneals_over_steps_or_time():
    lr = 1e-3
    assert _one_cycle(lr, 0.0) == pytest.approx((lr / 25, 0.95))
    assert _one_cycle(lr, 0.15) == pytest.approx((lr, 0.85))
    assert _one_cycle(lr, 1.0) == pytest.approx((lr / 25e4, 0.95))
    assert _one_cycle(lr, 3.0) == _one_cycle(lr, 1.0)  # past the time budget: stays annealed
    values = [_one_cycle(lr, t)[0] for t in np.linspace(0.15, 1, 20)]
    assert all(a > b for a, b in zip(values, values[1:], strict=False))


def test_resized_frames_and_keypoints_stay_on_the_same_spot():
    from napari_superanimal.model.preprocess import frame_to_input, input_to_frame, rescale_frames

    frame = np.zeros((1, 301, 417, 3), np.uint8)
    frame[0, 200:204, 120:124] = 255  # a 4x4 spot centred at x 121.5, y 201.5
    small = rescale_frames(frame, 0.5)[0, ..., 0].astype(float)
    assert small.shape == (150, 208)
    ys, xs = np.mgrid[: small.shape[0], : small.shape[1]]
    seen = np.array([(xs * small).sum() / small.sum(), (ys * small).sum() / small.sum()])
    mapped = frame_to_input(np.array([121.5, 201.5]), (301, 417), 0.5)
    np.testing.assert_allclose(mapped, seen, atol=0.05)
    np.testing.assert_allclose(input_to_frame(mapped, (301, 417), 0.5), [121.5, 201.5])
