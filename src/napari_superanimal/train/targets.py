"""Training targets as DeepLabCut builds them for heatmap heads.

Each visible keypoint gets a Gaussian heatmap ``exp(-d^2 / (2 sigma^2))`` evaluated at the
centres of the head's cells (``col * stride + stride / 2``), with ``sigma = 2/3 * 17`` input
pixels (DeepLabCut's ``pos_dist_thresh`` of 17 read as a radius). A known keypoint outside the
input still has weight 1: its heatmap is the Gaussian's tail, nothing where it is far, which
teaches the network that the wall, a caption or the padding it sees is "not here". A keypoint
the user hid on the frame is nowhere: an empty heatmap with weight 1. Unknown keypoints (no
coordinates, not hidden) get weight 0, so they neither pull nor push the loss.

Example::

    heatmaps, weights = gaussian_targets(keypoints, visible, (64, 64), stride=4)
"""

from __future__ import annotations

import numpy as np
import torch

POS_DIST_THRESH = 17.0


def gaussian_targets(
    keypoints: np.ndarray,
    visible: np.ndarray,
    shape: tuple[int, int],
    stride: float,
    dist_thresh: float = POS_DIST_THRESH,
    absent: np.ndarray | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(N, K, 2)`` input-pixel keypoints and ``(N, K)`` visibility -> heatmaps ``(N, K, h, w)``
    and weights ``(N, K)``; ``absent`` ``(N, K)``: hidden keypoints (empty maps, weight 1)."""
    keypoints = np.asarray(keypoints, np.float32)
    h, w = shape
    sigma = 2.0 * dist_thresh / 3.0
    ys = (np.arange(h, dtype=np.float32) * stride + stride / 2)[None, None, :, None]
    xs = (np.arange(w, dtype=np.float32) * stride + stride / 2)[None, None, None, :]
    kx = np.nan_to_num(keypoints[..., 0])[..., None, None]
    ky = np.nan_to_num(keypoints[..., 1])[..., None, None]
    d2 = (xs - kx) ** 2 + (ys - ky) ** 2
    heatmaps = np.exp(-d2 / (2 * sigma**2)).astype(np.float32)
    known = np.isfinite(keypoints).all(-1)
    weights = (np.asarray(visible, bool) & known).astype(np.float32)
    heatmaps *= weights[..., None, None]
    if absent is not None:
        weights = np.maximum(weights, np.asarray(absent, bool).astype(np.float32))
    return torch.from_numpy(heatmaps), torch.from_numpy(weights)


def weighted_mse(pred: torch.Tensor, target: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Mean squared error over the heatmaps of keypoints with weight > 0."""
    per_map = ((pred - target) ** 2).mean(dim=(-2, -1))
    return (per_map * weights).sum() / weights.sum().clamp(min=1.0)
