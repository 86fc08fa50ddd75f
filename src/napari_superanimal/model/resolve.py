"""Turn what a user names as "the model" into a :class:`~.inference.PoseEstimator`.

One place for the rules the widget, ``Session.open``, the CLI and cluster workers share:

- a :class:`~.inference.PoseEstimator` is used as it is;
- a version trained in the project (``light_resnet18-r2``) loads from its snapshot;
- any other name with ``weights`` that describe themselves (a version's ``snapshot.pt``, which
  records its architecture, keypoints and input scale) loads them as that version;
- a SuperAnimal dataset name (``superanimal_topviewmouse``) loads the zoo model of ``arch``,
  its weights resolved like every zoo file (``weights`` path, local caches, the hub), with its
  zoo ``detector`` (top-down, as DeepLabCut runs it; ``detector=None``: whole frames);
- any other name is a network of ``arch`` for ``keypoints`` (random weights unless ``weights``).

A ``conversion`` (a ``{project keypoint: model keypoint}`` dict, or a DeepLabCut ``config.yaml``
with ``SuperAnimalConversionTables``) re-heads a SuperAnimal model for the project's own
keypoints (see :mod:`.convert`).

Example::

    from napari_superanimal.model.resolve import resolve_model
    model = resolve_model("superanimal_topviewmouse", conversion="dlc/config.yaml",
                          keypoints=["snout", "leftear", "rightear", "tailbase"])
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from ..errors import ConversionError
from ..zoo import KEYPOINT_SETS
from ..zoo.registry import DEFAULT_DETECTOR


def conversion_keypoints(conversion) -> tuple[str, ...] | None:
    """The project keypoints a DeepLabCut ``config.yaml`` conversion names (its bodyparts)."""
    if conversion is None or isinstance(conversion, dict):
        return None
    import yaml

    try:
        data = yaml.safe_load(Path(conversion).read_text()) or {}
    except (OSError, yaml.YAMLError) as err:
        message = f"{conversion}: cannot read it as a DeepLabCut config ({err})"
        raise ConversionError(message) from err
    parts = data.get("bodyparts")
    return tuple(parts) if isinstance(parts, list) and parts else None


def resolve_model(
    model,
    *,
    weights: str | os.PathLike | None = None,
    arch: str = "hrnet_w32",
    keypoints: Sequence[str] | None = None,
    conversion=None,
    versions=None,
    device: str = "auto",
    download: bool = True,
    detector: str | None = DEFAULT_DETECTOR,
    detector_weights: str | os.PathLike | None = None,
):
    """The :class:`~.inference.PoseEstimator` that ``model`` names (see the module docstring),
    or None for None. ``versions`` (a :class:`~.versions.ModelVersions`) lets a project's own
    versions be named; ``keypoints`` are the project's (needed with a conversion)."""
    if model is None:
        return None  # before importing PyTorch: a session with no model never loads it
    from .inference import PoseEstimator, load_model

    dataset = model if isinstance(model, str) else None
    if isinstance(model, str):
        described = _self_described(model, weights)
        if versions is not None and model in versions.trained():
            model = versions.load(model, device=device)
        elif described is not None:
            from .versions import estimator_from_info

            model = estimator_from_info(weights, described, model, device)
        else:
            model = load_model(
                model,
                weights=weights,
                device=device,
                arch=arch,
                keypoints=None if conversion is not None else keypoints,
                download=download,
                detector=detector,
                detector_weights=detector_weights,
            )
    if not isinstance(model, PoseEstimator):
        raise TypeError(f"a model is a PoseEstimator or a name, not {type(model).__name__}")
    if conversion is None:
        return model
    from .convert import convert_keypoints, read_conversion_table

    if not isinstance(conversion, dict):
        name = dataset or next((d for d in KEYPOINT_SETS if model.name.startswith(d)), model.name)
        keypoints = keypoints or conversion_keypoints(conversion)
        conversion = read_conversion_table(conversion, name)
    if not keypoints:
        raise ConversionError("a conversion table needs the project's keypoints")
    return convert_keypoints(model, keypoints, conversion)


def _self_described(name: str, weights) -> dict | None:
    """A snapshot's own record of its architecture and keypoints (what a project's model
    versions write), for a name that is not a SuperAnimal dataset; None otherwise."""
    if weights is None or name.startswith("superanimal_"):
        return None
    from .checkpoint import read_snapshot

    meta = read_snapshot(weights).get("metadata") or {}
    return meta if meta.get("arch") and meta.get("keypoints") else None
