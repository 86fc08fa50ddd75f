"""Frames to network inputs, and network outputs back to frame pixels.

As DeepLabCut prepares SuperAnimal inputs: RGB uint8 -> ImageNet mean/std, with the very
float32 arithmetic of its albumentations ``Normalize`` (:func:`normalize`).
Full-frame mode mirror-pads the bottom and right edges to a multiple of 32 (HRNet halves the
resolution five times) and maps keypoints back unchanged. Top-down mode crops each box with
context: the box is widened (or heightened) about its centre to the output's aspect ratio, its
corners rounded, pixels outside the frame are zeros, and the crop is resized with OpenCV's
bilinear interpolation to 256x256 (the resize DeepLabCut uses, so crops match it bit for bit);
keypoints are scaled and offset back.

Example::

    from napari_superanimal.model.preprocess import crop_with_context, normalize
    crop, transform = crop_with_context(frame, (x, y, w, h), (256, 256))
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def normalize(frames: np.ndarray | torch.Tensor, deeplabcut: bool = True) -> torch.Tensor:
    """``(N, H, W, 3)`` uint8 RGB -> ``(N, 3, H, W)`` float32, ImageNet-normalised.

    With ``deeplabcut`` (SuperAnimal and its detectors) the arithmetic is DeepLabCut's
    (albumentations 1.4's ``Normalize``, which its pose and detector preprocessors run), each
    step in float32: ``(x - 255 mean) * (1 / (255 std))``. ``(x / 255 - mean) / std``, which
    networks trained in a project train and predict with (``deeplabcut=False``: their rounds
    stay as they were measured), differs in the last bits; the detector turned that into boxes
    ~3e-3 px off DeepLabCut's, and a crop's corners are whole pixels, so now and then a crop
    (and all its keypoints) moved. With these bits the boxes are DeepLabCut's."""
    x = torch.as_tensor(np.ascontiguousarray(frames) if isinstance(frames, np.ndarray) else frames)
    if x.ndim != 4 or x.shape[-1] != 3:
        raise ValueError(f"frames must be (N, H, W, 3) RGB, got {tuple(x.shape)}")
    x = x.permute(0, 3, 1, 2).to(torch.float32)
    if deeplabcut:
        return (x - _MEAN_255) * _INV_STD_255
    mean = torch.tensor(IMAGENET_MEAN, dtype=x.dtype).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, dtype=x.dtype).view(1, 3, 1, 1)
    return (x / 255.0 - mean) / std


_MEAN_255 = (torch.tensor(IMAGENET_MEAN) * torch.tensor(255.0)).view(1, 3, 1, 1)
_INV_STD_255 = torch.reciprocal(torch.tensor(IMAGENET_STD) * torch.tensor(255.0)).view(1, 3, 1, 1)


def pad_to_multiple(frames: np.ndarray, multiple: int = 32) -> np.ndarray:
    """Pad ``(N, H, W, C)`` frames at the bottom and right so H and W divide by ``multiple``.

    The padding mirrors the frame without repeating its edge row (OpenCV's ``REFLECT_101``), as
    DeepLabCut's ``PadIfNeeded`` does; DeepLabCut puts the padding at a random side, we always
    put it at the bottom and right so that results are reproducible and frame pixels need no
    offset.
    """
    h, w = frames.shape[1:3]
    ph, pw = (-h) % multiple, (-w) % multiple
    if not (ph or pw):
        return frames
    return np.pad(frames, ((0, 0), (0, ph), (0, pw), (0, 0)), mode="reflect")


@dataclass(frozen=True)
class CropTransform:
    """Maps crop pixels back to frame pixels: ``frame = crop * scale + offset``."""

    offset_x: float
    offset_y: float
    scale_x: float
    scale_y: float

    def to_frame(self, keypoints: np.ndarray) -> np.ndarray:
        """``(..., K, 3)`` x, y, score in crop pixels -> frame pixels (scores unchanged)."""
        out = np.array(keypoints, dtype=np.float64, copy=True)
        out[..., 0] = out[..., 0] * self.scale_x + self.offset_x
        out[..., 1] = out[..., 1] * self.scale_y + self.offset_y
        return out

    def to_crop(self, keypoints: np.ndarray) -> np.ndarray:
        out = np.array(keypoints, dtype=np.float64, copy=True)
        out[..., 0] = (out[..., 0] - self.offset_x) / self.scale_x
        out[..., 1] = (out[..., 1] - self.offset_y) / self.scale_y
        return out


def crop_corners(
    box, output_size: tuple[int, int] = (256, 256), margin: float = 0.0
) -> tuple[int, int, int, int] | None:
    """The pixel corners ``x1, y1, x2, y2`` DeepLabCut crops for ``box`` (x, y, w, h), or None
    when that crop holds no pixel (a box under about half a pixel: DeepLabCut 3.0.2 raises in
    OpenCV there; it is no animal).

    The box grows by ``margin`` a side, then about its centre to the output's aspect ratio; its
    corners are rounded half-to-even (Python's ``round``)."""
    out_w, out_h = output_size
    x, y, w, h = (float(v) for v in box)
    if not (np.isfinite([x, y, w, h]).all() and w > 0 and h > 0):
        raise ValueError(f"box must be finite with positive width and height, got {box}")
    cx, cy = x + w / 2, y + h / 2
    w, h = w + 2 * margin, h + 2 * margin
    aspect = out_w / out_h
    if w / h > aspect:
        h = w / aspect
    elif w / h < aspect:
        w = h * aspect
    x1, y1 = round(cx - w / 2), round(cy - h / 2)
    x2, y2 = round(cx + w / 2), round(cy + h / 2)
    return None if x2 <= x1 or y2 <= y1 else (x1, y1, x2, y2)


def crop_with_context(
    frame: np.ndarray,
    box: tuple[float, float, float, float],
    output_size: tuple[int, int] = (256, 256),
    margin: float = 0.0,
) -> tuple[np.ndarray, CropTransform]:
    """Crop ``box`` (x, y, w, h) with context from ``(H, W, C)`` uint8, as DeepLabCut does.

    The corners are :func:`crop_corners`'; pixels outside the frame are zeros, and the crop is
    resized with OpenCV's bilinear ``INTER_LINEAR`` before normalisation. Returns the
    ``(out_h, out_w, C)`` crop and the transform back to frame pixels.
    """
    out_w, out_h = output_size
    corners = crop_corners(box, output_size, margin)
    if corners is None:
        raise ValueError(f"box {tuple(box)} is under a pixel: its crop holds no pixel")
    x1, y1, x2, y2 = corners
    height, width = frame.shape[:2]
    canvas = np.zeros((y2 - y1, x2 - x1, *frame.shape[2:]), dtype=frame.dtype)
    fx1, fy1, fx2, fy2 = max(x1, 0), max(y1, 0), min(x2, width), min(y2, height)
    if fx2 > fx1 and fy2 > fy1:
        canvas[fy1 - y1 : fy2 - y1, fx1 - x1 : fx2 - x1] = frame[fy1:fy2, fx1:fx2]
    crop = cv2.resize(canvas, (out_w, out_h), interpolation=cv2.INTER_LINEAR)
    if crop.ndim < frame.ndim:  # OpenCV drops a single channel axis
        crop = crop[..., None]
    transform = CropTransform(
        offset_x=float(x1), offset_y=float(y1), scale_x=(x2 - x1) / out_w, scale_y=(y2 - y1) / out_h
    )
    return crop, transform


def scaled_size(height: int, width: int, scale: float) -> tuple[int, int]:
    """The ``(height, width)`` a frame has once resized by ``scale`` (at least 1 px)."""
    return max(1, round(height * scale)), max(1, round(width * scale))


def rescale_frames(frames: np.ndarray, scale: float) -> np.ndarray:
    """Resize ``(N, H, W, 3)`` uint8 frames by ``scale`` (OpenCV's area filter: shrinking
    averages pixels instead of skipping them). Training and inference both use this, so a
    model sees the same pixels in both."""
    if scale == 1:
        return frames
    h, w = scaled_size(*frames.shape[1:3], scale)
    return np.stack([cv2.resize(f, (w, h), interpolation=cv2.INTER_AREA) for f in frames])


def frame_to_input(xy: np.ndarray, frame_size: tuple[int, int], scale: float) -> np.ndarray:
    """Frame pixels -> pixels of the frame resized by ``scale`` (``(..., 2+)`` x, y first).

    Pixel centres map onto pixel centres, with each axis's exact ratio of sizes."""
    if scale == 1:
        return xy
    (h, w), (sh, sw) = frame_size, scaled_size(*frame_size, scale)
    out = np.array(xy, dtype=np.float64, copy=True)
    out[..., 0] = (out[..., 0] + 0.5) * (sw / w) - 0.5
    out[..., 1] = (out[..., 1] + 0.5) * (sh / h) - 0.5
    return out


def input_to_frame(xy: np.ndarray, frame_size: tuple[int, int], scale: float) -> np.ndarray:
    """The inverse of :func:`frame_to_input` (scores, if any, unchanged)."""
    if scale == 1:
        return xy
    (h, w), (sh, sw) = frame_size, scaled_size(*frame_size, scale)
    out = np.array(xy, dtype=np.float64, copy=True)
    out[..., 0] = (out[..., 0] + 0.5) * (w / sw) - 0.5
    out[..., 1] = (out[..., 1] + 0.5) * (h / sh) - 0.5
    return out
