"""Keypoints a video says are wrong: a single-frame jump, or a point stuck while its animal moves.

A network sees one frame at a time; a video adds what it cannot know. On consecutive frames a
keypoint that leaps farther than ``JUMP`` of its animal's size and comes straight back is a
spike, and one that stays on the same spot (within ``STILL_PX``) for ``STILL_FRAMES`` frames
while the rest of its animal travels at least ``MOVED`` of its size is stuck on something in the
scene (a reflection, a caption). Both keep their position and lose their sureness: their score
drops to at most ``FLAGGED_SCORE``, under any threshold a user would accept at. Models trained
in the project are flagged this way (:meth:`~.inference.PoseEstimator.predict_video`);
SuperAnimal models keep DeepLabCut's scores.

Example::

    poses = flag_implausible(poses, frames)     # (T, A, K, 3), frames (T,) video indices
"""

from __future__ import annotations

import warnings

import numpy as np

JUMP = 0.75  # of the animal's size, in one frame, and back
STILL_FRAMES = 15
STILL_PX = 1.0
MOVED = 0.5  # of the animal's size, over STILL_FRAMES frames
FLAGGED_SCORE = 0.2


def flag_implausible(poses: np.ndarray, frames) -> np.ndarray:
    """A copy of ``(T, A, K, 3)`` ``poses`` of video ``frames`` with implausible keypoints'
    scores capped at ``FLAGGED_SCORE`` (see the module); runs of consecutive frames (forwards
    or backwards) are judged apart."""
    out = np.array(poses, dtype=np.float32, copy=True)
    frames = np.asarray(frames, int)
    step = np.diff(frames)  # runs go forwards or backwards in time (tracking does both)
    ok = np.abs(step) == 1
    turn = np.r_[False, (step[1:] != step[:-1]) & ok[1:] & ok[:-1]]
    starts = np.flatnonzero(np.r_[True, ~ok | turn])
    for start, stop in zip(starts, np.r_[starts[1:], len(frames)], strict=True):
        if stop - start >= 3:
            flags = _implausible(out[start:stop])
            out[start:stop, ..., 2] = np.where(
                flags, np.minimum(out[start:stop, ..., 2], FLAGGED_SCORE), out[start:stop, ..., 2]
            )
    return out


def _implausible(run: np.ndarray) -> np.ndarray:
    """``(T, A, K)`` flags for one run of consecutive frames."""
    xy = run[..., :2].astype(np.float64)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an animal missing on a frame: NaN
        # the animal's size: twice its keypoints' median distance from their median point (one
        # keypoint stuck far away does not make it bigger), its median over the run
        centre = np.nanmedian(xy, axis=2, keepdims=True)
        size = 2 * np.nanmedian(np.nanmedian(np.linalg.norm(xy - centre, axis=-1), axis=2), axis=0)
    size = np.where(np.isfinite(size) & (size > 0), size, np.inf)[None, :, None]
    flags = np.zeros(run.shape[:3], bool)
    step = np.linalg.norm(np.diff(xy, axis=0), axis=-1)  # (T-1, A, K)
    skip = np.linalg.norm(xy[2:] - xy[:-2], axis=-1)
    there, back = step[:-1], step[1:]
    with np.errstate(invalid="ignore"):
        flags[1:-1] |= (there > JUMP * size) & (back > JUMP * size)
        flags[1:-1] &= skip < 0.5 * np.minimum(there, back)
    if len(run) >= STILL_FRAMES:
        flags |= _stuck(xy, centre[:, :, 0], size[0])
    return flags


def _stuck(xy: np.ndarray, centre: np.ndarray, size: np.ndarray) -> np.ndarray:
    """Keypoints on one spot for ``STILL_FRAMES`` frames while their animal's median point
    moves ``MOVED`` of its ``size`` away from where it was."""
    flags = np.zeros(xy.shape[:3], bool)
    n = STILL_FRAMES
    for t in range(len(xy) - n + 1):
        window = xy[t : t + n]
        with np.errstate(invalid="ignore"):
            still = np.linalg.norm(window - window[:1], axis=-1).max(axis=0) <= STILL_PX
            moved = np.linalg.norm(centre[t : t + n] - centre[t], axis=-1).max(axis=0)  # (A,)
            flags[t : t + n] |= (still & (moved >= MOVED * size[:, 0])[:, None])[None]
    return flags
