"""``suggest_frames``: which frames to label next, by one of five strategies.

Example::

    from napari_superanimal.suggest import compute_thumbnails, suggest_frames
    thumbs = compute_thumbnails(video.frames)
    suggest_frames(poses, labeled=[3, 40], n=20, thumbnails=thumbs)   # combined, best first
    suggest_frames(poses, labeled=[3, 40], n=20, strategy="jumps")
"""

from __future__ import annotations

import numpy as np

from .combined import combined_ranking
from .confidence import confidence_scores
from .diversity import diversity_ranking
from .jumps import jump_scores
from .robust import SuggestError, check_predictions, labeled_mask
from .swaps import swap_scores, untangled
from .thumbnails import Thumbnails

STRATEGIES = ("combined", "confidence", "jumps", "swaps", "diversity", "uniform")


def suggest_frames(
    predictions: np.ndarray | None,
    labeled=None,
    n: int = 20,
    strategy: str = "combined",
    thumbnails: Thumbnails | None = None,
    seed: int = 0,
) -> np.ndarray:
    """Frame indices to label next, best first; labeled frames are never suggested.

    Parameters
    ----------
    predictions
        ``(T, K, 3)`` x, y, likelihood of the active model (NaN rows: frame not predicted),
        or ``(T, A, K, 3)`` for several animals, as ``Session.all_predictions()`` returns;
        None when there is no model yet.
    labeled
        Frames that already carry labels (indices, or a ``(T,)`` bool mask).
    n
        How many frames to suggest at most.
    strategy
        ``combined`` (default; see :mod:`.combined` for how the signals combine),
        ``confidence`` (lowest mean likelihood first, :mod:`.confidence`), ``jumps`` (keypoint
        speed outliers first, :mod:`.jumps`), ``swaps`` (likely identity swaps first, for
        several animals, :mod:`.swaps`), ``diversity`` (round-robin over clusters of
        look-alike frames, :mod:`.diversity`; needs ``thumbnails``) or ``uniform`` (evenly
        spaced over the unlabeled frames, in time order: the baseline).
    thumbnails
        From :func:`~.thumbnails.compute_thumbnails`; needed by ``diversity``, used by
        ``combined`` to cover different kinds of image.

    What comes back: ``combined`` and ``uniform`` always return ``min(n, unlabeled frames)``
    frames. ``confidence`` and ``jumps`` rank predicted frames only, and raise
    :class:`SuggestError` when no frame is predicted (``combined`` then falls back to
    diversity and even spacing). ``diversity`` ranks frames that have a thumbnail only.
    """
    if strategy not in STRATEGIES:
        raise SuggestError(f"unknown strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}")
    if int(n) != n or n < 0:
        raise SuggestError(f"n must be a whole number >= 0, got {n!r}")
    n = int(n)
    swaps = None
    if predictions is not None:
        if np.ndim(predictions) == 4 and np.shape(predictions)[1] > 1:
            swaps = swap_scores(predictions)
            predictions = untangled(predictions)  # a swap is a swap, not a jump
        predictions = check_predictions(predictions)
        n_frames = len(predictions)
    elif thumbnails is not None:
        n_frames = thumbnails.n_frames
    else:
        raise SuggestError("suggestions need predictions, thumbnails, or both")
    if thumbnails is not None and thumbnails.n_frames != n_frames:
        raise SuggestError(
            f"thumbnails are of a {thumbnails.n_frames}-frame video, predictions of {n_frames}"
        )
    mask = labeled_mask(labeled, n_frames)
    if strategy == "combined":
        return combined_ranking(
            predictions, mask, n, thumbnails, n_frames=n_frames, seed=seed, swaps=swaps
        )
    if strategy == "uniform":
        free = np.flatnonzero(~mask)
        count = min(n, len(free))
        if count == 0:
            return np.empty(0, np.int64)
        return free[np.round(np.linspace(0, len(free) - 1, count)).astype(np.int64)]
    if strategy == "diversity":
        if thumbnails is None:
            raise SuggestError(
                "the diversity strategy needs thumbnails: pass compute_thumbnails(frames)"
            )
        return diversity_ranking(thumbnails, mask, n_clusters=max(2, n), seed=seed)[:n]
    if predictions is None:
        raise SuggestError(f"the {strategy} strategy needs predictions")
    if strategy == "swaps":
        if swaps is None:
            raise SuggestError("the swaps strategy needs predictions of several animals")
        scores = swaps
    else:
        scores = (confidence_scores if strategy == "confidence" else jump_scores)(predictions)
    candidates = np.flatnonzero(np.isfinite(scores) & ~mask)
    if not np.isfinite(scores).any():
        raise SuggestError(
            f"the {strategy} strategy needs predictions, and no frame is predicted yet"
        )
    order = np.argsort(-scores[candidates], kind="stable")  # ties: earlier frame first
    return candidates[order][:n].astype(np.int64)
