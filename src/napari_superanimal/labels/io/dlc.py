"""DeepLabCut pose tables: the ``.h5`` files DeepLabCut, SLEAP and ``movement`` read.

A table has one row per frame and a column MultiIndex ``scorer / individuals / bodyparts /
coords`` with coords ``x, y, likelihood``, stored under the HDF5 key ``df_with_missing``.

Example::

    from napari_superanimal.labels.io.dlc import save_predictions_h5
    save_predictions_h5("video_superanimal.h5", poses, keypoints, scorer="superanimal_hrnet_w32")
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ...atomic import atomic_path

H5_KEY = "df_with_missing"


def predictions_frame(
    poses: np.ndarray, keypoints: Sequence[str], scorer: str, individual: str = "animal0"
) -> pd.DataFrame:
    """``(T, K, 3)`` x, y, likelihood -> DeepLabCut's multi-index DataFrame."""
    poses = np.asarray(poses, dtype=np.float64)
    if poses.ndim != 3 or poses.shape[1:] != (len(keypoints), 3):
        raise ValueError(f"poses must be (T, {len(keypoints)}, 3), got {poses.shape}")
    columns = pd.MultiIndex.from_product(
        [[scorer], [individual], list(keypoints), ["x", "y", "likelihood"]],
        names=["scorer", "individuals", "bodyparts", "coords"],
    )
    return pd.DataFrame(poses.reshape(len(poses), -1), columns=columns)


def save_predictions_h5(
    path: str | os.PathLike,
    poses: np.ndarray,
    keypoints: Sequence[str],
    scorer: str,
    individual: str = "animal0",
) -> Path:
    """Write predictions as a DeepLabCut ``.h5`` (atomically: temp file + rename)."""
    path = Path(path)
    frame = predictions_frame(poses, keypoints, scorer, individual)
    with atomic_path(path) as tmp:
        frame.to_hdf(tmp, key=H5_KEY, mode="w", format="table")
    return path
