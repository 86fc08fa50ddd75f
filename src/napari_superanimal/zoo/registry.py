"""The SuperAnimal model zoo: which keypoint sets, architectures and weight files exist.

Names follow DeepLabCut's model zoo: a SuperAnimal dataset (``superanimal_topviewmouse``,
``superanimal_quadruped``) and a model name (``hrnet_w32``; detectors ``fasterrcnn_*``). The weights
live on the Hugging Face hub in ``mwmathis/DeepLabCutModelZoo-SuperAnimal-<Dataset>`` as
``superanimal_<dataset>_<model>.pt``.

Example::

    from napari_superanimal.zoo import get_entry
    entry = get_entry("superanimal_topviewmouse", "hrnet_w32")
    entry.keypoints[:3], entry.weights.filename
"""

from __future__ import annotations

from dataclasses import dataclass

from .keypoints import QUADRUPED, TOPVIEWMOUSE
from .weights import WeightsSource

_REPOS = {
    "superanimal_topviewmouse": "mwmathis/DeepLabCutModelZoo-SuperAnimal-TopViewMouse",
    "superanimal_quadruped": "mwmathis/DeepLabCutModelZoo-SuperAnimal-Quadruped",
}
KEYPOINT_SETS = {"superanimal_topviewmouse": TOPVIEWMOUSE, "superanimal_quadruped": QUADRUPED}
POSE_MODELS = ("hrnet_w32", "resnet_50")
DETECTORS = ("fasterrcnn_resnet50_fpn_v2", "fasterrcnn_mobilenet_v3_large_fpn")
DEFAULT_DETECTOR = DETECTORS[0]  # DeepLabCut's default SuperAnimal detector
DETECT_EVERY = 10  # on a video, frames between detector runs (benchmarks/bench_tracking.py)


@dataclass(frozen=True)
class ZooEntry:
    """One downloadable SuperAnimal model: its keypoints, architecture and weights file."""

    dataset: str
    model: str
    keypoints: tuple[str, ...]

    @property
    def weights(self) -> WeightsSource:
        return WeightsSource(_REPOS[self.dataset], f"{self.dataset}_{self.model}.pt")

    @property
    def is_detector(self) -> bool:
        return self.model in DETECTORS


def get_entry(dataset: str, model: str = "hrnet_w32") -> ZooEntry:
    """The zoo entry for ``dataset`` and ``model``; a one-line ValueError names the choices."""
    if dataset not in KEYPOINT_SETS:
        raise ValueError(
            f"unknown SuperAnimal model {dataset!r}; choose one of {sorted(KEYPOINT_SETS)}"
        )
    if model not in POSE_MODELS + DETECTORS:
        raise ValueError(
            f"unknown model {model!r} for {dataset}; choose one of "
            f"{sorted(POSE_MODELS + DETECTORS)}"
        )
    return ZooEntry(dataset, model, KEYPOINT_SETS[dataset])
