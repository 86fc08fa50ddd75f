"""The default ranking: evidence of an error from confidence and jumps, spread by diversity.

How it combines, step by step:

1. **Evidence.** Each frame's confidence score (``1 - mean likelihood``, :mod:`.confidence`)
   and jump score (:mod:`.jumps`) become robust z-scores against all predicted frames;
   below-typical frames count 0. Evidence is ``w_c * log(1 + z_c) + w_j * log(1 + z_j)``
   (weights 1 and 1 by default), i.e. the log of ``(1 + z_c)(1 + z_j)``: the logarithm keeps
   each signal's order (a 50-sigma jump still beats a 20-sigma one) while stopping the signal
   with the wider scale (jumps reach z of 100, confidence rarely 10) from drowning the other,
   and the product lifts frames that are both uncertain and jumpy above frames that are only
   one of the two. Frames never predicted have evidence 0. With several animals a third term,
   ``log(1 + z_s)`` of the likely-swap score (:mod:`.swaps`), lifts frames where two animals
   may have traded names.
2. **Coverage.** With thumbnails, every frame gets the k-means cluster of its nearest
   thumbnail (:mod:`.diversity`; ``k`` = ``n``). A frame's evidence (plus a small base, so
   frames without evidence are still ordered by coverage) is divided by
   ``1 + diversity * m``, where ``m`` counts the labeled frames and earlier suggestions in its
   cluster: the second suggestion from one kind of image must have clearly more evidence than
   the first from a kind nobody has labeled.
3. **Spacing.** Suggestions are picked greedily, best first; after each pick the frames within
   ``min_gap`` frames of it (and of labeled frames) are passed over while any other frame is
   left, because neighbouring frames are near-copies that teach the model nothing new.
   Remaining ties (no predictions, no thumbnails) go to the frame farthest in time from every
   label and earlier suggestion, which spreads suggestions evenly over the video.

So with no predictions the ranking degrades to diversity, and with neither predictions nor
thumbnails to evenly spread frames; it always returns ``min(n, unlabeled frames)`` frames.
Each pick costs O(frames): 20 suggestions over 100k frames take a few milliseconds.

Example::

    from napari_superanimal.suggest.combined import combined_ranking
    combined_ranking(poses, labeled=[0, 50], n=20, thumbnails=thumbs)
"""

from __future__ import annotations

import numpy as np

from .confidence import confidence_scores
from .diversity import cluster_thumbnails, frame_clusters
from .jumps import jump_scores
from .robust import labeled_mask, robust_z
from .thumbnails import Thumbnails

CONFIDENCE_SPREAD = 0.02  # likelihood units: the smallest spread of frame confidences
JUMP_SPREAD = 0.1  # jump-score units (already z-scores)
SWAP_SPREAD = 0.1  # body lengths: most frames score 0, so the spread is this floor
BASE = 0.05  # evidence every frame has, so coverage orders frames without evidence


def error_evidence(
    predictions: np.ndarray,
    weights: tuple[float, float] = (1.0, 1.0),
    swaps: np.ndarray | None = None,
) -> np.ndarray:
    """``(T,)`` weighted sum of ``log(1 + z)`` of confidence and jumps (and of ``swaps``, the
    likely-swap scores, with weight 1) (step 1)."""
    parts = [
        robust_z(confidence_scores(predictions), floor=CONFIDENCE_SPREAD),
        robust_z(jump_scores(predictions), floor=JUMP_SPREAD),
    ]
    if swaps is not None:
        parts.append(robust_z(swaps, floor=SWAP_SPREAD))
        weights = (*weights, 1.0)
    evidence = np.zeros(len(predictions))
    for weight, z in zip(weights, parts, strict=True):
        evidence += weight * np.log1p(np.nan_to_num(np.clip(z, 0.0, None), nan=0.0))
    return evidence


def combined_ranking(
    predictions: np.ndarray | None,
    labeled=None,
    n: int = 20,
    thumbnails: Thumbnails | None = None,
    *,
    n_frames: int | None = None,
    weights: tuple[float, float] = (1.0, 1.0),
    diversity: float = 0.5,
    min_gap: int = 2,
    seed: int = 0,
    swaps: np.ndarray | None = None,
) -> np.ndarray:
    """Up to ``n`` unlabeled frames, best first (see the module docstring for the method)."""
    if n_frames is None:
        n_frames = len(predictions) if predictions is not None else thumbnails.n_frames
    free = ~labeled_mask(labeled, n_frames)
    evidence = (
        error_evidence(predictions, weights, swaps)
        if predictions is not None
        else np.zeros(n_frames)
    )
    evidence = evidence + BASE
    if thumbnails is not None and len(thumbnails) and diversity > 0:
        labels, _ = cluster_thumbnails(thumbnails, max(2, n), seed)
        cluster = frame_clusters(thumbnails, labels)
        crowd = np.bincount(cluster[~free], minlength=int(labels.max()) + 1).astype(float)
    else:
        cluster = np.zeros(n_frames, np.int64)
        crowd = np.zeros(1)
        diversity = 0.0
    frames = np.arange(n_frames)
    spread = _distance_to(np.flatnonzero(~free), n_frames)  # to the nearest label or pick
    near = spread <= min_gap  # within min_gap of a label or an earlier pick
    picks: list[int] = []
    for _ in range(min(int(n), int(free.sum()))):
        score = evidence / (1.0 + diversity * crowd[cluster])
        score = score + 1e-9 * spread / max(n_frames, 1)  # ties: farthest from the rest
        pool = free & ~near
        if not pool.any():
            pool = free
        pick = int(np.argmax(np.where(pool, score, -np.inf)))
        picks.append(pick)
        free[pick] = False
        crowd[cluster[pick]] += 1
        _mark(near, spread, frames, pick, min_gap)
    return np.asarray(picks, dtype=np.int64)


def _mark(near: np.ndarray, spread: np.ndarray, frames: np.ndarray, f: int, gap: int) -> None:
    near[max(0, f - gap) : f + gap + 1] = True
    np.minimum(spread, np.abs(frames - f), out=spread)


def _distance_to(marked: np.ndarray, n_frames: int) -> np.ndarray:
    """``(n_frames,)`` distance of every frame to the nearest of the sorted ``marked`` frames
    (``n_frames`` if there are none), in one pass however many are marked."""
    frames = np.arange(n_frames)
    if not len(marked):
        return np.full(n_frames, float(n_frames))
    right = np.clip(np.searchsorted(marked, frames), 0, len(marked) - 1)
    left = np.clip(right - 1, 0, len(marked) - 1)
    return np.minimum(np.abs(frames - marked[left]), np.abs(marked[right] - frames)).astype(float)
