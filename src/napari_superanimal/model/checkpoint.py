"""Read and write snapshots in DeepLabCut 3's layout: ``{"model": state_dict, "metadata": ...}``.

Loading is strict (every key present, no extra key, same shapes) and uses
``torch.load(weights_only=True)``, so a snapshot cannot run code. A file that is not such a
snapshot, or whose keypoint count does not match, gets a one-line :class:`CheckpointError`.

Example::

    from napari_superanimal.model.checkpoint import save_snapshot, load_snapshot
    save_snapshot("snapshot-best.pt", net, metadata={"keypoints": [...]})
    meta = load_snapshot("snapshot-best.pt", net)
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from ..atomic import atomic_path
from ..errors import CheckpointError


def read_snapshot(path: str | os.PathLike) -> dict:
    """The snapshot dict at ``path`` (``{"model": ..., "metadata": ...}``), loaded safely."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: weights file not found")
    try:
        snapshot = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - pickle, zip and torch errors alike
        raise CheckpointError(f"{path}: not a PyTorch snapshot ({type(err).__name__})") from err
    if isinstance(snapshot, dict) and "model" in snapshot and isinstance(snapshot["model"], dict):
        return snapshot
    if (
        isinstance(snapshot, dict)
        and snapshot
        and all(isinstance(v, torch.Tensor) for v in snapshot.values())
    ):
        return {"model": snapshot, "metadata": {}}  # a bare state dict
    raise CheckpointError(f"{path}: not a DeepLabCut snapshot (no 'model' state dict)")


def load_snapshot(path: str | os.PathLike, network: nn.Module) -> dict:
    """Load ``path`` into ``network`` strictly; return the snapshot's metadata."""
    snapshot = read_snapshot(path)
    state = snapshot["model"]
    expected = network.state_dict()
    missing = sorted(set(expected) - set(state))
    extra = sorted(set(state) - set(expected))
    if missing or extra:
        detail = f"{len(missing)} missing (e.g. {missing[:2]})" if missing else ""
        if extra:
            detail += ("; " if detail else "") + f"{len(extra)} unexpected (e.g. {extra[:2]})"
        raise CheckpointError(f"{path}: keys do not fit this network: {detail}")
    wrong = [k for k in expected if tuple(expected[k].shape) != tuple(state[k].shape)]
    if wrong:
        k = wrong[0]
        raise CheckpointError(
            f"{path}: {len(wrong)} tensors have other shapes, e.g. {k} is "
            f"{tuple(state[k].shape)} not {tuple(expected[k].shape)} (another keypoint set?)"
        )
    network.load_state_dict(state, strict=True)
    return dict(snapshot.get("metadata") or {})


def save_snapshot(
    path: str | os.PathLike, network: nn.Module, metadata: dict | None = None
) -> Path:
    """Write ``network`` as a DeepLabCut-layout snapshot (atomically: temp file + rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        torch.save({"model": network.state_dict(), "metadata": dict(metadata or {})}, tmp)
    return path
