"""Robust z-scores and input checks shared by the suggestion strategies.

A robust z-score measures how unusual a value is against the median and the median absolute
deviation (MAD) of its peers, so the handful of outliers we are hunting cannot inflate the
spread that is supposed to reveal them (a mean and standard deviation would).

Example::

    import numpy as np
    from napari_superanimal.suggest.robust import robust_z
    robust_z(np.array([1.0, 1.1, 0.9, 1.0, 9.0]))   # the last value stands out: z >> 3
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from contextlib import contextmanager

import numpy as np

from ..errors import SuggestError

MAD_TO_SIGMA = 1.4826  # MAD of a normal distribution times this is its standard deviation
MAX_SAMPLES = 20_000


def robust_z(values: np.ndarray, axis: int = 0, floor: float = 1e-9) -> np.ndarray:
    """``(values - median) / (1.4826 * MAD)`` along ``axis``, ignoring NaN (which stay NaN).

    ``floor`` is the smallest spread used, in the units of ``values``: when almost every value
    is identical (an animal standing still), the MAD is ~0 and without a floor any tiny wobble
    would look like an outlier.
    """
    values = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(values)
    if not finite.any():
        return np.full(values.shape, np.nan)
    median_of = np.median if finite.all() else np.nanmedian  # nanmedian is ~10x slower
    # the median and MAD of an evenly strided subset of at most ~MAX_SAMPLES values are as
    # good an estimate, and keep an hour of video (100k frames) fast
    step = max(1, values.shape[axis] // MAX_SAMPLES)
    sample = np.take(values, np.arange(0, values.shape[axis], step), axis=axis)
    with np.errstate(all="ignore"), quiet_nan_warnings():
        median = median_of(sample, axis=axis, keepdims=True)
        mad = median_of(np.abs(sample - median), axis=axis, keepdims=True)
        scale = np.maximum(MAD_TO_SIGMA * np.nan_to_num(mad), floor)
        return (values - median) / scale


def check_predictions(predictions) -> np.ndarray:
    """``(T, K, 3)`` x, y, likelihood as float64; NaN rows mean "not predicted". Several
    animals' ``(T, A, K, 3)`` become ``(T, A * K, 3)``: every animal's keypoint counts."""
    array = np.asarray(predictions, dtype=np.float64)
    if array.ndim == 4 and array.shape[3] == 3:
        array = array.reshape(len(array), -1, 3)
    if array.ndim != 3 or array.shape[2] != 3:
        raise SuggestError(
            f"predictions must be (frames, keypoints, 3) x, y, likelihood; got {array.shape}"
        )
    return array


def labeled_mask(labeled: Iterable[int] | np.ndarray | None, n_frames: int) -> np.ndarray:
    """A ``(n_frames,)`` bool mask from frame indices (or a mask already); out of range refused."""
    mask = np.zeros(n_frames, bool)
    if labeled is None:
        return mask
    array = np.asarray(list(labeled) if not isinstance(labeled, np.ndarray) else labeled)
    if array.dtype == bool:
        if array.shape != (n_frames,):
            raise SuggestError(f"a labeled mask must have {n_frames} entries, got {array.shape}")
        return array.copy()
    if array.size == 0:
        return mask
    frames = array.astype(np.int64).ravel()
    bad = frames[(frames < 0) | (frames >= n_frames)]
    if bad.size:
        raise SuggestError(f"labeled frame {int(bad[0])} is outside the video (0-{n_frames - 1})")
    mask[frames] = True
    return mask


@contextmanager
def quiet_nan_warnings():
    """Silence "All-NaN slice" / "Mean of empty slice": NaN results are what we want there."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield
