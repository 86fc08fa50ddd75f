"""An unsure keypoint is looked for where the sure ones place it, never on the far wall."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from napari_superanimal.model.inference import PoseEstimator
from napari_superanimal.model.layout import UNSURE, Layout, fit_layout
from napari_superanimal.model.networks import build_network

OFFSETS = np.array([[0.0, 0.0], [16.0, 0.0], [0.0, 24.0]])  # B right of A, C below A


def labels(n=8, seed=0):
    """``n`` frames of a 3-keypoint animal anywhere on the frame, a pixel of label noise."""
    rng = np.random.default_rng(seed)
    where = rng.uniform(10, 100, (n, 1, 2))
    return where + OFFSETS + rng.normal(0, 1, (n, 3, 2))


def test_the_layout_is_the_offsets_between_labeled_keypoints_and_round_trips():
    xy = labels()
    xy[:6, 2] = np.nan  # C labeled on 2 frames only: still enough for its offsets
    layout = fit_layout(xy)
    mean, spread, count = (np.asarray(a) for a in (layout.mean, layout.spread, layout.count))
    np.testing.assert_allclose(mean[0, 1], [16, 0], atol=1.5)
    np.testing.assert_allclose(mean[1, 2], [-16, 24], atol=3)
    assert count[0, 1] == 8 and count[0, 2] == 2 and count[0, 0] == 0
    assert (spread[0, 1] < 2).all()
    assert layout.size == pytest.approx(16, abs=3)  # the median extent: A to B, C mostly out
    assert Layout.from_dict(layout.to_dict()) == layout and Layout.from_dict(None) is None
    hash(layout)  # a cluster's model spec carries it
    xy[:7, 2] = np.nan  # C on one frame: nothing to learn about it
    assert np.asarray(fit_layout(xy).count)[0, 2] == 1
    assert fit_layout(labels(1)) is None and fit_layout(np.empty((0, 3, 2))) is None


def heatmaps_with_a_faint_keypoint(c_score=0.25):
    """8x8 cells at stride 4 (a 32x32 input; its last two rows are padding of a 24-row frame):
    A sure at input (10, 10), B sure at (18, 10); C's map has a faint bump where A and B place
    it, (10, 22), and a stronger one of ``c_score`` far away, at (30, 2)."""
    hm = torch.zeros(1, 3, 8, 8)
    hm[0, 0, 2, 2] = 0.9
    hm[0, 1, 2, 4] = 0.8
    hm[0, 2, 5, 2] = 0.15
    hm[0, 2, 0, 7] = c_score
    return hm


def test_an_unsure_keypoint_is_placed_near_where_the_sure_ones_expect_it():
    layout = fit_layout(labels())
    hm = heatmaps_with_a_faint_keypoint()
    raw = np.array([[[10, 10, 0.9], [18, 10, 0.8], [30, 2, 0.25]]], np.float32)
    out = layout.refine(hm.numpy(), raw, stride=4, frame_size=(24, 32))
    np.testing.assert_allclose(out[0, :2], raw[0, :2])  # the sure ones stay
    np.testing.assert_allclose(out[0, 2], [10, 22, 0.15])  # C: its heatmap's value, still unsure
    # a sure C keeps its own peak, however far from where the others expect it
    sure = raw.copy()
    sure[0, 2, 2] = UNSURE
    np.testing.assert_array_equal(layout.refine(hm.numpy(), sure, 4, (24, 32)), sure)
    # a weak peak where the others place it is the animal's: it stays
    near = raw.copy()
    near[0, 2] = [12, 26, 0.1]
    np.testing.assert_array_equal(layout.refine(hm.numpy(), near, 4, (24, 32)), near)
    # nothing sure to go by (A and B unsure too): every keypoint keeps its peak
    lost = raw.copy()
    lost[0, :2, 2] = 0.1
    np.testing.assert_array_equal(layout.refine(hm.numpy(), lost, 4, (24, 32)), lost)


def test_an_animal_that_turns_gives_no_place_and_its_keypoints_keep_their_peaks():
    """Labels of a mouse seen from above in every orientation: B and C lie at fixed distances
    from A but in any direction, which places C nowhere in particular."""
    rng = np.random.default_rng(2)
    angles = rng.uniform(0, 2 * np.pi, 12)
    turn = np.stack([[np.cos(angles), -np.sin(angles)], [np.sin(angles), np.cos(angles)]])
    xy = 60 + np.einsum("ijn,kj->nki", turn, OFFSETS)
    layout = fit_layout(xy)
    assert not layout.holds(0, 2) and not layout.holds(1, 2)
    assert layout.holds(0, 2) is False and fit_layout(labels()).holds(0, 2)
    raw = np.array([[[10, 10, 0.9], [18, 10, 0.8], [30, 2, 0.25]]], np.float32)
    hm = heatmaps_with_a_faint_keypoint().numpy()
    np.testing.assert_array_equal(layout.refine(hm, raw, 4, (24, 32)), raw)


def test_a_model_trained_here_uses_its_layout_on_whole_frames(monkeypatch):
    """The whole prediction path: frames resized by input_scale, the network's heatmaps, the
    peaks, the layout in frame pixels, back to frame pixels."""
    estimator = PoseEstimator(
        build_network("light_resnet18", 3), "ABC", "cpu", input_scale=0.5, engine="torch"
    )
    monkeypatch.setattr(  # the network's heatmaps for a 48x64 frame seen at 24x32
        estimator, "_torch_outputs", lambda batch: (heatmaps_with_a_faint_keypoint(), None)
    )
    frame = np.zeros((48, 64, 3), np.uint8)
    far = estimator.predict(frame)[2]
    # (input pixel centres map to frame pixel centres: input x 10 is frame x 20.5)
    np.testing.assert_allclose(far, [60.5, 4.5, 0.25])  # the argmax: the strongest bump, far
    estimator.layout = fit_layout(2 * labels())  # in frame pixels: twice the input's
    placed = estimator.predict(frame)
    np.testing.assert_allclose(placed[:2, :2], [[20.5, 20.5], [36.5, 20.5]])
    np.testing.assert_allclose(placed[2], [20.5, 44.5, 0.15])
