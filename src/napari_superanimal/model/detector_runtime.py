"""The detector's convolutions through ONNX Runtime, torchvision's box logic around them.

Faster R-CNN spends most of its CPU time in two stacks of convolutions: the backbone + FPN on
the whole (resized) frame, and the box head on every proposal's 7x7 features.
Exported whole, the detector moved its boxes by up to 19.6 px (``bench_onnx.py --detector``):
its proposal and box selection is not what torchvision computes. So only those two stacks are
exported (two graphs); anchors, proposals, non-maximum suppression, RoIAlign and the mapping
back to frame pixels stay torchvision's own code. :class:`DetectorEngine` serves them like
:class:`~.runtime.OnnxEngine` serves a pose network: PyTorch first, the export in a child
process, then the first frames run both ways and ONNX Runtime takes over only if it finds the
very same boxes (:func:`compare_detections`), else PyTorch stays and says why once. Which
variants try it at all: :data:`ONNX_DETECTORS`.

Example::

    engine = DetectorEngine(detector.network, cache_dir() / "onnx", detector.name)
    detections = engine.detect(images)     # torchvision's list of dicts, either engine
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import torch

from .runtime import SCORE_TOLERANCE, OnnxEngine, write_graph

#: variants whose convolutions run in ONNX Runtime on a CPU: the ones measured faster with
#: PyTorch's very boxes (``bench_onnx.py --detector``). A top-down crop's corners are whole
#: pixels (:func:`~.preprocess.crop_corners`), so a box that moves at all can move its crop by
#: a pixel and every keypoint of that animal with it. ResNet-50's graph sums its float32
#: features in another order and moves boxes by up to ~4e-3 px: on the open-field video that
#: moved 1 crop in 180 and its animal's keypoints by up to 16 px against DeepLabCut's, so it
#: stays on PyTorch. MobileNet's boxes came out bit for bit PyTorch's.
ONNX_DETECTORS = ("fasterrcnn_mobilenet_v3_large_fpn",)
#: matched boxes must agree this closely (frame pixels): exactly, for the reason above
BOX_TOLERANCE = 0.0
LEVEL = "level_"  # the backbone graph's outputs: LEVEL + torchvision's name of the level


class _Backbone(torch.nn.Module):
    def __init__(self, backbone: torch.nn.Module):
        super().__init__()
        self.backbone = backbone

    def forward(self, x: torch.Tensor):
        return tuple(self.backbone(x).values())


class _BoxHead(torch.nn.Module):
    def __init__(self, roi_heads: torch.nn.Module):
        super().__init__()
        self.head, self.predictor = roi_heads.box_head, roi_heads.box_predictor

    def forward(self, x: torch.Tensor):
        return self.predictor(self.head(x))


def head_path(path: Path) -> Path:
    """The box head's graph beside the backbone's ``path``."""
    return path.with_name(path.name.removesuffix(".onnx") + ".head.onnx")


def export_detector(network: torch.nn.Module, path: Path, key: str) -> None:
    """Write a :class:`~.detector.DetectorNetwork`'s backbone to ``path`` and its box head
    (with the box predictor) to :func:`head_path`, both carrying ``key``."""
    model = network.model
    example = torch.zeros(1, 3, 256, 320)
    with torch.no_grad():
        levels = [LEVEL + name for name in model.backbone(example)]  # "0" is no graph name
        pooled = model.roi_heads.box_roi_pool.output_size
    size = (pooled, pooled) if isinstance(pooled, int) else tuple(pooled)
    features = torch.zeros(4, model.backbone.out_channels, *size)
    write_graph(
        _BoxHead(model.roi_heads).eval(),
        features,
        head_path(path),
        key,
        ["class_logits", "box_regression"],
        (0,),
    )
    # the backbone last: its file is the one looked for
    write_graph(_Backbone(model.backbone).eval(), example, path, key, levels, (0, 2, 3))


def compare_detections(torch_out: list[dict], onnx_out: list[dict]) -> str | None:
    """None if every frame has the same boxes (each equal to PyTorch's, :data:`BOX_TOLERANCE`,
    and its score within the score tolerance, in any order: boxes whose scores tie may swap),
    else how they differ."""
    for a, b in zip(torch_out, onnx_out, strict=True):
        if len(a["boxes"]) != len(b["boxes"]):
            return f"{len(b['boxes'])} boxes where PyTorch finds {len(a['boxes'])}"
        if not len(a["boxes"]):
            continue
        gap = (a["boxes"][:, None, :] - b["boxes"][None, :, :]).abs().amax(-1)
        nearest = gap.argmin(1)
        far = float(gap.min(1).values.max())
        if far > BOX_TOLERANCE or len(set(nearest.tolist())) != len(nearest):
            return f"boxes differ from PyTorch's by up to {far:.3g} px"
        scores = float((a["scores"] - b["scores"][nearest]).abs().max())
        if scores > SCORE_TOLERANCE:
            return f"box scores differ from PyTorch's by {scores:.2g}"
    return None


class DetectorEngine(OnnxEngine):
    """A :class:`~.detector.DetectorNetwork` whose backbone and box head run in ONNX Runtime
    once exported and checked."""

    def build(self) -> list[str]:
        return ["detector", self.network.variant]

    def graph_paths(self, key: str) -> list[Path]:
        path = super().graph_paths(key)[0]
        return [path, head_path(path)]

    def detect(self, images: list[torch.Tensor]) -> list[dict[str, torch.Tensor]]:
        """torchvision's detections for normalised ``(3, H, W)`` images."""
        return self.serve(images, self.network, self._detect, compare_detections)

    def _detect(self, images: list[torch.Tensor]) -> list[dict[str, torch.Tensor]]:
        """torchvision's Faster R-CNN at inference, its two convolution stacks in ONNX
        Runtime."""
        model = self.network.model
        backbone, head = self.sessions
        sizes = [tuple(image.shape[-2:]) for image in images]
        batch, _ = model.transform(images)
        levels = [o.name.removeprefix(LEVEL) for o in backbone.get_outputs()]
        maps = backbone.run(None, {"input": batch.tensors.numpy()})
        features = OrderedDict(zip(levels, map(torch.from_numpy, maps), strict=True))
        proposals, _ = model.rpn(batch, features)
        heads = model.roi_heads
        pooled = heads.box_roi_pool(features, proposals, batch.image_sizes)
        if len(pooled):
            logits, deltas = map(torch.from_numpy, head.run(None, {"input": pooled.numpy()}))
        else:
            logits, deltas = heads.box_predictor(heads.box_head(pooled))
        boxes, scores, labels = heads.postprocess_detections(
            logits, deltas, proposals, batch.image_sizes
        )
        found = [
            {"boxes": b, "labels": c, "scores": s}
            for b, s, c in zip(boxes, scores, labels, strict=True)
        ]
        return model.transform.postprocess(found, batch.image_sizes, sizes)
