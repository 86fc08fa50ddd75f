"""Detectors: DeepLabCut's Faster R-CNN layout, its double normalisation, boxes to pose crops."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fixtures.zoo import confident_detector
from napari_superanimal.model.checkpoint import save_snapshot
from napari_superanimal.model.detector import AnimalDetector, DetectorNetwork, load_detector
from napari_superanimal.model.preprocess import IMAGENET_MEAN, IMAGENET_STD, normalize
from napari_superanimal.zoo import WeightsNotFoundError

VARIANTS = ["fasterrcnn_resnet50_fpn_v2", "fasterrcnn_mobilenet_v3_large_fpn"]


@pytest.mark.parametrize("variant", VARIANTS)
def test_detector_state_dict_matches_deeplabcut_layout(variant):
    state = DetectorNetwork(variant).state_dict()
    assert all(key.startswith("model.") for key in state)
    assert tuple(state["model.roi_heads.box_predictor.cls_score.weight"].shape) == (2, 1024)
    assert tuple(state["model.roi_heads.box_predictor.bbox_pred.weight"].shape) == (8, 1024)
    frozen_bn = not any("num_batches_tracked" in key for key in state)
    # torchvision's MobileNet detector with an ImageNet backbone (DeepLabCut's build) has
    # frozen batch norm; the ResNet-50 v2 one has plain batch norm
    assert frozen_bn == (variant == "fasterrcnn_mobilenet_v3_large_fpn")


def test_detector_snapshot_loads_from_the_local_cache_strictly(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("NAPARI_SUPERANIMAL_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    name = "superanimal_topviewmouse_fasterrcnn_mobilenet_v3_large_fpn.pt"
    with pytest.raises(WeightsNotFoundError, match=name):
        load_detector(variant="fasterrcnn_mobilenet_v3_large_fpn", download=False)
    source = confident_detector()
    save_snapshot(cache / "models" / name, source)
    det = load_detector(variant="fasterrcnn_mobilenet_v3_large_fpn", device="cpu")
    for key, value in source.state_dict().items():
        assert torch.equal(value, det.network.state_dict()[key]), key


def test_detector_input_is_normalised_twice_like_deeplabcuts():
    det = AnimalDetector(confident_detector(), device="cpu")
    seen = {}

    def grab(module, args):
        seen["images"] = args[0]

    transform = det.network.model.transform
    transform.register_forward_pre_hook(grab)
    frame = np.random.default_rng(0).integers(0, 255, (120, 160, 3), dtype=np.uint8)
    det.detect(frame)
    # we hand torchvision ImageNet-normalised pixels, and torchvision normalises them again
    torch.testing.assert_close(seen["images"][0], normalize(frame[None])[0])
    assert tuple(transform.image_mean) == IMAGENET_MEAN
    assert tuple(transform.image_std) == IMAGENET_STD


def test_detected_boxes_are_xywh_in_frame_pixels_best_first_and_feed_pose_crops():
    from napari_superanimal.model.boxes import DetectorBoxes
    from napari_superanimal.model.inference import PoseEstimator
    from napari_superanimal.model.networks import build_network

    det = AnimalDetector(confident_detector(), device="cpu")
    frames = np.random.default_rng(1).integers(0, 255, (2, 120, 160, 3), dtype=np.uint8)
    (boxes, scores), _ = det.detect(frames, max_animals=5)
    assert 1 <= len(boxes) <= 5 and boxes.shape[1] == 4
    assert (np.diff(scores) <= 0).all() and (scores >= 0.6).all()
    assert (boxes[:, :2] >= 0).all() and (boxes[:, 0] + boxes[:, 2] <= 160 + 1e-3).all()
    assert (boxes[:, 1] + boxes[:, 3] <= 120 + 1e-3).all() and (boxes[:, 2:] > 0).all()
    pose = PoseEstimator(build_network("light_resnet18", 3), "abc", device="cpu")
    best = DetectorBoxes(det).boxes(frames)
    np.testing.assert_allclose(best[0], boxes[0])
    np.testing.assert_allclose(pose.predict(frames, boxes=best), pose.predict(frames, best))


def test_the_best_box_is_the_best_one_a_crop_can_hold():
    # A detector keeps boxes down to 0.01 px; one under half a pixel crops to nothing (DeepLabCut
    # raises there), so single-animal top-down takes the next box, or no animal.
    class Fixed(AnimalDetector):
        def __init__(self, found):
            self.found = found

        def detect(self, frames, max_animals=10):
            return [self.found[i] for i in range(len(frames))]

    thin, good = [159.98, 40.0, 0.02, 0.3], [20.0, 30.0, 50.0, 40.0]
    frames = np.zeros((3, 120, 160, 3), np.uint8)
    found = [
        (np.array([thin, good]), np.array([0.9, 0.8])),
        (np.array([thin]), np.array([0.95])),
        (np.zeros((0, 4)), np.zeros(0)),
    ]
    best = Fixed(found).best_boxes(frames)
    np.testing.assert_array_equal(best[0], good)
    assert np.isnan(best[1:]).all()
