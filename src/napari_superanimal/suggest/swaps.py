"""Likely identity swaps: frames where the predicted animals may have traded names.

Identity switches happen where animals meet, and show as a frame whose animals fit the frame
before better with two of them exchanged. Each animal is taken at its centre (the mean of its
placed keypoints), and a frame's swap score adds two parts, both in body lengths (the median
diagonal of an animal's keypoints over the video):

- **exchange**: for every pair of animals ``i, j``, how much shorter the centres' moves from
  the frame before are with ``i`` and ``j`` exchanged than as predicted, halved (0 when the
  predicted names fit best), the largest over pairs: a tracker whose cost spikes;
- **crossing**: ``1 - d`` for the two closest animals in the frame, ``d`` the distance between
  their centres (0 when they are a body length or more apart): animals close enough to be
  confused.

A score of :data:`LIKELY` or more is a likely swap: the Suggestions timeline marks it and the
``swaps`` strategy offers it (the combined strategy weighs it with confidence and jumps).
Frames the model did not predict score NaN; a frame with one animal, 0. Centres keep it cheap
on any video (an hour of three animals, 100k frames, in a fraction of a second).

Example::

    from napari_superanimal.suggest.swaps import likely_swaps, swap_scores
    swap_scores(session.all_predictions())     # (T,) for (T, A, K, 3) predictions
    likely_swaps(session.all_predictions())    # frames scoring LIKELY or more
"""

from __future__ import annotations

import numpy as np

from .robust import SuggestError

LIKELY = 0.5  # body lengths


def swap_scores(predictions: np.ndarray) -> np.ndarray:
    """``(T,)`` swap score of every frame of ``(T, A, K, 3)`` predictions (module docstring)."""
    poses = np.asarray(predictions, dtype=np.float32)
    if poses.ndim != 4 or poses.shape[-1] != 3:
        raise SuggestError(
            f"swap scores need (frames, animals, keypoints, 3) predictions, got {poses.shape}"
        )
    centre = centres(poses)  # (T, A, 2), NaN: animal not there
    predicted = np.isfinite(centre).all(-1).any(-1)
    scores = np.where(predicted, 0.0, np.nan)
    body = body_length(poses)
    if poses.shape[1] < 2 or not np.isfinite(body) or body <= 0:
        return scores
    apart = _distances(centre, centre)  # (T, A, A)
    n_animals = apart.shape[1]
    apart[:, np.arange(n_animals), np.arange(n_animals)] = np.inf
    nearest = np.where(np.isfinite(apart), apart, np.inf).reshape(len(apart), -1).min(axis=1)
    score = np.clip(1.0 - nearest / body, 0.0, None)
    if len(poses) > 1:
        score[1:] += _savings(_distances(centre[:-1], centre[1:]))[0] / 2 / body
    return np.where(predicted, score, np.nan)


def untangled(predictions: np.ndarray) -> np.ndarray:
    """``(T, A, K, 3)`` predictions with each animal kept in one row through the name swaps
    the model made: wherever exchanging two animals fits the frame before better, the rows
    exchange from that frame on. Jumps (:mod:`.jumps`) measured on these are motion, not
    names, so a swap counts once, as a swap."""
    poses = np.asarray(predictions, dtype=np.float32)
    if poses.ndim != 4 or poses.shape[1] < 2 or len(poses) < 2:
        return poses
    centre = centres(poses)
    best, pair = _savings(_distances(centre[:-1], centre[1:]))
    events = np.flatnonzero(best > 0)
    if not len(events):
        return poses
    where = list(range(poses.shape[1]))  # the row each tracked animal is in now
    orders = np.empty((len(events) + 1, poses.shape[1]), np.int64)
    orders[0] = where
    for k, (i, j) in enumerate(pair[events].tolist(), start=1):
        where = [j if w == i else i if w == j else w for w in where]
        orders[k] = where
    which = np.zeros(len(poses), np.int64)  # each frame's order: the last event at or before it
    which[events + 1] = np.arange(1, len(events) + 1)
    which = np.maximum.accumulate(which)
    return np.take_along_axis(poses, orders[which][:, :, None, None], axis=1)


def centres(poses: np.ndarray) -> np.ndarray:
    """``(T, A, 2)``: the mean of each animal's placed keypoints (NaN where it has none)."""
    xy = poses[..., :2]
    placed = np.isfinite(xy).all(-1, keepdims=True)
    count = placed.sum(axis=2)
    total = np.where(placed, xy, 0).sum(axis=2)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def _distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``(T, A, B)`` distances between centres ``a`` (``(T, A, 2)``) and ``b``."""
    step = a[:, :, None, :] - b[:, None, :, :]
    return np.hypot(step[..., 0], step[..., 1])


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
    """For each of ``(N, A, A)`` moves of the centres (row: the animal before, column: the animal
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
