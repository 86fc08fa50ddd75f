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


def test_hidden_and_unknown_keypoints_neither_pull_nor_push():
    points = np.array([[[30.0, 22.0], [np.nan, np.nan]]])
    maps, weights = gaussian_targets(points, np.array([[False, True]]), (16, 16), 4)
    assert weights.tolist() == [[0.0, 0.0]] and maps.max() == 0
    maps, weights = gaussian_targets(np.array([[[63.5, 30.0]]]), np.array([[True]]), (16, 16), 4)
    assert weights[0, 0] == 1 and maps[0, 0, 7, 15] > 0.9  # inside, on the last column


def test_a_known_keypoint_outside_the_crop_teaches_not_here():
    """A crop of the wall or the padding, with the animal's keypoints elsewhere: the network
    must learn to put nothing there (before, such keypoints had no weight, and a network
    trained on a few labels was sure of a spot on the wall)."""
    far, near = [500.0, -300.0], [68.0, 30.0]  # 4 px past the last column's centre (61.5 + 2.5)
    maps, weights = gaussian_targets(np.array([[far, near]]), np.array([[True, True]]), (16, 16), 4)
    assert weights.tolist() == [[1.0, 1.0]]
    assert maps[0, 0].max() < 1e-6  # nothing anywhere in the crop
    assert 0.5 < maps[0, 1].max() < 1 and maps[0, 1, 7, 15] == maps[0, 1].max()  # its tail


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


def test_a_keypoint_the_user_hid_is_taught_to_be_nowhere():
    from napari_superanimal.labels.model import Point, PointKind
    from napari_superanimal.train.samples import frame_labels, training_samples

    points = {
        "nose": Point("nose", 30.0, 22.0, PointKind.LABELED),
        "tail": Point("tail", None, None, PointKind.HIDDEN),
    }
    user = frame_labels(points, ["nose", "tail", "ear"])
    (sample,) = training_samples({0: user}, {})
    assert sample.absent.tolist() == [False, True, False]  # the ear: unknown, not absent
    nan = [np.nan, np.nan]
    maps, weights = gaussian_targets(
        np.array([[[30.0, 22.0], nan, nan]]), sample.visible[None], (16, 16), 4, 17.0,
        sample.absent[None],
    )  # fmt: skip
    assert weights.tolist() == [[1.0, 1.0, 0.0]] and maps[0, 1:].max() == 0
    # a network from scratch has no model to replay: an untouched keypoint on a labeled frame
    # is missing, as DeepLabCut reads its labels
    (sample,) = training_samples({0: user}, {}, untouched_absent=True)
    assert sample.absent.tolist() == [False, True, True]


def test_a_crop_past_the_frame_edge_sees_the_frame_mirrored_as_inference_pads_it():
    from napari_superanimal.model.preprocess import pad_to_multiple

    rng = np.random.default_rng(0)
    frame = rng.integers(0, 255, (40, 50, 3), dtype=np.uint8)
    plain = AugmentSettings(
        rotation=0, scale=(1, 1), shift=0, brightness=0, contrast=(1, 1), noise=0,
        blur_probability=0,
    )  # fmt: skip
    # a 32x32 crop centred on the bottom-right corner: its lower right quarter is past the edge
    crop, _ = augment(frame, np.full((1, 2), np.nan), rng, 32, plain, centre=np.array([50, 40]))
    padded = pad_to_multiple(frame[None], 32)[0]  # what a full-frame prediction sees there
    np.testing.assert_array_equal(crop[16:24, 16:30], padded[40:48, 50:64])
    assert crop[16:, 16:].mean() > 50  # not black


def test_an_animals_crop_trains_black_past_its_edge_as_the_top_down_crop_pads_it():
    """A top-down crop mirrored past its edge would show a second, flipped animal beside the
    one its keypoints are of; DeepLabCut's crop (and so inference) is black there."""
    rng = np.random.default_rng(0)
    frame = np.full((40, 50, 3), 200, np.uint8)
    plain = AugmentSettings(
        rotation=0, scale=(1, 1), shift=0, brightness=0, contrast=(1, 1), noise=0,
        blur_probability=0,
    )  # fmt: skip
    centre = np.array([50, 40])
    crop, _ = augment(frame, np.full((1, 2), np.nan), rng, 32, plain, centre, "constant")
    assert (crop[17:, 17:] == 0).all() and (crop[:15, :15] == 200).all()


def test_calibration_views_of_an_animals_crop_are_black_past_its_edge():
    """The views a round calibrates its scores on are padded as it trained: an animal's crop
    black (a mirrored one would show a second animal), a whole frame mirrored."""
    from napari_superanimal.train.evaluate import scored_errors
    from napari_superanimal.train.samples import Sample

    class Seen:  # an estimator that keeps what it was shown
        calibration = None
        shown: list = []

        def predict(self, frames):
            self.shown.extend(frames)
            return np.zeros((len(frames), 1, 3), np.float32)

    frame = np.full((64, 64, 3), 200, np.uint8)
    sample = Sample(0, np.array([[32.0, 32.0]]), np.ones(1, bool), np.ones(1, bool))
    for padding, corner in (("constant", 0), ("reflect", 200)):
        seen = Seen()
        seen.shown = []
        rng = np.random.default_rng(3)
        scored_errors(seen, {0: frame}, [sample], rng, views=6, padding=padding)
        views = np.stack(seen.shown[1:])
        rim = np.concatenate([views[:, 0], views[:, -1], views[:, :, 0], views[:, :, -1]], 1)
        assert (rim.min(axis=(1, 2)) == corner).all(), padding  # each view reaches past an edge


def test_a_share_of_crops_goes_anywhere_on_the_frame_up_to_its_edges():
    from napari_superanimal.train.crops import crop_centre
    from napari_superanimal.train.samples import Sample

    sample = Sample(0, np.array([[10.0, 10.0], [12.0, 14.0]]), np.ones(2, bool), np.ones(2, bool))
    rng = np.random.default_rng(1)
    centres = [crop_centre(sample, False, rng, (300, 400), 0.25) for _ in range(2000)]
    anywhere = np.array([c for c in centres if c is not None])
    assert 0.2 < len(anywhere) / len(centres) < 0.3  # the rest centre on the animal (None)
    assert anywhere[:, 0].min() < 20 and anywhere[:, 0].max() > 380  # reaches both edges
    assert anywhere[:, 1].min() < 20 and anywhere[:, 1].max() > 280


def test_half_the_background_crops_go_where_the_network_was_wrong():
    """A caption or a reflection the network took for a keypoint is shown to it again and
    again with nothing there, not only when a crop placed at random happens to cover it."""
    from napari_superanimal.train.crops import MISTAKE_SHARE, crop_centre
    from napari_superanimal.train.samples import Sample

    sample = Sample(0, np.array([[10.0, 10.0], [12.0, 14.0]]), np.ones(2, bool), np.ones(2, bool))
    mistakes = np.array([[50.0, 60.0], [300.0, 20.0]])
    rng = np.random.default_rng(1)
    centres = [crop_centre(sample, False, rng, (300, 400), 0.25, mistakes) for _ in range(4000)]
    anywhere = np.array([c for c in centres if c is not None])
    assert 0.22 < len(anywhere) / len(centres) < 0.28  # the background share is unchanged
    on = (np.abs(anywhere[:, None] - mistakes[None]).max(-1) < 1e-9).sum(0)
    assert abs(on.sum() / len(anywhere) - MISTAKE_SHARE) < 0.05 and (on > 0.2 * on.sum()).all()
    rest = anywhere[(np.abs(anywhere[:, None] - mistakes[None]).max(-1) > 1e-9).all(1)]
    assert rest[:, 0].min() < 20 and rest[:, 0].max() > 380  # the others still go anywhere


def test_a_round_finds_where_its_network_places_keypoints_wrongly():
    """Far from the label, or anywhere for a keypoint the user hid, is a mistake; near the
    label, or a keypoint nobody placed, is not."""
    import torch

    from napari_superanimal.model.inference import PoseEstimator
    from napari_superanimal.model.networks import build_network
    from napari_superanimal.train.finetune import MISTAKE_RADII, RoundData, wrong_spots
    from napari_superanimal.train.loop import TrainingData
    from napari_superanimal.train.samples import Sample, Split

    torch.manual_seed(0)
    frame = np.random.default_rng(0).integers(0, 255, (96, 128, 3), np.uint8)
    trial = PoseEstimator(build_network("light_resnet18", 4), "abcd", "cpu", engine="torch")
    placed = trial.predict(frame[None])[0, :, :2].astype(float)
    radius = 5.0
    near, far = radius, 3 * MISTAKE_RADII * radius
    labels = placed + [[near, 0], [far, 0], [np.nan, np.nan], [np.nan, np.nan]]
    sample = Sample(
        0,
        labels,
        visible=np.array([True, True, False, False]),
        labeled=np.array([True, True, False, False]),
        absent=np.array([False, False, True, False]),  # c hidden by the user, d never placed
    )
    training = TrainingData([sample], {0: frame}, 64, False, radius)
    data = RoundData(Split([sample], [], []), [], {0: frame}, training, 1.0, 2.0)
    spots = wrong_spots(trial, data)(sample)
    np.testing.assert_allclose(spots, placed[[1, 2]], atol=1e-4)


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
