"""Low model confidence: frames whose keypoints the model is least sure of.

A frame's confidence is the mean likelihood of its predicted keypoints (the curve the
timeline dock plots); its suggestion score is ``1 - confidence``. The mean (rather than the
minimum) keeps one keypoint that is legitimately hard everywhere (a tail tip) from making every
frame look equally bad, while a frame where several keypoints drop still stands out.

Example::

    import numpy as np
    from napari_superanimal.suggest.confidence import frame_confidence, confidence_scores
    poses = np.zeros((3, 2, 3)); poses[..., 2] = [[0.9, 0.9], [0.2, 0.4], [np.nan, np.nan]]
    frame_confidence(poses)     # [0.9, 0.3, nan]: frame 2 was never predicted
    confidence_scores(poses)    # [0.1, 0.7, nan]: higher means "label me"
"""

from __future__ import annotations

import numpy as np

from .robust import check_predictions, quiet_nan_warnings


def frame_confidence(predictions: np.ndarray) -> np.ndarray:
    """``(T,)`` mean likelihood over each frame's predicted keypoints; NaN if none predicted.

    Likelihoods are clipped to [0, 1] (heatmap peaks can overshoot slightly).
    """
    poses = check_predictions(predictions)
    with quiet_nan_warnings():
        return np.nanmean(np.clip(poses[:, :, 2], 0.0, 1.0), axis=1)


def confidence_scores(predictions: np.ndarray) -> np.ndarray:
    """``(T,)`` ``1 - mean likelihood``: high for frames to label first; NaN if not predicted."""
    return 1.0 - frame_confidence(predictions)
