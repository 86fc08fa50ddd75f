"""Animal detectors for top-down pose: torchvision Faster R-CNN laid out as DeepLabCut 3 builds it.

DeepLabCut wraps a torchvision detector in a module whose attribute is ``model`` (so snapshot keys
are ``model.backbone...``, ``model.rpn...``, ``model.roi_heads...``) and replaces the box
predictor with a two-class one (background, animal). Its detector input is ImageNet-normalised
*before* torchvision's own transform normalises it again; the SuperAnimal detectors were trained
that way, so we feed them the same doubly normalised images. torchvision then resizes to
``min_size=800`` / ``max_size=1333`` and maps boxes back to frame pixels.

Example::

    from napari_superanimal.model.detector import load_detector
    det = load_detector("superanimal_topviewmouse", "fasterrcnn_resnet50_fpn_v2")
    boxes, scores = det.detect(frames)[0]     # (M, 4) x, y, w, h and (M,), best first
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..zoo import get_entry, resolve_weights
from ..zoo.registry import DEFAULT_DETECTOR, DETECT_EVERY, DETECTORS
from ._triton import keep_triton_out
from .checkpoint import load_snapshot
from .preprocess import crop_corners, normalize
from .runtime import choose_engine

keep_triton_out()  # before torchvision: it imports torch._dynamo, which would load Triton

import torchvision  # noqa: E402
from torchvision.models.detection.faster_rcnn import FastRCNNPredictor  # noqa: E402
from torchvision.ops import FrozenBatchNorm2d  # noqa: E402

BOX_SCORE_THRESHOLD = 0.6  # DeepLabCut's SuperAnimal detector configs


def _freeze_batchnorm(module: nn.Module) -> None:
    # torchvision builds the MobileNet variant with FrozenBatchNorm2d (default eps) whenever an
    # ImageNet backbone is requested, as DeepLabCut's builder does; build the same layout
    # without downloading anything.
    for name, child in module.named_children():
        if isinstance(child, nn.BatchNorm2d):
            setattr(module, name, FrozenBatchNorm2d(child.num_features))
        else:
            _freeze_batchnorm(child)


class DetectorNetwork(nn.Module):
    """A torchvision Faster R-CNN under ``self.model``, with a 2-class box predictor."""

    def __init__(self, variant: str, box_score_thresh: float = BOX_SCORE_THRESHOLD):
        super().__init__()
        if variant not in DETECTORS:
            raise ValueError(f"unknown detector {variant!r}; choose one of {sorted(DETECTORS)}")
        build = getattr(torchvision.models.detection, variant)
        self.model = build(weights=None, weights_backbone=None, box_score_thresh=box_score_thresh)
        if variant == "fasterrcnn_mobilenet_v3_large_fpn":
            _freeze_batchnorm(self.model.backbone.body)
        in_features = self.model.roi_heads.box_predictor.cls_score.in_features
        self.model.roi_heads.box_predictor = FastRCNNPredictor(in_features, 2)
        self.variant = variant

    def forward(self, images: list[torch.Tensor]) -> list[dict[str, torch.Tensor]]:
        return self.model(images)


class AnimalDetector:
    """Detects animals in uint8 RGB frames; boxes are ``x, y, w, h`` in frame pixels.

    On a CPU, ``engine="auto"`` (the default, or ``$NAPARI_SUPERANIMAL_ENGINE``) runs the
    convolutions of the variants in :data:`~.detector_runtime.ONNX_DETECTORS` in ONNX Runtime
    once exported (to ``export_dir``, default the user cache) and checked to find PyTorch's
    boxes (:mod:`.detector_runtime`); ``engine="torch"``: PyTorch only."""

    def __init__(
        self,
        network: DetectorNetwork,
        device="auto",
        name: str = "",
        weights=None,
        engine: str | None = None,
        export_dir: str | os.PathLike | None = None,
    ):
        from .inference import pick_device

        self.device = pick_device(device)
        self.network = network.to(self.device).eval()
        self.name = name or network.variant
        self.weights = Path(weights) if weights is not None else None
        self.engine = choose_engine(engine)
        self.export_dir = Path(export_dir) if export_dir is not None else None
        self._onnx = None

    def __repr__(self) -> str:
        return f"<AnimalDetector {self.name} on {self.device}>"

    def onnx_engine(self):
        """The :class:`~.detector_runtime.DetectorEngine` serving this detector, or None
        (PyTorch only: ``engine="torch"``, a GPU, or a variant not measured faster)."""
        if self.engine != "auto" or self.device.type != "cpu":
            return None
        from .detector_runtime import ONNX_DETECTORS, DetectorEngine

        if self.network.variant not in ONNX_DETECTORS:
            return None
        if self._onnx is None:
            from ..video.video import cache_dir

            folder = self.export_dir or cache_dir() / "onnx"
            self._onnx = DetectorEngine(self.network, folder, self.name)
        return self._onnx

    @torch.inference_mode()
    def detect(
        self, frames: np.ndarray, max_animals: int = 10
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per frame: boxes ``(M, 4)`` xywh and scores ``(M,)``, best first, M <= max_animals."""
        frames = np.asarray(frames)
        if frames.ndim == 3:
            frames = frames[None]
        images = list(normalize(frames).to(self.device))  # torchvision normalises a second time
        engine = self.onnx_engine()
        found = self.network(images) if engine is None else engine.detect(images)
        out = []
        for det in found:
            boxes = det["boxes"][:max_animals].cpu().numpy().astype(np.float64)
            scores = det["scores"][:max_animals].cpu().numpy().astype(np.float64)
            boxes[:, 2:] -= boxes[:, :2]
            out.append((boxes, scores))
        return out

    def best_boxes(self, frames: np.ndarray) -> np.ndarray:
        """One box per frame: the highest-scoring one that a top-down crop can hold (a box under
        about half a pixel cannot: :func:`~.preprocess.crop_corners`), NaN where there is none."""
        boxes = np.full((len(frames), 4), np.nan)
        for i, (found, _) in enumerate(self.detect(frames)):
            usable = [b for b in found if crop_corners(b) is not None]
            if usable:
                boxes[i] = usable[0]
        return boxes


def load_detector(
    dataset: str = "superanimal_topviewmouse",
    variant: str = "fasterrcnn_resnet50_fpn_v2",
    weights: str | os.PathLike | None = None,
    device: str = "auto",
    download: bool = True,
    box_score_thresh: float = BOX_SCORE_THRESHOLD,
) -> AnimalDetector:
    """A SuperAnimal detector with its weights resolved like the pose models'."""
    entry = get_entry(dataset, variant)
    path = resolve_weights(entry.weights, weights, download=download)
    network = DetectorNetwork(variant, box_score_thresh)
    load_snapshot(path, network)
    return AnimalDetector(network, device, name=f"{dataset}_{variant}", weights=path)


@dataclass(frozen=True)
class DetectorRef:
    """Which detector finds a top-down model's animals (a zoo detector whose weights file is
    already resolved), and on a video how often it runs (:class:`~.tracking.Tracks`). Small
    and hashable, so cluster workers and training children get it in their task and load the
    network themselves (:meth:`load`, once per process)."""

    dataset: str
    variant: str
    weights: str
    box_score_thresh: float = BOX_SCORE_THRESHOLD
    every: int = DETECT_EVERY  # on a video: frames between its runs (1: every frame)

    @classmethod
    def resolve(
        cls,
        dataset: str,
        variant: str | None = DEFAULT_DETECTOR,
        weights: str | os.PathLike | None = None,
        download: bool = True,
        every: int = DETECT_EVERY,
    ) -> DetectorRef:
        """The zoo detector ``variant`` of ``dataset``, its weights found like the pose
        weights'; a missing file is a one-line error that also says how to go without."""
        from ..errors import WeightsNotFoundError

        if int(every) < 1:
            raise ValueError(f"the detector runs every 1 or more frames, not {every}")
        entry = get_entry(dataset, variant or DEFAULT_DETECTOR)
        if not entry.is_detector:
            raise ValueError(
                f"{entry.model} is a pose model, not a detector: choose one of {list(DETECTORS)}"
            )
        try:
            path = resolve_weights(entry.weights, weights, download=download)
        except WeightsNotFoundError as err:
            raise WeightsNotFoundError(
                f"{err} (the detector that finds each animal for SuperAnimal; "
                "or predict whole frames: detector=None, --full-frame)"
            ) from None
        return cls(dataset, entry.model, str(path), every=int(every))

    @property
    def name(self) -> str:
        return f"{self.dataset}_{self.variant}"

    def load(self, device: str = "auto") -> AnimalDetector:
        key = (self, str(device))
        if key not in _LOADED:
            network = DetectorNetwork(self.variant, self.box_score_thresh)
            load_snapshot(self.weights, network)
            _LOADED[key] = AnimalDetector(network, device, name=self.name, weights=self.weights)
        return _LOADED[key]


_LOADED: dict[tuple[DetectorRef, str], AnimalDetector] = {}  # one network per process and file
