"""The detector's convolutions in ONNX Runtime: PyTorch's boxes, or PyTorch (said once)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from napari_superanimal.model import detector_runtime, runtime
from napari_superanimal.model.detector import AnimalDetector, DetectorNetwork
from napari_superanimal.model.preprocess import crop_corners

RESNET, MOBILENET = "fasterrcnn_resnet50_fpn_v2", "fasterrcnn_mobilenet_v3_large_fpn"


@pytest.fixture(scope="module")
def frames(tmp_path_factory):
    from napari_superanimal.demo.mouse import make_mouse_video
    from napari_superanimal.video import open_video

    path, _ = make_mouse_video(tmp_path_factory.mktemp("v") / "m.mp4", n_frames=4, seed=5)
    video = open_video(path, convert=False)
    return np.stack([video.read_frame(i) for i in range(4)])


def detector_network(variant: str) -> DetectorNetwork:
    """Random weights whose boxes vary: scores spread around the threshold (not all tied, as a
    classifier with zero weights would give), box deltas small, so thin boxes and boxes at the
    frame's edge come out too."""
    torch.manual_seed(0)
    net = DetectorNetwork(variant)
    predictor = net.model.roi_heads.box_predictor
    with torch.no_grad():
        predictor.cls_score.weight *= 0.01
        predictor.cls_score.bias[1] += 1.0
        predictor.bbox_pred.weight *= 0.005
    return net.eval()


def pair(variant, tmp_path) -> tuple[AnimalDetector, AnimalDetector]:
    # MobileNet is the quick one to export: the engine's behaviour is tested on it
    net = detector_network(variant)
    plain = AnimalDetector(net, "cpu", engine="torch")
    fast = AnimalDetector(net, "cpu", engine="auto", export_dir=tmp_path / "onnx")
    return plain, fast


def serve(detector: AnimalDetector, frames: np.ndarray) -> None:
    detector.detect(frames[:1])  # PyTorch; starts the export
    detector.onnx_engine().wait()
    detector.detect(frames[:1])  # the check


def same_boxes(a, b) -> None:
    for (boxes_a, scores_a), (boxes_b, scores_b) in zip(a, b, strict=True):
        assert len(boxes_a) == len(boxes_b) > 0
        np.testing.assert_array_equal(boxes_a, boxes_b)
        np.testing.assert_allclose(scores_a, scores_b, atol=runtime.SCORE_TOLERANCE)
        # what the pose network sees: the same crop around every box
        assert [crop_corners(box) for box in boxes_a] == [crop_corners(box) for box in boxes_b]


@pytest.mark.slow
def test_onnx_runtime_finds_pytorchs_boxes(frames, tmp_path, monkeypatch):
    plain, fast = pair(MOBILENET, tmp_path)
    serve(fast, frames)
    engine = fast.onnx_engine()
    assert engine.serving, engine.failed
    graphs = sorted(p.name for p in (tmp_path / "onnx").glob("*.onnx"))
    assert len(graphs) == 2 and any(name.endswith(".head.onnx") for name in graphs)
    used = []
    real = detector_runtime.DetectorEngine._detect
    monkeypatch.setattr(
        detector_runtime.DetectorEngine, "_detect", lambda s, i: used.append(1) or real(s, i)
    )
    same_boxes(plain.detect(frames, 3), fast.detect(frames, 3))
    assert used  # ONNX Runtime answered


def test_boxes_that_fail_the_check_are_never_used(frames, tmp_path, monkeypatch):
    plain, fast = pair(MOBILENET, tmp_path)
    real = detector_runtime.DetectorEngine._detect

    def a_pixel_off(self, images):
        found = real(self, images)
        for det in found:
            det["boxes"] = det["boxes"] + 1.0
        return found

    monkeypatch.setattr(detector_runtime.DetectorEngine, "_detect", a_pixel_off)
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        serve(fast, frames)
        outs = [fast.detect(frames) for _ in range(2)]
    told = [str(w.message) for w in said if "ONNX Runtime" in str(w.message)]
    assert len(told) == 1 and "boxes differ from PyTorch's by up to 1 px" in told[0]
    assert not fast.onnx_engine().serving
    expected = plain.detect(frames)
    for out in outs:
        for (a, sa), (b, sb) in zip(out, expected, strict=True):
            np.testing.assert_array_equal(a, b)
            np.testing.assert_array_equal(sa, sb)


def test_the_check_sees_a_missing_box_and_a_changed_score():
    box = torch.tensor([[10.0, 20.0, 60.0, 50.0], [100.0, 100.0, 140.0, 160.0]])
    found = [{"boxes": box, "scores": torch.tensor([0.9, 0.7])}]
    swapped = [{"boxes": box.flip(0), "scores": torch.tensor([0.7, 0.9])}]  # a tie's order
    assert detector_runtime.compare_detections(found, swapped) is None
    fewer = [{"boxes": box[:1], "scores": torch.tensor([0.9])}]
    assert "1 boxes where PyTorch finds 2" in detector_runtime.compare_detections(found, fewer)
    rescored = [{"boxes": box, "scores": torch.tensor([0.9, 0.71])}]
    assert "scores differ" in detector_runtime.compare_detections(found, rescored)
    twice = [{"boxes": box[[0, 0]], "scores": torch.tensor([0.9, 0.9])}]
    assert "boxes differ" in detector_runtime.compare_detections(found, twice)
    # a crop's corners are whole pixels: a box 1/1000 px off can move its crop by one
    nudged = [{"boxes": box + torch.tensor([0.0, 0.0, 1e-3, 0.0]), "scores": found[0]["scores"]}]
    assert "boxes differ" in detector_runtime.compare_detections(found, nudged)
    assert crop_corners((0.0, 0.0, 56.4995, 30.0))[2] == 56
    assert crop_corners((0.0, 0.0, 56.5005, 30.0))[2] == 57


def test_pytorch_only_where_asked(monkeypatch):
    net = detector_network(MOBILENET)
    monkeypatch.delenv("NAPARI_SUPERANIMAL_ENGINE")  # the default (the test session sets it)
    assert AnimalDetector(net, "cpu").onnx_engine() is not None
    # the default detector's boxes move in ONNX Runtime (see ONNX_DETECTORS): never exported
    resnet = DetectorNetwork(RESNET)
    assert AnimalDetector(resnet, "cpu").onnx_engine() is None
    assert AnimalDetector(net, "cpu", engine="torch").onnx_engine() is None
    monkeypatch.setenv("NAPARI_SUPERANIMAL_ENGINE", "torch")
    assert AnimalDetector(net, "cpu").onnx_engine() is None
    with pytest.raises(ValueError, match="engine"):
        AnimalDetector(resnet, "cpu", engine="openvino")


def test_graphs_of_old_weights_go_and_a_graphs_parts_stay(tmp_path):
    for key in ("a" * 20, "b" * 20):
        for name in (f"det-{key}.onnx", f"det-{key}.head.onnx", f"det_other-{key}.onnx"):
            (tmp_path / name).touch()
    runtime._remove_stale(tmp_path / f"det-{'b' * 20}.onnx")
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == [
        f"det-{'b' * 20}.head.onnx",
        f"det-{'b' * 20}.onnx",
        f"det_other-{'a' * 20}.onnx",  # another model's graphs are not ours to remove
        f"det_other-{'b' * 20}.onnx",
    ]
