"""How far a model's keypoints are from the user's, on frames it did not train on, and how its
raw scores relate to being right there (for :mod:`~..model.calibration`).

Example::

    keypoint_error(model, pixels, test_samples, pck_px=10.0)
    # {"pixels": 4.2, "pck": 0.9, "pck_px": 10.0, "frames": 3}
    scores, errors = scored_errors(model, pixels, validation_samples, rng)
"""

from __future__ import annotations

import numpy as np
from skimage.transform import SimilarityTransform, warp

CALIBRATION_VIEWS = 8  # views of each validation frame: itself, then moved, turned and zoomed


def keypoint_error(
    estimator, frames: dict[int, np.ndarray], samples, pck_px: float, scales=None
) -> dict:
    """Mean pixel error and PCK (share within ``pck_px``) over the user's own points of
    ``samples``; a keypoint predicted nowhere counts as a miss. ``scales`` (by sample frame)
    turn errors measured in crops into frame pixels."""
    if not samples:
        return {"pixels": None, "pck": None, "pck_px": pck_px, "frames": 0}
    pred = estimator.predict(np.stack([frames[s.frame] for s in samples]))
    errors = np.concatenate(
        [_errors(p[s.labeled, :2], s, scales) for s, p in zip(samples, pred, strict=True)]
    )
    finite = errors[np.isfinite(errors)]
    return {
        "pixels": float(finite.mean()) if len(finite) else None,
        "pck": float((errors <= pck_px).mean()),
        "pck_px": pck_px,
        "frames": len(samples),
    }


def _errors(xy: np.ndarray, sample, scales) -> np.ndarray:
    """Frame-pixel distances from ``xy`` (the prediction of ``sample``'s labeled keypoints)
    to the user's points; infinite where nothing was predicted."""
    d = np.linalg.norm(xy - sample.keypoints[sample.labeled], axis=1)
    d = d * (scales[sample.frame] if scales else 1.0)
    return np.where(np.isfinite(d), d, np.inf)


def _view(
    frame: np.ndarray, rng: np.random.Generator, padding: str = "reflect"
) -> tuple[np.ndarray, SimilarityTransform]:
    """``frame`` turned (up to 15 degrees), zoomed (0.9-1.1x) and moved (up to 8% of its size)
    about its centre, padded past its edges as training pads it (``padding``: mirrored, or
    black for an animal's crop); and the transform from view to frame pixels."""
    h, w = frame.shape[:2]
    centre = np.array([w, h]) / 2
    to_frame = (
        SimilarityTransform(translation=-centre)
        + SimilarityTransform(
            rotation=np.deg2rad(rng.uniform(-15, 15)), scale=1 / rng.uniform(0.9, 1.1)
        )
        + SimilarityTransform(translation=centre + rng.uniform(-0.08, 0.08, 2) * (w, h))
    )
    view = warp(frame, to_frame, order=1, mode=padding, cval=0.0, preserve_range=True)
    return view.astype(np.uint8), to_frame


def scored_errors(
    estimator,
    frames: dict[int, np.ndarray],
    samples,
    rng,
    scales=None,
    views=CALIBRATION_VIEWS,
    padding: str = "reflect",
) -> tuple[np.ndarray, np.ndarray]:
    """Raw scores and pixel errors of ``estimator`` on the user's points of ``samples``, each
    frame seen as itself and ``views - 1`` moved, turned and zoomed copies (more points to
    calibrate on than a few frames hold; each copy is still a frame the network never trained
    on), padded past their edges as the round's training pads them (``padding``). ``scales`` as
    in :func:`keypoint_error`. A keypoint predicted nowhere is an infinite error with score 0."""
    raw = getattr(estimator, "calibration", None)
    estimator.calibration = None  # the raw scores are what a calibration maps
    scores, errors = [], []
    try:
        for s in samples:
            frame = frames[s.frame]
            shown = [(frame, None)] + [_view(frame, rng, padding) for _ in range(views - 1)]
            pred = estimator.predict(np.stack([v for v, _ in shown]))
            for p, (_, to_frame) in zip(pred, shown, strict=True):
                xy = p[s.labeled, :2].astype(np.float64)
                if to_frame is not None:  # keypoints are pixel centres (see augment)
                    xy = to_frame(xy - 0.5) + 0.5
                errors.extend(_errors(xy, s, scales))
                scores.extend(np.nan_to_num(p[s.labeled, 2], nan=0.0))
    finally:
        estimator.calibration = raw
    return np.asarray(scores, np.float64), np.asarray(errors, np.float64)
