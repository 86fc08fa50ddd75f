"""A SuperAnimal model for a project's own keypoints, through a conversion table.

DeepLabCut projects may map their bodyparts onto a SuperAnimal's keypoints in ``config.yaml``::

    SuperAnimalConversionTables:
      superanimal_topviewmouse:
        snout: nose
        leftear: left_ear
        tailbase: tail_base

:func:`convert_keypoints` gives a network whose output channels are the project's keypoints:
each mapped keypoint starts as a copy of its SuperAnimal channel (heatmap, and both location
refinement channels for ResNet-50), each unmapped one as a new channel initialised like a fresh
head, ready to be fine-tuned. The backbone is shared unchanged.

Example::

    table = read_conversion_table("dlc-project/config.yaml", "superanimal_topviewmouse")
    model = convert_keypoints(load_model("superanimal_topviewmouse"), project_keypoints, table)
"""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch

from ..errors import ConversionError
from .inference import PoseEstimator
from .networks import DeconvHead


def read_conversion_table(config: str | os.PathLike, superanimal: str) -> dict[str, str]:
    """The ``{project bodypart: SuperAnimal keypoint}`` table of a DeepLabCut ``config.yaml``."""
    import yaml

    path = Path(config)
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as err:
        raise ConversionError(f"{path}: cannot read it as a DeepLabCut config ({err})") from err
    tables = (data or {}).get("SuperAnimalConversionTables") or {}
    if superanimal not in tables:
        raise ConversionError(
            f"{path}: no SuperAnimalConversionTables entry for {superanimal} "
            f"(has: {', '.join(tables) or 'none'})"
        )
    return {str(k): str(v) for k, v in (tables[superanimal] or {}).items()}


def convert_keypoints(
    model: PoseEstimator, keypoints: Sequence[str], table: Mapping[str, str], seed: int = 0
) -> PoseEstimator:
    """``model`` re-headed for ``keypoints`` (see the module docstring)."""
    keypoints = tuple(keypoints)
    unknown_project = sorted(set(table) - set(keypoints))
    unknown_model = sorted(set(table.values()) - set(model.keypoints))
    if unknown_project:
        raise ConversionError(
            f"conversion table names keypoints not in the project: {', '.join(unknown_project)}"
        )
    if unknown_model:
        raise ConversionError(
            f"conversion table maps onto keypoints {model.name} does not "
            f"predict: {', '.join(unknown_model)}"
        )
    network = copy.deepcopy(model.network).cpu()
    head = network.heads["bodypart"]
    source = [model.keypoints.index(table[k]) if k in table else None for k in keypoints]
    torch.manual_seed(seed)
    head.heatmap_head = _select(head.heatmap_head, source, 1)
    if head.locref_head is not None:
        head.locref_head = _select(head.locref_head, source, 2)
    network.num_keypoints = len(keypoints)
    name = f"{model.name}-as-{len(keypoints)}kp"
    # no weights file: the re-headed network is not the one ``model.weights`` holds
    return PoseEstimator(
        network, keypoints, device=model.device, name=name, detector=model.detector
    )


def _select(head: DeconvHead, source: list[int | None], per_keypoint: int) -> DeconvHead:
    """A copy of ``head`` whose last layer outputs ``source``'s channels (None: a new one)."""
    layers = head.deconv_layers
    last = layers[-1]
    fresh = torch.nn.ConvTranspose2d(
        last.in_channels,
        per_keypoint * len(source),
        last.kernel_size,
        stride=last.stride,
        padding=last.padding,
        output_padding=last.output_padding,
    )
    with torch.no_grad():
        for i, s in enumerate(source):
            if s is None:
                continue
            new = slice(per_keypoint * i, per_keypoint * (i + 1))
            old = slice(per_keypoint * s, per_keypoint * (s + 1))
            fresh.weight[:, new] = last.weight[:, old]
            fresh.bias[new] = last.bias[old]
    out = copy.deepcopy(head)
    out.deconv_layers[-1] = fresh
    return out
