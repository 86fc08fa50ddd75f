"""Where a keypoint can be, given where the animal's other keypoints are.

A network trained on a few labels has no clear peak for a keypoint it rarely saw (a tongue out
on 6 of 20 labeled frames): the argmax of a flat heatmap lands anywhere, hundreds of pixels from
the animal. :class:`Layout` keeps, for each pair of keypoints, the mean and spread of their
offset and of their distance in the user's labels (frame pixels). A keypoint whose own peak is
weak (below :data:`UNSURE`) is then looked for where the sure keypoints place it: its heatmap
weighted by a Gaussian around each sure keypoint's mean offset to it, where the labels keep
that direction (a head-fixed animal, a fixed joystick; a mouse that turns in an open field keeps
only distances, which give no place: those pairs are left out), as wide as the labels' spread
and at least :data:`FLOOR` of the animal's size. Only a weak peak farther than 3 such widths
from where the sure keypoints place it is moved; a sure keypoint keeps its own peak, and a moved
one keeps its heatmap's value there as its score: it goes where it can be, never made sure.

Models trained in the project carry the layout of their training labels in their version's
info; SuperAnimal models keep DeepLabCut's decoding.

Example::

    layout = fit_layout(labels)               # (frames, K, 2) frame pixels, NaN = unlabeled
    layout.refine(heatmaps, keypoints, stride=4, frame_size=(480, 640), scale=0.5)
    Layout.from_dict(layout.to_dict()) == layout
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

UNSURE = 0.3  # a raw peak below this is not trusted where it is, nor used to place others
FLOOR = 0.1  # the prior's width is at least this share of the animal's size
PLAUSIBLE = -0.5 * 3.0**2  # a peak within 3 widths of where the others place it stays
MIN_PAIRS = 2  # frames on which both keypoints are labeled, for their offset to count


@dataclass(frozen=True)
class Layout:
    """Offsets between keypoints in the labels (frame pixels), over the ``count[j][k]`` frames
    where both keypoints j and k are labeled: ``mean[j][k]`` and ``spread[j][k]`` are the mean
    and standard deviation (x, y) of k's position minus j's, ``distance_spread[j][k]`` the
    standard deviation of their distance; ``size`` is the animal's median extent."""

    mean: tuple
    spread: tuple
    distance_spread: tuple
    count: tuple
    size: float

    def to_dict(self) -> dict:
        return {name: _plain(getattr(self, name)) for name in self.__dataclass_fields__}

    @classmethod
    def from_dict(cls, record: dict | None) -> Layout | None:
        if not record:
            return None
        return cls(**{name: _frozen(record[name]) for name in cls.__dataclass_fields__})

    def holds(self, j: int, i: int) -> bool:
        """Whether the labels keep keypoint i in one direction from j: their offset varies
        little more than their distance (an animal that keeps its orientation, a fixed
        camera, a fixed joystick), not around a ring (an animal that turns)."""
        if self.count[j][i] < MIN_PAIRS:
            return False
        return bool(np.hypot(*self.spread[j][i]) <= 2 * self.distance_spread[j][i] + self.floor)

    @property
    def floor(self) -> float:
        return FLOOR * self.size

    def log_prior(self, i: int, j: int, at: np.ndarray, xs: np.ndarray, ys: np.ndarray):
        """Log-likelihood ``(len(ys), len(xs))`` of keypoint ``i`` on each cell, keypoint ``j``
        being at ``at`` (x, y): a Gaussian around j's mean offset to it."""
        sx, sy = self.spread[j][i]
        mx, my = np.asarray(at) + self.mean[j][i]
        gx = ((xs - mx) ** 2 / (sx**2 + self.floor**2))[None, :]
        gy = ((ys - my) ** 2 / (sy**2 + self.floor**2))[:, None]
        return -0.5 * (gx + gy)

    def refine(
        self,
        heatmaps: np.ndarray,
        keypoints: np.ndarray,
        stride: float,
        frame_size: tuple[int, int],
        scale: float = 1.0,
    ) -> np.ndarray:
        """``keypoints`` ``(N, K, 3)`` (input pixels, raw scores, as decoded from
        ``heatmaps`` ``(N, K, h, w)`` at ``stride``) with each unsure keypoint moved to its
        heatmap's best cell on the frame near where the sure ones place it. ``frame_size``
        (height, width) and ``scale`` map input pixels to frame pixels
        (:func:`~.preprocess.input_to_frame`); cells past the frame resized by ``scale`` are
        padding."""
        # here, not at the top: a project's versions read their layout without PyTorch
        import torch

        from .decode import cells_inside, quadratic_offsets
        from .preprocess import input_to_frame, scaled_size

        out = np.array(keypoints, np.float32, copy=True)
        h, w = heatmaps.shape[-2:]
        extent = scaled_size(*frame_size, scale)
        rows, cols = cells_inside(extent, (h, w), (stride, stride))
        # cell centres and keypoints in frame pixels, where the layout's offsets are
        centres = np.arange(max(rows, cols)) * stride + stride / 2
        grid = input_to_frame(np.column_stack([centres, centres]), frame_size, scale)
        xs, ys = grid[:cols, 0], grid[:rows, 1]
        in_frame = input_to_frame(out.astype(np.float64), frame_size, scale)
        for f, points in enumerate(in_frame):
            sure = np.isfinite(points[:, :2]).all(1) & (points[:, 2] >= UNSURE)
            for i in np.flatnonzero(~sure & np.isfinite(points[:, 2])):
                anchors = [j for j in np.flatnonzero(sure) if self.holds(j, i)]
                if not anchors:
                    continue
                log = sum(self.log_prior(i, j, points[j, :2], xs, ys) for j in anchors)
                log = log - log.max()
                at = _cell(points[i, :2], xs, ys)
                if at is not None and log[at] >= PLAUSIBLE:
                    continue  # where the animal can put it: its own peak stands
                heat = heatmaps[f, i, :rows, :cols]
                weighted = np.clip(heat, 0, None) * np.exp(log)
                r, c = np.unravel_index(np.argmax(weighted), heat.shape)
                one = torch.from_numpy(np.ascontiguousarray(heat[None, None], np.float32))
                dx, dy = quadratic_offsets(one, torch.tensor([[r]]), torch.tensor([[c]]))
                out[f, i] = (
                    (c + float(dx) + 0.5) * stride,
                    (r + float(dy) + 0.5) * stride,
                    float(np.clip(heat[r, c], 0.0, 1.0)),
                )
        return out


def fit_layout(labels) -> Layout | None:
    """The :class:`Layout` of ``labels`` ``(frames, K, 2)`` in frame pixels (NaN: not
    labeled), or None when no two keypoints are labeled together on two frames."""
    labels = np.asarray(labels, np.float64)
    if labels.ndim != 3 or not len(labels):
        return None
    _, k, _ = labels.shape
    known = np.isfinite(labels).all(-1)
    mean, spread = np.zeros((k, k, 2)), np.zeros((k, k, 2))
    distance_spread = np.zeros((k, k))
    count = (known[:, :, None] & known[:, None, :]).sum(0)
    np.fill_diagonal(count, 0)
    for j in range(k):
        for i in range(k):
            both = known[:, j] & known[:, i]
            if i != j and both.sum() >= MIN_PAIRS:
                offsets = labels[both, i] - labels[both, j]
                mean[j, i], spread[j, i] = offsets.mean(0), offsets.std(0, ddof=1)
                distance_spread[j, i] = np.hypot(*offsets.T).std(ddof=1)
    if not (count >= MIN_PAIRS).any():
        return None
    extents = [
        np.ptp(f[ok], axis=0).max() for f, ok in zip(labels, known, strict=True) if ok.sum() >= 2
    ]
    fields = (mean, spread, distance_spread, count)
    return Layout(*(_frozen(a) for a in fields), float(np.median(extents)))


def _cell(xy: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> tuple[int, int] | None:
    """The (row, column) of the cell whose centre is nearest ``xy``, if it is finite."""
    if not np.isfinite(xy).all():
        return None
    return int(np.abs(ys - xy[1]).argmin()), int(np.abs(xs - xy[0]).argmin())


def _plain(values):
    """A nested list of a nested tuple (JSON)."""
    return [_plain(v) for v in values] if isinstance(values, tuple) else values


def _frozen(values) -> tuple:
    """A nested tuple (hashable, comparable) of a nested list or array."""
    if isinstance(values, (list, tuple, np.ndarray)):
        return tuple(_frozen(v) for v in values)
    if isinstance(values, (int, np.integer)):
        return int(values)
    return float(values)
