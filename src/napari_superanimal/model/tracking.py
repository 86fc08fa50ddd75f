"""Following animals from frame to frame, so the detector rarely runs.

DeepLabCut runs its SuperAnimal detector on every frame (Faster R-CNN ResNet-50: about 7 s a
frame on a 2-core CPU, 20-50x the pose network's crop). :class:`Tracks` runs it on the first
frame, then every ``every`` frames, and on the next frame whenever an animal it follows is unsure
(fewer than ``min_keypoints`` keypoints scoring ``min_score``), jumps (the middle of its
keypoints moved more than :data:`MAX_STEP` of its box's larger side since the frame before),
comes close to another (their boxes overlap by more than :data:`CROSSING_IOU`: a crop then
holds both, and a box that follows keypoints can slide onto the other animal) or would leave the
frame (its box no longer overlaps the image). In between, each animal's box keeps the size the
detector gave it and sits where its keypoints are: on the middle (median) of its confident
keypoints, offset as it was from them on the frame the detector ran. A median and a position,
not a sum of steps: a keypoint that flickers onto the other animal does not drag the box, and no
error adds up from frame to frame. With ``every=1`` every frame takes the detector's boxes,
exactly as DeepLabCut does.

When the detector runs, its boxes (the ``n_animals`` best that a crop can hold) are matched to
the animals followed so far, so identities carry over: first by overlap with each animal's
expected box (Hungarian assignment on 1 - IoU, pairs overlapping at least ``MIN_IOU``), then
the rest by distance between box centres; a detection left over takes a free slot; an animal
no detection claims is lost (NaN box: no animal there) until a detection does.

Without a detector (a species SuperAnimal has none for, a network trained here on its
animals' crops) the boxes come from ``seeds``: on the frames where the animals are known (a box
the user drew, or the extent of their labels), one row per animal, in the animals' order. Each
seeded animal is followed from there as above; where the detector would run, each box stays
where it was expected, and an animal whose box leaves the frame is lost until a seed finds it
again. A run that starts on a frame without a seed has no animal until it reaches one: start it
on a seed (:meth:`Session.predict <napari_superanimal.session.Session.predict>` takes the
nearest frame where the animals are known).

Example::

    from napari_superanimal.model.tracking import Tracks
    tracks = Tracks(detector, n_animals=3, every=10)
    poses = model.predict_animals(video, boxes=tracks)   # (T, 3, K, 3), identities kept
    tracks.detections                                    # frames that ran the detector
    seeded = Tracks(None, n_animals=2, seeds={40: boxes})  # boxes (2, 4) known on frame 40
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

from ..zoo.registry import DETECT_EVERY
from .boxes import BoxSource
from .preprocess import crop_corners

MIN_IOU = 0.1  # a detection overlapping an animal's expected box less than this is matched
# by distance, after the overlapping ones
MAX_STEP = 0.5  # a step longer than this share of the box's larger side is a jump, not motion
CROSSING_IOU = 0.2  # two boxes overlapping more than this: the detector looks again (measured
# on the crossing mice of benchmarks/bench_crossing.py: 0.3 left 4 switches that every frame does
# not make within 2 frames, against 2; 0.4 lost identities for good)


class Tracks(BoxSource):
    """Boxes ``(n_animals, 4)`` x, y, w, h for one frame at a time, the same animal in the same
    row on every frame (NaN rows: no animal); see the module docstring."""

    sequential = True

    def __init__(
        self,
        detector,
        n_animals: int = 1,
        every: int = DETECT_EVERY,
        min_score: float = 0.5,
        min_keypoints: int = 2,
        seeds: dict[int, np.ndarray] | None = None,
    ):
        if n_animals < 1 or every < 1:
            raise ValueError(f"n_animals and every must be at least 1, got {n_animals}, {every}")
        self.seeds = {int(f): _seed_rows(b, n_animals) for f, b in (seeds or {}).items()}
        if detector is None and not self.seeds:
            raise ValueError("tracks without a detector need seeds: boxes on a known frame")
        self.detector = detector
        self.n_animals = int(n_animals)
        self.every = int(every)
        self.min_score = min_score
        self.min_keypoints = min_keypoints
        self.origin = np.full((self.n_animals, 4), np.nan)  # each animal's last detection
        self.moved = np.zeros((self.n_animals, 2))  # how far it moved since then
        self.offset = np.zeros((self.n_animals, 2))  # box centre - keypoints' middle, then
        self._last: list[np.ndarray | None] = [None] * self.n_animals  # keypoints' middle
        self._since: int | None = None  # frames since the detector ran (None: run it next)
        self._detected = False  # the detector ran on the frame now being predicted
        self.detections = 0  # frames on which the detector ran
        self.frames = 0
        self._index: int | None = None  # the frame the next boxes are for, when told

    def seek(self, index: int) -> None:
        self._index = int(index)

    def restart(self) -> None:
        """The next frame does not follow the last one: run the detector on it."""
        self._since = None
        self._last = [None] * self.n_animals

    def boxes(self, frames: np.ndarray) -> np.ndarray:
        if len(frames) != 1:
            raise ValueError("tracks follow one frame at a time")
        self.frames += 1
        seed = self.seeds.get(self._index) if self._index is not None else None
        if seed is not None:  # the animals are known here: start from them
            self._seed(seed)
            return self.origin.copy()
        if self.detector is None:
            return self._follow_unseen(frames)
        self._detected = self._since is None or self._since + 1 >= self.every
        if self._detected:
            self._detect(frames)
            self._since = 0
            return self.origin.copy()
        self._since += 1
        box = self.expected()
        if _outside(box, frames).any():  # an animal would leave the frame: lost, look again
            self._detected = True
            self._detect(frames)
            self._since = 0
            return self.origin.copy()
        return box

    def expected(self) -> np.ndarray:
        """Each animal's box on the next frame: where its keypoints were on this one."""
        box = self.origin.copy()
        box[:, :2] += self.moved
        return box

    def update(self, keypoints: np.ndarray) -> None:
        """The keypoints ``(n_animals, K, 3)`` predicted in this frame's boxes."""
        for i, pts in enumerate(np.asarray(keypoints).reshape(self.n_animals, -1, 3)):
            if not np.isfinite(self.origin[i]).all():
                self._last[i] = None
                continue
            sure = np.isfinite(pts[:, :2]).all(axis=1) & (pts[:, 2] >= self.min_score)
            if sure.sum() < self.min_keypoints:
                self._since = None  # unsure: ask the detector on the next frame
                self._last[i] = None
                continue
            middle = np.median(pts[sure, :2], axis=0)
            centre = self.origin[i, :2] + self.origin[i, 2:] / 2
            if self._detected:  # a detection frame's box is where the animal is
                self.offset[i] = centre - middle
                self._last[i] = middle
                continue
            before, limit = self._last[i], MAX_STEP * self.origin[i, 2:].max()
            if before is not None and np.abs(middle - before).max() > limit:
                self._since = None  # a jump, not motion: ask the detector on the next frame
                self._last[i] = None
                continue
            self.moved[i] = middle + self.offset[i] - centre
            self._last[i] = middle
        if self.detector is not None and self._since is not None and _crossing(self.expected()):
            self._since = None  # two animals close: ask the detector on the next frame

    # -- frames where the animals are known, or looked for --------------------------------
    def _seed(self, seed: np.ndarray) -> None:
        known = np.isfinite(seed).all(axis=1)
        self.origin[:] = np.where(known[:, None], seed, self.expected())
        self.moved[:] = 0
        for i in np.flatnonzero(known):
            self._last[i] = None
        self._detected, self._since = True, 0

    def _follow_unseen(self, frames: np.ndarray) -> np.ndarray:
        """Without a detector: every box where it is expected; gone once it leaves the frame."""
        self._detected = False
        box = self.expected()
        outside = _outside(box, frames)
        if self._since is None or outside.any():  # unsure, a jump or lost: box stays put
            self.origin[:] = np.where(outside[:, None], np.nan, box)
            self.moved[:] = 0
            self._since = 0
            self._detected = True  # the box is where the animal is taken to be now
            return self.origin.copy()
        self._since += 1
        return box

    def _detect(self, frames: np.ndarray) -> None:
        self.detections += 1
        ((found, _scores),) = self.detector.detect(frames, max_animals=self.n_animals)
        found = [b for b in found if crop_corners(b) is not None][: self.n_animals]
        slots = assign(self.expected(), np.asarray(found).reshape(-1, 4))
        self.origin[:] = np.nan
        self.moved[:] = 0
        for i, j in enumerate(slots):
            if np.isnan(j):
                self._last[i] = None
            else:
                self.origin[i] = found[int(j)]


def _outside(boxes: np.ndarray, frames: np.ndarray) -> np.ndarray:
    """Which boxes no longer overlap the frames' image (NaN rows: no)."""
    height, width = frames.shape[1:3]
    x, y, w, h = boxes.T
    return (x + w <= 0) | (y + h <= 0) | (x >= width) | (y >= height)


def _crossing(boxes: np.ndarray) -> bool:
    """Whether two of ``boxes`` (NaN rows: none) overlap more than :data:`CROSSING_IOU`."""
    known = boxes[np.isfinite(boxes).all(axis=1)]
    if len(known) < 2:
        return False
    overlap = iou(known, known)
    np.fill_diagonal(overlap, 0.0)
    return bool(overlap.max() > CROSSING_IOU)


def _seed_rows(boxes, n_animals: int) -> np.ndarray:
    rows = np.asarray(boxes, np.float64).reshape(-1, 4)
    if len(rows) != n_animals:
        raise ValueError(f"seed boxes need one row per animal ({n_animals}), got {len(rows)}")
    return rows


def assign(expected: np.ndarray, found: np.ndarray) -> np.ndarray:
    """For each expected box (NaN rows: free slots), the index of the detection it becomes
    (NaN: none); every detection gets a slot while slots are left, best-scoring first."""
    slots = np.full(len(expected), np.nan)
    alive = np.flatnonzero(np.isfinite(expected).all(axis=1))
    left = list(range(len(found)))
    if len(alive) and len(found):
        overlap = iou(expected[alive], found)
        rows, cols = linear_sum_assignment(1 - overlap)
        for r, c in zip(rows, cols, strict=True):
            if overlap[r, c] >= MIN_IOU:
                slots[alive[r]] = c
                left.remove(c)
        waiting = [i for i in alive if np.isnan(slots[i])]
        if waiting and left:
            distance = np.linalg.norm(
                _centres(expected[waiting])[:, None] - _centres(found[left])[None], axis=2
            )
            rows, cols = linear_sum_assignment(distance)
            taken = [left[c] for c in cols]
            for r, c in zip(rows, taken, strict=True):
                slots[waiting[r]] = c
            left = [c for c in left if c not in taken]
    free = [i for i in range(len(expected)) if np.isnan(slots[i]) and i not in alive]
    for i, c in zip(free, left, strict=False):  # detections come best-scoring first
        slots[i] = c
    return slots


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over union of every ``x, y, w, h`` box of ``a`` with every one of ``b``."""
    ax0, ay0, ax1, ay1 = a[:, 0], a[:, 1], a[:, 0] + a[:, 2], a[:, 1] + a[:, 3]
    bx0, by0, bx1, by1 = b[:, 0], b[:, 1], b[:, 0] + b[:, 2], b[:, 1] + b[:, 3]
    w = np.clip(np.minimum(ax1[:, None], bx1) - np.maximum(ax0[:, None], bx0), 0, None)
    h = np.clip(np.minimum(ay1[:, None], by1) - np.maximum(ay0[:, None], by0), 0, None)
    inter = w * h
    union = (a[:, 2] * a[:, 3])[:, None] + b[:, 2] * b[:, 3] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def _centres(boxes: np.ndarray) -> np.ndarray:
    return boxes[:, :2] + boxes[:, 2:] / 2
