"""Heatmaps to keypoints, as DeepLabCut's heatmap predictor does it.

For each keypoint: the flat argmax of its heatmap (the first maximum on ties, in row-major
order), ``x = col * stride_x + stride_x / 2`` and ``y = row * stride_y + stride_y / 2`` in input
pixels, plus, for models with location refinement (ResNet-50), the refinement field's
``(dx, dy)`` at the peak cell times ``locref_std``; and the score = the heatmap value at the peak
clipped to [0, 1]. With ``extent`` (the frame's size in input pixels, before padding) only the
cells whose centre lies on the frame compete for the peak: a model trained here never places a
keypoint in the padding (DeepLabCut's argmax takes the whole padded input: SuperAnimal models
keep it). Optional sub-pixel
refinement (off by default, so default outputs stay identical to DeepLabCut's) moves the peak by
a quadratic fit through its neighbours.

Example::

    import torch
    from napari_superanimal.model.decode import decode_heatmaps
    hm = torch.zeros(1, 2, 8, 8); hm[0, 0, 3, 5] = 0.9; hm[0, 1, 7, 0] = 2.0
    decode_heatmaps(hm, stride=4)   # [[[22., 14., 0.9], [2., 30., 1.0]]]
"""

from __future__ import annotations

import math

import numpy as np
import torch


def decode_heatmaps(
    heatmaps: torch.Tensor,
    stride: float | tuple[float, float],
    subpixel: bool = False,
    locref: torch.Tensor | None = None,
    locref_std: float = 7.2801,
    extent: tuple[int, int] | None = None,
) -> torch.Tensor:
    """``(N, K, h, w)`` heatmaps -> ``(N, K, 3)`` rows of ``x, y, score`` in input pixels.

    ``stride`` is input pixels per heatmap cell, one number or ``(stride_y, stride_x)``.
    ``locref`` is ``(N, 2K, h, w)``: channel ``2k`` holds keypoint k's dx, ``2k + 1`` its dy.
    ``extent`` ``(height, width)``: peaks only where cell centres fall inside it.
    """
    if heatmaps.ndim != 4:
        raise ValueError(f"heatmaps must be (N, K, h, w), got {tuple(heatmaps.shape)}")
    sy, sx = (stride, stride) if isinstance(stride, int | float) else stride
    n, k, h, w = heatmaps.shape
    # The search over every cell runs in NumPy, on one thread: PyTorch's thread pool would wake
    # for it and keep spinning, taking a core from ONNX Runtime's next run (1.3x slower here)
    peaks = heatmaps.detach().cpu().numpy()
    if extent is not None:
        rows_in, cols_in = cells_inside(extent, (h, w), (sy, sx))
        peaks = peaks.copy()
        peaks[:, :, rows_in:] = -np.inf
        peaks[:, :, :, cols_in:] = -np.inf
    flat = peaks.reshape(n, k, h * w)
    index = torch.from_numpy(flat.argmax(axis=-1)).to(heatmaps.device)  # the first maximum
    peak = heatmaps.reshape(n, k, h * w).gather(-1, index[..., None])[..., 0]
    rows = torch.div(index, w, rounding_mode="floor")
    cols = index - rows * w
    x = cols.to(heatmaps.dtype)
    y = rows.to(heatmaps.dtype)
    if subpixel:
        dx, dy = quadratic_offsets(heatmaps, rows, cols)
        x, y = x + dx, y + dy
    x = x * sx + 0.5 * sx
    y = y * sy + 0.5 * sy
    if extent is not None and subpixel:  # the refinement stays on the frame too
        x, y = x.clamp(0, extent[1]), y.clamp(0, extent[0])
    if locref is not None:
        if locref.shape != (n, 2 * k, h, w):
            raise ValueError(f"locref must be {(n, 2 * k, h, w)}, got {tuple(locref.shape)}")
        at_peak = locref.reshape(n, k, 2, h * w).gather(
            -1, index[:, :, None, None].expand(n, k, 2, 1)
        )[..., 0]
        x = x + at_peak[..., 0].to(x.dtype) * locref_std
        y = y + at_peak[..., 1].to(y.dtype) * locref_std
    return torch.stack([x, y, peak.clamp(0.0, 1.0)], dim=-1)


def cells_inside(
    extent: tuple[int, int], shape: tuple[int, int], stride: tuple[float, float]
) -> tuple[int, int]:
    """How many rows and columns of a heatmap of ``shape`` (h, w) at ``stride`` (y, x) have
    their centre (``r * stride + stride / 2``) inside ``extent`` (height, width); at least one."""
    rows = max(1, min(shape[0], math.ceil(extent[0] / stride[0] - 0.5)))
    cols = max(1, min(shape[1], math.ceil(extent[1] / stride[1] - 0.5)))
    return rows, cols


def quadratic_offsets(heatmaps: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor):
    """Sub-cell offsets ``(dx, dy)`` in [-0.5, 0.5] of each ``(N, K)`` peak at ``rows``,
    ``cols`` of ``heatmaps`` ``(N, K, h, w)``, from a parabola through it and its neighbours
    (0 at the heatmap's border)."""
    n, k, h, w = heatmaps.shape
    bi = torch.arange(n, device=heatmaps.device)[:, None].expand(n, k)
    ki = torch.arange(k, device=heatmaps.device)[None, :].expand(n, k)

    def at(r, c):
        return heatmaps[bi, ki, r.clamp(0, h - 1), c.clamp(0, w - 1)]

    centre = at(rows, cols)
    left, right = at(rows, cols - 1), at(rows, cols + 1)
    up, down = at(rows - 1, cols), at(rows + 1, cols)
    dx = _vertex(left, centre, right) * ((cols > 0) & (cols < w - 1))
    dy = _vertex(up, centre, down) * ((rows > 0) & (rows < h - 1))
    return dx, dy


def _vertex(a: torch.Tensor, b: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    denom = a - 2 * b + c
    offset = torch.where(denom.abs() > 1e-12, 0.5 * (a - c) / denom, torch.zeros_like(denom))
    return offset.clamp(-0.5, 0.5)
