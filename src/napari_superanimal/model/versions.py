"""The model versions a project folder holds: trained snapshots and what each round recorded.

A round of fine-tuning saves its network as ``models/<version>/snapshot.pt`` (DeepLabCut's
snapshot layout) and records its info (architecture, keypoints, input scale, loss curve, errors
before and after, the frames it used) in the ``models`` section of ``project.json``. Versions
are named ``<arch>-r<n>``; older ones stay, so rolling back is loading one. The project itself
(:mod:`napari_superanimal.labels.project`) knows nothing of networks: this registry does.

Example::

    from napari_superanimal.model.versions import ModelVersions
    versions = ModelVersions(project)
    versions.trained()                          # ['light_resnet18-r1', 'light_resnet18-r2']
    model = versions.load("light_resnet18-r1")  # a PoseEstimator
"""

from __future__ import annotations

from pathlib import Path

from ..errors import ProjectError
from .calibration import Calibration
from .layout import Layout

SECTION = "models"


class ModelVersions:
    """The ``models`` section of a project, with the snapshots it points at."""

    def __init__(self, project):
        self.project = project

    def known(self) -> dict[str, dict]:
        """Every model version the project knows (trained here or having predicted), with what
        it recorded."""
        return {v: dict(info) for v, info in self.project.section(SECTION).items()}

    def trained(self) -> list[str]:
        """Versions trained in this project (they have a snapshot), oldest first."""
        return [v for v, info in self.known().items() if info.get("snapshot")]

    def info(self, version: str) -> dict:
        known = self.known()
        if version not in known:
            raise ProjectError(f"{self.project.folder}: no model version {version!r}")
        return known[version]

    def next_name(self, arch: str) -> str:
        return f"{arch}-r{len(self.trained()) + 1}"

    def snapshot_path(self, version: str) -> Path:
        info = self.info(version)
        if not info.get("snapshot"):
            raise ProjectError(f"{self.project.folder}: model version {version!r} has no weights")
        return self.project.folder / info["snapshot"]

    def save(self, version: str, network, info: dict) -> Path:
        """Write a trained network as ``models/<version>/snapshot.pt`` and record its info."""
        from .checkpoint import save_snapshot

        if self.known().get(version, {}).get("snapshot"):
            raise ProjectError(f"{self.project.folder}: model version {version!r} already exists")
        relative = f"models/{version}/snapshot.pt"
        metadata = {"version": version, **_self_description(info)}
        path = save_snapshot(self.project.folder / relative, network, metadata=metadata)
        self.project.set_entry(SECTION, version, {**info, "snapshot": relative})
        return path

    def load(self, version: str, device: str = "auto"):
        """A :class:`~.inference.PoseEstimator` for a trained version."""
        return estimator_from_info(self.snapshot_path(version), self.info(version), version, device)


def estimator_from_info(snapshot, info: dict, name: str, device: str = "auto"):
    """A :class:`~.inference.PoseEstimator` for ``snapshot`` as ``info`` describes it (a
    version's info, or what a snapshot carries about itself: :func:`_self_description`)."""
    from .inference import estimator_from_snapshot

    options = options_from_info(info)
    return estimator_from_snapshot(
        snapshot, info["arch"], info["keypoints"], name=name, device=device, **options
    )


def options_from_info(info: dict) -> dict:
    """The :meth:`~.inference.PoseEstimator.options` a version's ``info`` records (a model
    trained here: never DeepLabCut's outputs)."""
    return {
        "input_scale": info.get("input_scale", 1.0),
        "detector": _detector(info.get("detector")),
        "crops": bool(info.get("top_down")),
        "calibration": Calibration.from_dict(info.get("calibration")),
        "deeplabcut_outputs": False,
        "layout": Layout.from_dict(info.get("layout")),
    }


def _detector(record: dict | None):
    """The detector a version trained on several animals finds them with (its weights found
    again, without download, if the recorded file moved)."""
    if not record:
        return None
    from .detector import DetectorRef

    ref = DetectorRef(**record)
    if not Path(ref.weights).is_file():
        ref = DetectorRef.resolve(ref.dataset, ref.variant, download=False, every=ref.every)
    return ref


def _self_description(info: dict) -> dict:
    """What a snapshot carries about itself, so it can be used outside its project."""
    keys = ("arch", "keypoints", "input_scale", "calibration", "layout")
    return {k: info[k] for k in keys if k in info}
