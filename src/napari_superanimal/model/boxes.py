"""Where the animal is, frame by frame, for top-down pose: the box sources.

A top-down model sees a 256x256 crop around the animal. On single-animal video the box can come
from a detector (:class:`DetectorBoxes`), from a fixed region the user drew (:class:`RoiBoxes`),
or from the previous frame's confident keypoints (:class:`TrackedBoxes`, seeded by either of the
others, which it falls back to when the animal is lost). Boxes are ``x, y, w, h`` in frame
pixels; a NaN row means "no animal here" and gives NaN keypoints with score 0.

Example::

    from napari_superanimal.model.boxes import RoiBoxes, TrackedBoxes
    poses = model.predict_video(video, boxes=TrackedBoxes(RoiBoxes((100, 80, 200, 200))))
"""

from __future__ import annotations

import numpy as np

from .preprocess import crop_corners

BOX_MARGIN = 20.0  # px added to each side of the box around an animal's points
MIN_POINTS = 2  # points an animal needs on a frame for a box around them


class BoxSource:
    """Gives one box per frame; ``sequential`` sources need each frame's keypoints in turn."""

    sequential = False

    def boxes(self, frames: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def update(self, keypoints: np.ndarray) -> None:
        """Called with the ``(N, K, 3)`` keypoints predicted in the last :meth:`boxes` crops."""

    def restart(self) -> None:
        """The next frame does not follow the last one (a sequential source starts afresh)."""

    def seek(self, index: int) -> None:
        """The next :meth:`boxes` call is for frame ``index`` of the video (sources that know
        boxes on given frames use it)."""


class RoiBoxes(BoxSource):
    """The same box on every frame (a region the user drew around the arena or the animal)."""

    def __init__(self, box):
        self.box = np.asarray(box, dtype=np.float64).reshape(4)
        if not (np.isfinite(self.box).all() and self.box[2] > 0 and self.box[3] > 0):
            raise ValueError(
                f"a region needs a finite x, y and a positive width and height, "
                f"got {tuple(self.box)}"
            )

    def boxes(self, frames: np.ndarray) -> np.ndarray:
        return np.repeat(self.box[None], len(frames), axis=0)


class DetectorBoxes(BoxSource):
    """The detector's best box on each frame."""

    def __init__(self, detector):
        self.detector = detector

    def boxes(self, frames: np.ndarray) -> np.ndarray:
        return self.detector.best_boxes(frames)


class TrackedBoxes(BoxSource):
    """The box around the previous frame's confident keypoints, grown by ``margin`` of its size.

    The first frame, and any frame after one with fewer than ``min_keypoints`` keypoints scoring
    at least ``min_score`` (or with all of them within a pixel of one spot: a box around them
    would crop to no pixel), takes its box from ``seed`` (a detector or a region).
    """

    sequential = True

    def __init__(
        self, seed: BoxSource, min_score: float = 0.5, margin: float = 0.25, min_keypoints: int = 2
    ):
        self.seed = seed
        self.min_score = min_score
        self.margin = margin
        self.min_keypoints = min_keypoints
        self.last: np.ndarray | None = None

    def boxes(self, frames: np.ndarray) -> np.ndarray:
        if len(frames) != 1:
            raise ValueError("a tracked box source runs one frame at a time")
        if self.last is None:
            return self.seed.boxes(frames)
        return self.last[None].copy()

    def restart(self) -> None:
        self.last = None

    def update(self, keypoints: np.ndarray) -> None:
        pts = keypoints[-1]
        good = pts[np.isfinite(pts[:, :2]).all(axis=1) & (pts[:, 2] >= self.min_score), :2]
        if len(good) < self.min_keypoints:
            self.last = None
            return
        (x0, y0), (x1, y1) = good.min(axis=0), good.max(axis=0)
        if max(x1 - x0, y1 - y0) < 1.0:  # all on one spot: no animal is that small, it is lost
            self.last = None
            return
        side = max(x1 - x0, y1 - y0)
        pad = self.margin * side
        self.last = np.array([x0 - pad, y0 - pad, x1 - x0 + 2 * pad, y1 - y0 + 2 * pad])


def animal_box(points: np.ndarray, size: tuple[int, int]) -> tuple[float, ...] | None:
    """``(x, y, w, h)`` around ``(K, 2)`` points (NaN: none) plus :data:`BOX_MARGIN`, kept in
    the ``(height, width)`` frame; None with fewer than :data:`MIN_POINTS` points (or a box
    too thin to crop)."""
    placed = points[np.isfinite(points).all(axis=1)]
    if len(placed) < MIN_POINTS:
        return None
    height, width = size
    x1, y1 = np.maximum(placed.min(axis=0) - BOX_MARGIN, 0)
    x2, y2 = np.minimum(placed.max(axis=0) + BOX_MARGIN, (width - 1, height - 1))
    box = (float(x1), float(y1), float(max(x2 - x1, 1.0)), float(max(y2 - y1, 1.0)))
    return box if crop_corners(box) is not None else None  # DeepLabCut's 256x256 crop


def sure_box(pose: np.ndarray, threshold: float, size: tuple[int, int]) -> tuple[float, ...] | None:
    """:func:`animal_box` around the keypoints of ``pose`` (``(K, 3)`` x, y, score) scoring at
    least ``threshold``."""
    sure = pose[:, 2] >= threshold
    return animal_box(np.where(sure[:, None], pose[:, :2], np.nan), size)
