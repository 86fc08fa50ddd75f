"""The learning-rate schedule of a round: one cycle, following steps or the time budget.

Example::

    rate, beta1 = one_cycle(1e-3, done=0.5)     # halfway through the round
"""

from __future__ import annotations

import numpy as np


def one_cycle(lr: float, done: float, warmup: float = 0.15) -> tuple[float, float]:
    """One-cycle learning rate and Adam beta1 at ``done`` (0-1) of the round, as PyTorch's
    OneCycleLR does it by default: the rate warms up from lr/25 to lr while beta1 falls from
    0.95 to 0.85, then the rate decays to lr/25e4 while beta1 rises back (cosine both ways).
    ``done`` is the larger of the step and time-budget fractions, so a time-limited round
    anneals too."""
    done = min(max(done, 0.0), 1.0)
    start, end = lr / 25, lr / 25e4
    if done < warmup:
        t = done / warmup
        return _cosine(start, lr, t), _cosine(0.95, 0.85, t)
    t = (done - warmup) / (1 - warmup)
    return _cosine(lr, end, t), _cosine(0.85, 0.95, t)


def _cosine(a: float, b: float, t: float) -> float:
    return b + (a - b) * (1 + np.cos(np.pi * t)) / 2
