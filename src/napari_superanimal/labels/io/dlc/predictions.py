"""DeepLabCut pose tables (predictions): what ``analyze_videos`` writes and ``movement`` reads.

A prediction file (``<video>DLC_<scorer>.h5``) is a pandas DataFrame under the HDF5 key
``df_with_missing``, one row per video frame; its columns are ``scorer / bodyparts / coords`` with
coords ``x, y, likelihood`` (DeepLabCut's single-animal layout, as ``analyze_videos`` writes it
for a single-animal project), or ``scorer / individuals / bodyparts / coords`` (its multi-animal
one, as ``video_inference_superanimal`` writes it, individuals ``animal0``, ``animal1``, ...).
Both are read; one animal is written in the first, several in the second.

Example::

    from napari_superanimal.labels.io.dlc import load_dlc_predictions, save_dlc_predictions
    save_dlc_predictions("mouseDLC_sa.h5", poses, ["nose", "tail_base"], scorer="sa")
    table = load_dlc_predictions("mouseDLC_sa.h5")      # xy (T, K, 2) and scores (T, K)
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ....atomic import atomic_path
from ....errors import LabelFormatError
from ...model import LabelTable
from .labels import H5_KEY, read_h5, table_from_frame


def individual_names(n: int) -> list[str]:
    """DeepLabCut's names for ``n`` animals found by SuperAnimal: ``animal0``, ``animal1``..."""
    return [f"animal{i}" for i in range(n)]


def predictions_frame(
    poses: np.ndarray,
    keypoints: Sequence[str],
    scorer: str,
    individuals: Sequence[str] | None = None,
) -> pd.DataFrame:
    """DeepLabCut's multi-index DataFrame of ``(T, K, 3)`` x, y, likelihood (its single-animal
    layout), or of ``(T, A, K, 3)`` for ``individuals`` (default ``animal0``...; its
    multi-animal layout)."""
    poses = np.asarray(poses, dtype=np.float64)
    k = len(keypoints)
    if poses.ndim == 3 and poses.shape[1:] == (k, 3) and individuals is None:
        levels = [[scorer], list(keypoints), ["x", "y", "likelihood"]]
        names = ["scorer", "bodyparts", "coords"]
    elif poses.ndim == 4 and poses.shape[2:] == (k, 3):
        individuals = list(individuals or individual_names(poses.shape[1]))
        if len(individuals) != poses.shape[1]:
            raise ValueError(f"{len(individuals)} names for {poses.shape[1]} animals")
        levels = [[scorer], individuals, list(keypoints), ["x", "y", "likelihood"]]
        names = ["scorer", "individuals", "bodyparts", "coords"]
    else:
        raise ValueError(f"poses must be (T, {k}, 3) or (T, animals, {k}, 3), got {poses.shape}")
    columns = pd.MultiIndex.from_product(levels, names=names)
    return pd.DataFrame(poses.reshape(len(poses), -1), columns=columns)


def save_dlc_predictions(
    path: str | os.PathLike,
    poses: np.ndarray,
    keypoints: Sequence[str],
    scorer: str,
    individuals: Sequence[str] | None = None,
    metadata: dict | None = None,
) -> Path:
    """Write predictions, ``(T, K, 3)`` for one animal or ``(T, A, K, 3)`` for several (see
    :func:`predictions_frame`), as a DeepLabCut ``.h5`` (atomically: temp file + rename).

    ``metadata`` (JSON-able, e.g. the smoothing applied) goes into the HDF5 attribute
    ``napari_superanimal`` of the table, as JSON text (:func:`read_export_metadata`); DLC and
    ``movement`` ignore it.

    Example::

        save_dlc_predictions("mouseDLC_superanimal.h5", poses, ["nose", "tail_base"], "sa")
        movement.io.load_poses.from_dlc_file("mouseDLC_superanimal.h5")
    """
    path = Path(path)
    frame = predictions_frame(poses, keypoints, scorer, individuals)
    with atomic_path(path) as tmp:
        frame.to_hdf(tmp, key=H5_KEY, mode="w", format="table")
        if metadata:
            with pd.HDFStore(tmp, mode="a") as store:
                store.get_storer(H5_KEY).attrs.napari_superanimal = json.dumps(metadata)
    return path


def read_export_metadata(path: str | os.PathLike) -> dict:
    """What :func:`save_dlc_predictions` recorded as ``metadata`` ({} if nothing)."""
    with pd.HDFStore(path, mode="r") as store:
        text = getattr(store.get_storer(H5_KEY).attrs, "napari_superanimal", None)
    return json.loads(text) if text else {}


def load_dlc_predictions(path: str | os.PathLike) -> LabelTable:
    """Read a DeepLabCut prediction ``.h5`` (single-animal layout, or one individual) into a
    :class:`LabelTable` whose ``frames`` are the rows' frame numbers and whose ``scores`` are
    the likelihoods.

    Example::

        table = load_dlc_predictions("mouseDLC_resnet50_openfieldOct30shuffle1_1000.h5")
        table.xy.shape, table.scores.shape          # (T, K, 2), (T, K)
    """
    path = Path(path)
    if not path.is_file():
        raise LabelFormatError(f"{path}: no such file")
    df = read_h5(path)
    table = table_from_frame(path, df)
    if table.scores is None:
        raise LabelFormatError(f"{path}: no likelihood columns: not a prediction table")
    try:
        frames = [int(i) for i in df.index]
    except (TypeError, ValueError) as err:
        raise LabelFormatError(f"{path}: rows are not frame numbers ({err})") from err
    table.frames, table.images, table.video = frames, None, None
    return table.check(path)
