"""Temporal jumps: keypoints that move implausibly fast between consecutive frames.

A detection that lands on the wrong spot for one frame moves far away and comes back, so the
frame-to-frame displacement of that keypoint is an outlier twice: into the frame and out of it.
Each keypoint's displacements are turned into robust z-scores against that keypoint's own
typical speed (a tail tip moves faster than a neck), negative ones counted as 0. Every
displacement is then blamed on one of its two frames: the one whose in + out total for that
keypoint is larger. A one-frame glitch at ``t`` thus takes both of its large displacements
(``t - 1`` and ``t + 1``, which each share one of them, are left with their ordinary motion),
while the start and the end of a longer error (a left/right swap lasting a second) each take
one. A frame's score is the largest blamed total over its keypoints. Displacements between a
frame and a missing (NaN) neighbour count as 0: a gap is not evidence of an error.

Example::

    import numpy as np
    from napari_superanimal.suggest.jumps import jump_scores
    poses = np.zeros((50, 1, 3)); poses[:, 0, 0] = np.arange(50.0)   # steady walk along x
    poses[20, 0, 0] += 40                                             # one wrong frame
    int(np.argmax(jump_scores(poses)))   # 20
"""

from __future__ import annotations

import numpy as np

from .robust import check_predictions, robust_z

MIN_SPEED_SPREAD = 0.05  # pixels/frame: the smallest spread of speeds (a resting animal)


def displacements(predictions: np.ndarray) -> np.ndarray:
    """``(T - 1, K)`` distance each keypoint moves from frame t to t + 1 (NaN if unknown)."""
    poses = check_predictions(predictions)
    step = np.diff(poses[:, :, :2], axis=0)
    return np.hypot(step[..., 0], step[..., 1])


def jump_scores(predictions: np.ndarray) -> np.ndarray:
    """``(T,)`` jump score of each frame (see the module docstring); NaN if not predicted.

    A video of fewer than 3 frames has no speed statistics: every predicted frame scores 0.
    """
    poses = check_predictions(predictions)
    n_frames = len(poses)
    predicted = np.isfinite(poses[:, :, :2]).all(axis=2).any(axis=1)
    scores = np.where(predicted, 0.0, np.nan)
    if n_frames < 3:
        return scores
    z = robust_z(displacements(poses), axis=0, floor=MIN_SPEED_SPREAD)
    z = np.nan_to_num(np.clip(z, 0.0, None), nan=0.0)  # (T - 1, K): slow or unknown -> 0
    total = np.zeros((n_frames, poses.shape[1]))
    total[1:] += z  # the move into frame t
    total[:-1] += z  # the move out of frame t
    to_later = total[1:] > total[:-1]  # blame the move t -> t + 1 on t + 1 (else on t)
    blamed = np.zeros_like(total)
    blamed[1:] += np.where(to_later, z, 0.0)
    blamed[:-1] += np.where(to_later, 0.0, z)
    return np.where(predicted, blamed.max(axis=1), np.nan)
