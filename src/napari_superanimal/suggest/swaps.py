"""Likely identity swaps: frames where the predicted animals may have traded names.

Identity switches happen where animals meet, and show as a frame whose animals fit the frame
before better with two of them exchanged. A frame's swap score adds two parts, both in body
lengths (the median diagonal of an animal's keypoints over the video):

- **exchange**: for every pair of animals ``i, j``, how much shorter the keypoints' moves from
  the frame before are with ``i`` and ``j`` exchanged than as predicted, halved (0 when the
  predicted names fit best), the largest over pairs: a tracker whose cost spikes;
- **crossing**: ``1 - d`` for the two closest animals in the frame, ``d`` the mean distance
  between their keypoints (0 when they are a body length or more apart): animals close enough
  to be confused.

A score of :data:`LIKELY` or more is a likely swap: the Suggestions timeline marks it and the
``swaps`` strategy offers it (the combined strategy weighs it with confidence and jumps).
Frames the model did not predict score NaN; a frame with one animal, 0.

Example::

    from napari_superanimal.suggest.swaps import likely_swaps, swap_scores
    swap_scores(session.all_predictions())     # (T,) for (T, A, K, 3) predictions
    likely_swaps(session.all_predictions())    # frames scoring LIKELY or more
"""

from __future__ import annotations

import numpy as np

from ..model.identities import pose_distances
from .robust import SuggestError

LIKELY = 0.5  # body lengths
_CHUNK = 4096  # frames compared at once (bounds memory on long videos)


def swap_scores(predictions: np.ndarray) -> np.ndarray:
    """``(T,)`` swap score of every frame of ``(T, A, K, 3)`` predictions (module docstring)."""
    poses = np.asarray(predictions, dtype=np.float32)
    if poses.ndim != 4 or poses.shape[-1] != 3:
        raise SuggestError(
            f"swap scores need (frames, animals, keypoints, 3) predictions, got {poses.shape}"
        )
    placed = np.isfinite(poses[..., :2]).all(-1)  # (T, A, K)
    predicted = placed.any(axis=(1, 2))
    scores = np.where(predicted, 0.0, np.nan)
    body = body_length(poses)
    if poses.shape[1] < 2 or not np.isfinite(body) or body <= 0:
        return scores
    for start in range(0, len(poses), _CHUNK):
        stop = min(len(poses), start + _CHUNK)
        part = poses[start:stop]
        before = poses[start - 1 : stop - 1] if start else poses[: stop - 1]
        score = _crossing(part, body)
        if len(before):  # every frame but the video's first has one before it
            moves = pose_distances(before, part[len(part) - len(before) :])
            score[len(part) - len(before) :] += _savings(moves)[0] / 2 / body
        scores[start:stop] = np.where(predicted[start:stop], score, np.nan)
    return scores


def untangled(predictions: np.ndarray) -> np.ndarray:
    """``(T, A, K, 3)`` predictions with each animal kept in one row through the name swaps
    the model made: wherever exchanging two animals fits the frame before better, the rows
    exchange from that frame on. Jumps (:mod:`.jumps`) measured on these are motion, not
    names, so a swap counts once, as a swap."""
    poses = np.asarray(predictions, dtype=np.float32)
    if poses.ndim != 4 or poses.shape[1] < 2 or len(poses) < 2:
        return poses
    events: list[tuple[int, int, int]] = []
    for start in range(1, len(poses), _CHUNK):
        stop = min(len(poses), start + _CHUNK)
        moves = pose_distances(poses[start - 1 : stop - 1], poses[start:stop])
        best, pair = _savings(moves)
        events += [(start + t, int(pair[t, 0]), int(pair[t, 1])) for t in np.flatnonzero(best)]
    if not events:
        return poses
    where = np.arange(poses.shape[1])  # the row each tracked animal is in now
    out = poses.copy()
    bounds = [t for t, _, _ in events] + [len(poses)]
    for (t, i, j), stop in zip(events, bounds[1:], strict=True):
        a, b = where == i, where == j
        where[a], where[b] = j, i
        out[t:stop] = poses[t:stop][:, where]
    return out


def likely_swaps(predictions: np.ndarray, cut: float = LIKELY) -> np.ndarray:
    """Frames whose swap score is ``cut`` or more, in time order."""
    scores = swap_scores(predictions)
    return np.flatnonzero(np.nan_to_num(scores, nan=0.0) >= cut)


def body_length(poses: np.ndarray) -> float:
    """The median diagonal of one animal's keypoints on one frame, over the video (NaN if no
    animal has two keypoints)."""
    xy = poses[..., :2]
    placed = np.isfinite(xy)  # no nanmax: its warnings are not thread-safe to silence
    extent = np.where(placed, xy, -np.inf).max(axis=2) - np.where(placed, xy, np.inf).min(axis=2)
    diagonal = np.hypot(extent[..., 0], extent[..., 1])  # (T, A); -inf where none placed
    diagonal = diagonal[np.isfinite(diagonal) & (diagonal > 0)]
    return float(np.median(diagonal)) if len(diagonal) else float("nan")


def _savings(moves: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each of ``(N, A, A)`` keypoint moves (row: the animal before, column: the animal
    now), the most that exchanging two animals' names shortens the moves (0: nothing) and
    the pair ``(i, j)`` that does it (-1, -1 when none)."""
    kept = np.diagonal(moves, axis1=1, axis2=2)
    best = np.zeros(len(moves))
    pair = np.full((len(moves), 2), -1)
    for i in range(moves.shape[1]):
        for j in range(i + 1, moves.shape[1]):
            saving = np.nan_to_num(kept[:, i] + kept[:, j] - moves[:, i, j] - moves[:, j, i])
            better = saving > best
            best[better] = saving[better]
            pair[better] = (i, j)
    return best, pair


def _crossing(poses: np.ndarray, body: float) -> np.ndarray:
    """``(N,)``: ``1 - d / body`` for the two closest animals of each frame, at least 0."""
    apart = pose_distances(poses, poses)  # (N, A, A)
    n_animals = apart.shape[1]
    apart[:, np.arange(n_animals), np.arange(n_animals)] = np.nan
    nearest = np.where(np.isfinite(apart), apart, np.inf).reshape(len(apart), -1).min(axis=1)
    return np.clip(1.0 - nearest / body, 0.0, None)
