"""Training targets as DeepLabCut builds them for heatmap heads.

Each visible keypoint gets a Gaussian heatmap ``exp(-d^2 / (2 sigma^2))`` evaluated at the
centres of the head's cells (``col * stride + stride / 2``), with ``sigma = 2/3 * 17`` input
pixels (DeepLabCut's ``pos_dist_thresh`` of 17 read as a radius). Keypoints that are hidden,
missing or outside the input get weight 0, so they neither pull nor push the loss.

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
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(N, K, 2)`` input-pixel keypoints and ``(N, K)`` visibility -> heatmaps ``(N, K, h, w)``
    and weights ``(N, K)``."""
    keypoints = np.asarray(keypoints, np.float32)
    h, w = shape
    sigma = 2.0 * dist_thresh / 3.0
    ys = (np.arange(h, dtype=np.float32) * stride + stride / 2)[None, None, :, None]
    xs = (np.arange(w, dtype=np.float32) * stride + stride / 2)[None, None, None, :]
    kx = np.nan_to_num(keypoints[..., 0])[..., None, None]
    ky = np.nan_to_num(keypoints[..., 1])[..., None, None]
    d2 = (xs - kx) ** 2 + (ys - ky) ** 2
    heatmaps = np.exp(-d2 / (2 * sigma**2)).astype(np.float32)
    inside = (
        np.isfinite(keypoints).all(-1)
        & (keypoints[..., 0] >= 0)
        & (keypoints[..., 0] < w * stride)
        & (keypoints[..., 1] >= 0)
        & (keypoints[..., 1] < h * stride)
    )
    weights = (np.asarray(visible, bool) & inside).astype(np.float32)
    heatmaps *= weights[..., None, None]
    return torch.from_numpy(heatmaps), torch.from_numpy(weights)


def weighted_mse(pred: torch.Tensor, target: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Mean squared error over the heatmaps of keypoints with weight > 0."""
    per_map = ((pred - target) ** 2).mean(dim=(-2, -1))
    return (per_map * weights).sum() / weights.sum().clamp(min=1.0)
