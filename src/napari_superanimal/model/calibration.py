"""A score that means something: the chance that a keypoint is within ``radius_px`` of the truth.

A network's raw score is its heatmap's peak, clipped to 1: a network trained on a few labels can
be sure of a spot on the wall. A round fits :class:`Calibration` on its validation frames (which
it did not train on) by Platt scaling of the raw score's logit, ``p = sigmoid(slope * logit(s) +
offset)``, with a weak pull towards the raw score (``slope`` 1, ``offset`` 0) so that a handful
of validation points cannot make it extreme. The fit is stored with the model version, and the
version's predictions carry the calibrated score everywhere (shown, Accept, suggestions,
adaptation's pseudo-labels). SuperAnimal models keep DeepLabCut's raw scores.

Example::

    cal = fit_calibration(raw_scores, errors_px <= 10, radius_px=10)
    cal(np.array([0.2, 0.95]))         # calibrated scores
    Calibration.from_dict(cal.to_dict()) == cal
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

RADIUS_PX = 10.0  # "right": within this many frame pixels of where the user put the point
EPS = 1e-4  # raw scores are clipped to [EPS, 1 - EPS] before their logit
PRIOR = 2.0  # strength of the pull towards the raw score, in validation points


def _logit(scores: np.ndarray) -> np.ndarray:
    s = np.clip(np.asarray(scores, np.float64), EPS, 1 - EPS)
    return np.log(s / (1 - s))


@dataclass(frozen=True)
class Calibration:
    """Raw score -> probability of being within ``radius_px`` (frame pixels)."""

    slope: float
    offset: float
    radius_px: float = RADIUS_PX
    points: int = 0  # validation keypoints it was fitted on

    def __call__(self, scores: np.ndarray) -> np.ndarray:
        scores = np.asarray(scores)
        z = self.slope * _logit(scores) + self.offset
        out = 1.0 / (1.0 + np.exp(-z))
        return np.where(np.isfinite(scores), out, scores).astype(scores.dtype, copy=False)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, record: dict | None) -> Calibration | None:
        return None if not record else cls(**record)


def fit_calibration(scores, hits, radius_px: float = RADIUS_PX, weight: float = 1.0) -> Calibration:
    """Platt scaling of ``scores`` on ``hits`` (bool: within ``radius_px``), regularised
    towards the identity by ``PRIOR`` pseudo-points' weight; ``weight``: what each score counts
    for (``1 / views`` when each point was seen in several views of its frame, which agree
    more with each other than other frames would: evidence of one point, not of ``views``)."""
    from scipy.optimize import minimize

    x = _logit(np.asarray(scores, np.float64).ravel())
    y = np.asarray(hits, np.float64).ravel()
    if len(x) != len(y) or not len(x):
        raise ValueError(f"{len(x)} scores and {len(y)} hits: need as many, at least one")

    def loss(params):
        slope, offset = params
        z = slope * x + offset
        # log(1 + e^z) - y z, summed stably, plus the pull towards (1, 0)
        nll = weight * np.sum(np.logaddexp(0.0, z) - y * z)
        return nll + PRIOR * ((slope - 1.0) ** 2 + offset**2)

    fit = minimize(loss, x0=[1.0, 0.0], method="L-BFGS-B", bounds=[(0.0, 10.0), (-20, 20)])
    slope, offset = (float(v) for v in fit.x)
    return Calibration(slope, offset, float(radius_px), round(len(x) * weight))
