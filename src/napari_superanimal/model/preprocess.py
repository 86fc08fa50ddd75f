"""Frames to network inputs, and network outputs back to frame pixels.

As DeepLabCut prepares SuperAnimal inputs: RGB uint8 -> float in [0, 1] -> ImageNet mean/std.
Full-frame mode pads the bottom and right edges with zeros to a multiple of 32 (HRNet halves the
resolution five times) and maps keypoints back unchanged. Top-down mode crops each box with
context: the box is widened (or heightened) about its centre to the output's aspect ratio,
pixels outside the frame are zeros, and the crop is resized bilinearly to 256x256; keypoints
are scaled and offset back.

Example::

    from napari_superanimal.model.preprocess import crop_with_context, normalize
    crop, transform = crop_with_context(frame, (x, y, w, h), (256, 256))
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from skimage.transform import resize

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def normalize(frames: np.ndarray | torch.Tensor) -> torch.Tensor:
    """``(N, H, W, 3)`` uint8 RGB -> ``(N, 3, H, W)`` float32, ImageNet-normalised."""
    x = torch.as_tensor(np.ascontiguousarray(frames) if isinstance(frames, np.ndarray) else frames)
    if x.ndim != 4 or x.shape[-1] != 3:
        raise ValueError(f"frames must be (N, H, W, 3) RGB, got {tuple(x.shape)}")
    x = x.permute(0, 3, 1, 2).to(torch.float32).div_(255.0)
    mean = torch.tensor(IMAGENET_MEAN, dtype=x.dtype).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, dtype=x.dtype).view(1, 3, 1, 1)
    return (x - mean) / std


def pad_to_multiple(x: torch.Tensor, multiple: int = 32) -> torch.Tensor:
    """Zero-pad the bottom and right of ``(N, C, H, W)`` so H and W divide by ``multiple``."""
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph or pw:
        x = torch.nn.functional.pad(x, (0, pw, 0, ph))
    return x


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


def context_box(
    box: tuple[float, float, float, float], output_size: tuple[int, int], margin: float = 0.0
) -> tuple[float, float, float, float]:
    """Grow ``(x, y, w, h)`` by ``margin`` pixels a side, then to the output's aspect ratio."""
    x, y, w, h = (float(v) for v in box)
    x, y, w, h = x - margin, y - margin, w + 2 * margin, h + 2 * margin
    out_w, out_h = output_size
    cx, cy = x + w / 2, y + h / 2
    aspect = out_w / out_h
    if w / max(h, 1e-9) < aspect:
        w = h * aspect
    else:
        h = w / aspect
    return cx - w / 2, cy - h / 2, w, h


def crop_with_context(
    frame: np.ndarray,
    box: tuple[float, float, float, float],
    output_size: tuple[int, int] = (256, 256),
    margin: float = 0.0,
) -> tuple[np.ndarray, CropTransform]:
    """Crop ``box`` (x, y, w, h) with context from ``(H, W, 3)`` uint8, zero-padded, resized.

    Returns the ``(out_h, out_w, 3)`` uint8 crop and the transform back to frame pixels.
    """
    out_w, out_h = output_size
    x, y, w, h = context_box(box, output_size, margin)
    x0, y0 = int(np.floor(x)), int(np.floor(y))
    x1, y1 = int(np.ceil(x + w)), int(np.ceil(y + h))
    x1, y1 = max(x1, x0 + 1), max(y1, y0 + 1)
    canvas = np.zeros((y1 - y0, x1 - x0, frame.shape[2]), dtype=frame.dtype)
    fy0, fx0 = max(y0, 0), max(x0, 0)
    fy1, fx1 = min(y1, frame.shape[0]), min(x1, frame.shape[1])
    if fy1 > fy0 and fx1 > fx0:
        canvas[fy0 - y0 : fy1 - y0, fx0 - x0 : fx1 - x0] = frame[fy0:fy1, fx0:fx1]
    crop = resize(
        canvas,
        (out_h, out_w),
        order=1,
        mode="constant",
        cval=0,
        preserve_range=True,
        anti_aliasing=False,
    )
    crop = np.clip(np.rint(crop), 0, 255).astype(np.uint8)
    transform = CropTransform(
        offset_x=float(x0), offset_y=float(y0), scale_x=(x1 - x0) / out_w, scale_y=(y1 - y0) / out_h
    )
    return crop, transform
