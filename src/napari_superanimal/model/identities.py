"""Which animal is which across two frames: keypoint distances and the matching they give.

Light (NumPy and SciPy only): the session keeps the identities of animals predicted in
separate batches with :func:`match_animals`, and suggestions score likely identity swaps with
:func:`pose_distances` (:mod:`napari_superanimal.suggest.swaps`).

Example::

    order = match_animals(poses[9], poses[10])   # (A, K, 3) each
    poses[10] = poses[10][order]                 # animal i of frame 10 continues animal i of 9
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment


def pose_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``(..., A, B)`` mean distance in pixels between the keypoints of every animal of ``a``
    (``(..., A, K, 3)``) and every one of ``b`` (``(..., B, K, 3)``), over the keypoints both
    placed (NaN: none); leading dimensions (frames) broadcast."""
    a, b = np.asarray(a, np.float32)[..., :2], np.asarray(b, np.float32)[..., :2]
    step = a[..., :, None, :, :] - b[..., None, :, :, :]  # (..., A, B, K, 2)
    gaps = np.hypot(step[..., 0], step[..., 1])
    placed = np.isfinite(gaps)
    total = np.where(placed, gaps, 0).sum(-1)
    count = placed.sum(-1)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def match_animals(known: np.ndarray, found: np.ndarray) -> np.ndarray:
    """The order of ``found``'s animals (``(A, K, 3)``) that continues ``known``'s (``(A, K,
    3)``, a neighbouring frame): ``found[order]`` puts each animal where the nearest one of
    ``known`` is (Hungarian assignment on keypoint distance); animals nothing matches keep
    the rows left, in their order."""
    distance = pose_distances(known, found)
    order = np.full(len(known), -1)
    usable = np.isfinite(distance)
    if usable.any():
        rows, cols = linear_sum_assignment(np.where(usable, distance, 1e12))
        for r, c in zip(rows, cols, strict=True):
            if usable[r, c]:
                order[r] = c
    left = [c for c in range(len(found)) if c not in order]
    for r in np.flatnonzero(order < 0):
        order[r] = left.pop(0)
    return order
