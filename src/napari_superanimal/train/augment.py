"""Augmentation that moves keypoints with the pixels.

A training sample is a square crop around the animal (the centre of its known keypoints) with a
random similarity transform (rotation, scale, shift), then brightness / contrast, sensor noise
and, sometimes, motion blur. Keypoints go through the same transform (the ones that leave the
crop teach "not here": :mod:`.targets`). Where the crop reaches past the frame it sees the frame
mirrored, as inference pads whole frames (:func:`~..model.preprocess.pad_to_multiple`), or, with
``padding="constant"``, black, as a top-down crop is padded past the frame's edge
(:func:`~..model.preprocess.crop_with_context`): an animal's crop mirrored would show a second,
flipped animal beside the one it is labeled for.

Example::

    crop, points = augment(frame, keypoints, rng, size=256)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from skimage.transform import SimilarityTransform, warp


@dataclass(frozen=True)
class AugmentSettings:
    rotation: float = 25.0  # degrees, either way
    scale: tuple[float, float] = (0.85, 1.15)
    shift: float = 0.15  # of the crop size, either way
    brightness: float = 25.0  # added, either way
    contrast: tuple[float, float] = (0.8, 1.2)
    noise: float = 6.0  # max std of Gaussian noise
    blur_probability: float = 0.2
    blur_length: int = 7  # max motion-blur kernel length in pixels


def augment(
    frame: np.ndarray,
    keypoints: np.ndarray,
    rng: np.random.Generator,
    size: int,
    settings: AugmentSettings | None = None,
    centre: np.ndarray | None = None,
    padding: str = "reflect",
) -> tuple[np.ndarray, np.ndarray]:
    """A ``(size, size, 3)`` uint8 crop and the ``(K, 2)`` keypoints in its pixels (NaN kept);
    ``padding``: "reflect" or "constant" (black) past the frame's edge."""
    s = settings or AugmentSettings()
    if centre is None:
        known = keypoints[np.isfinite(keypoints).all(1)]
        centre = known.mean(0) if len(known) else np.array(frame.shape[1::-1]) / 2
    angle = np.deg2rad(rng.uniform(-s.rotation, s.rotation))
    zoom = rng.uniform(*s.scale)
    shift = rng.uniform(-s.shift, s.shift, 2) * size
    # output pixel -> frame pixel: rotate and scale about the crop centre, land on the animal
    to_frame = (
        SimilarityTransform(translation=(-size / 2, -size / 2))
        + SimilarityTransform(rotation=angle, scale=1 / zoom)
        + SimilarityTransform(translation=np.asarray(centre) + shift)
    )
    crop = warp(
        frame.astype(np.float32),
        to_frame,
        output_shape=(size, size),
        order=1,
        mode=padding,  # numpy's reflect is OpenCV's REFLECT_101, the padding inference sees
        cval=0.0,
        preserve_range=True,
    )
    points = np.full_like(keypoints, np.nan, dtype=np.float64)
    ok = np.isfinite(keypoints).all(1)
    if ok.any():
        # keypoints are pixel centres: x = col + 0.5 in our convention, col in skimage's
        points[ok] = to_frame.inverse(keypoints[ok] - 0.5) + 0.5
    crop = crop * rng.uniform(*s.contrast) + rng.uniform(-s.brightness, s.brightness)
    if s.noise > 0:
        crop = crop + rng.normal(0, rng.uniform(0, s.noise), crop.shape)
    if rng.random() < s.blur_probability:
        length = int(rng.integers(3, s.blur_length + 1))
        crop = ndimage.uniform_filter1d(crop, length, axis=int(rng.integers(0, 2)))
    return np.clip(crop, 0, 255).astype(np.uint8), points
