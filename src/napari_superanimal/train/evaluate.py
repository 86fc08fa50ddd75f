"""How far a model's keypoints are from the user's, on frames it did not train on.

Example::

    keypoint_error(model, pixels, test_samples, pck_px=10.0)
    # {"pixels": 4.2, "pck": 0.9, "pck_px": 10.0, "frames": 3}
"""

from __future__ import annotations

import numpy as np


def keypoint_error(
    estimator, frames: dict[int, np.ndarray], samples, pck_px: float, scales=None
) -> dict:
    """Mean pixel error and PCK (share within ``pck_px``) over the user's own points of
    ``samples``; a keypoint predicted nowhere counts as a miss. ``scales`` (by sample frame)
    turn errors measured in crops into frame pixels."""
    if not samples:
        return {"pixels": None, "pck": None, "pck_px": pck_px, "frames": 0}
    pred = estimator.predict(np.stack([frames[s.frame] for s in samples]))
    errors = []
    for s, p in zip(samples, pred, strict=True):
        d = np.linalg.norm(p[s.labeled, :2] - s.keypoints[s.labeled], axis=1)
        d = d * (scales[s.frame] if scales else 1.0)
        errors.extend(np.where(np.isfinite(d), d, np.inf))
    errors = np.asarray(errors)
    finite = errors[np.isfinite(errors)]
    return {
        "pixels": float(finite.mean()) if len(finite) else None,
        "pck": float((errors <= pck_px).mean()),
        "pck_px": pck_px,
        "frames": len(samples),
    }
