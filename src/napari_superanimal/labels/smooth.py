"""Temporal smoothing of predicted keypoints, for export (off unless asked for).

Only confident keypoints (score at least the threshold, default 0.1 as DeepLabCut's ``pcutoff``
for SuperAnimal video inference) are smoothed and only they feed the filter: a low-confidence
keypoint keeps its raw position and never drags its neighbours. Two filters:

- ``"median"``: a running median over ``window`` frames (odd), centred, over the confident
  frames in the window. Robust to single-frame jumps; keeps steps sharp.
- ``"savgol"``: a Savitzky-Golay filter (least-squares polynomial of order ``polyorder`` over
  ``window`` frames), applied to each run of consecutive confident frames at least ``window``
  long; shorter runs stay raw. Smooths jitter while following fast but smooth motion.

Scores are never changed. :func:`smoothing_record` is what an export stores to say it was done.

Example::

    smoothed = smooth_poses(poses, "median", window=5)
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.signal import savgol_filter

METHODS = ("median", "savgol")
CONFIDENCE = 0.1


def smooth_poses(
    poses: np.ndarray,
    method: str = "median",
    window: int = 5,
    threshold: float = CONFIDENCE,
    polyorder: int = 2,
) -> np.ndarray:
    """A smoothed copy of ``(T, K, 3)`` x, y, score ``poses`` (consecutive frames)."""
    if method not in METHODS:
        raise ValueError(f"unknown smoothing {method!r}: use one of {', '.join(METHODS)}")
    window = int(window)
    if window < 3 or window % 2 == 0:
        raise ValueError(f"the smoothing window must be an odd number of frames >= 3, not {window}")
    if method == "savgol" and polyorder >= window:
        raise ValueError(f"polyorder {polyorder} must be below the window ({window})")
    poses = np.asarray(poses, dtype=np.float64)
    if poses.ndim != 3 or poses.shape[-1] != 3:
        raise ValueError(f"poses must be (T, K, 3) x, y, score, got {poses.shape}")
    out = poses.copy()
    confident = np.isfinite(poses[..., :2]).all(-1) & (np.nan_to_num(poses[..., 2]) >= threshold)
    for k in range(poses.shape[1]):
        ok = confident[:, k]
        if not ok.any():
            continue
        for c in range(2):
            series = np.where(ok, poses[:, k, c], np.nan)
            smoothed = (
                _median(series, window)
                if method == "median"
                else _savgol(series, window, polyorder)
            )
            out[ok, k, c] = smoothed[ok]
    return out


def smoothing_record(
    method: str, window: int, threshold: float = CONFIDENCE, polyorder: int = 2
) -> dict:
    """What an export records about its smoothing."""
    record = {"method": method, "window": int(window), "threshold": float(threshold)}
    if method == "savgol":
        record["polyorder"] = int(polyorder)
    return record


def _median(series: np.ndarray, window: int) -> np.ndarray:
    """Running median over the finite values in each centred window (fewer at the ends)."""
    half = window // 2
    padded = np.pad(series, half, constant_values=np.nan)
    view = np.lib.stride_tricks.sliding_window_view(padded, window)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN windows stay NaN
        return np.nanmedian(view, axis=1)


def _savgol(series: np.ndarray, window: int, polyorder: int) -> np.ndarray:
    out = series.copy()
    ok = np.isfinite(series)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], ok.astype(int), [0]])))
    for start, stop in zip(edges[::2], edges[1::2], strict=True):
        if stop - start >= window:
            out[start:stop] = savgol_filter(series[start:stop], window, polyorder, mode="interp")
    return out
