"""Where training crops go and how big they are, from the labels alone.

A new network trains on frames shrunk by :func:`auto_input_scale`; each training sample is a
square crop about 1.8x the animal's extent (:func:`crop_size`), centred on the animal, or on
one of its keypoints at random when they spread wider than a crop, or, for a share of the
samples, anywhere on the frame up to its edges (:func:`crop_centre`): inference sees the whole
frame, so the network must also learn where the animal is not (the walls, a caption, the
padding beyond the frame's edge). Half of those go where the network itself last placed a
keypoint wrongly on that frame (the round looks over a few training frames after each
validation), so that a caption in a corner is shown to it, empty, until it stops firing there.

Example::

    scale = auto_input_scale(747, 832)              # 0.538: the longer side becomes 448 px
    size = crop_size(animal_extent(samples, 747, 832) * scale, 402, 448)
"""

from __future__ import annotations

import numpy as np

from .samples import Sample

AUTO_MAX_SIDE = 448  # px: longer side of the frames a new network trains on
BACKGROUND_SHARE = 0.25  # of training crops placed anywhere on the frame, not on the animal
#: of those, the share centred where the network last placed a keypoint wrongly on that frame
#: (a caption, a reflection): the spots it must learn hold nothing, which a crop placed at
#: random rarely shows it
MISTAKE_SHARE = 0.5


def auto_input_scale(height: int, width: int) -> float:
    """Input scale for a network trained from scratch: frames shrink until their longer side
    is at most ``AUTO_MAX_SIDE`` px. A light network at stride 8 learns from a few labels only
    when it sees the animal in enough context: on the 832x747 reaching frames halving them cut
    the held-out error ~5x under the same 8-minute budget (docs/benchmarks.md)."""
    return min(1.0, AUTO_MAX_SIDE / max(height, width))


def animal_extent(samples: list[Sample], height: int, width: int) -> float:
    """Median extent (px) of the labeled keypoints on a frame: the animal's size."""
    extents = []
    for s in samples:
        pts = s.keypoints[s.labeled if s.labeled.any() else s.visible]  # pseudo-labels: visible
        if len(pts) >= 2:
            extents.append(float(np.ptp(pts, axis=0).max()))
    return float(np.median(extents)) if extents else max(height, width) / 2


def crop_size(extent: float, height: int, width: int) -> int:
    """Training crop side: 1.8x the animal's extent, 64-256 px, a multiple of 32."""
    side = int(32 * np.ceil(1.8 * extent / 32))
    return int(np.clip(side, 64, min(256, 32 * np.ceil(max(height, width) / 32))))


def crop_centre(
    sample: Sample,
    spread: bool,
    rng: np.random.Generator,
    shape: tuple[int, int] | None = None,
    background: float = 0.0,
    mistakes: np.ndarray | None = None,
) -> np.ndarray | None:
    """Where a crop goes: with probability ``background``, one of the ``mistakes`` (``(n, 2)``
    x, y where the network placed a keypoint wrongly on this frame) for :data:`MISTAKE_SHARE`
    of them, else a uniformly random point of the frame of ``shape`` (height, width), so crops
    near an edge reach past it; otherwise the animal's centre (None), or, when its keypoints
    spread wider than a crop, one of them at random so that every keypoint is trained."""
    if shape is not None and background > 0 and rng.random() < background:
        if mistakes is not None and len(mistakes) and rng.random() < MISTAKE_SHARE:
            return np.asarray(mistakes[rng.integers(len(mistakes))], float)
        return rng.uniform((0, 0), (shape[1], shape[0]))
    if not spread:
        return None
    return sample.keypoints[rng.choice(np.flatnonzero(sample.visible))]
