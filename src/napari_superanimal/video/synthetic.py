"""Synthetic videos made on the spot, so tests, benchmarks and the demo need no download.

``write_index_video`` draws each frame's index as a row of black and white bits (readable back
after lossy compression) over a moving texture, and encodes with libx264, B-frames and a long
GOP: the hard case for frame-exact seeking.

Example::

    from napari_superanimal.video.synthetic import write_index_video, read_index
    write_index_video("/tmp/idx.mp4", n_frames=300)
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

BITS = 20
_CELL = 8  # pixels per bit cell (a cell is _CELL x _CELL, at the top-left)


def index_frame(
    i: int, height: int, width: int, rng_seed: int = 0, gray: bool = False
) -> np.ndarray:
    """One ``(H, W, 3)`` frame with ``i`` encoded in its top rows, over a moving texture."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    phase = 0.15 * i
    base = 110 + 60 * np.sin(xx / 11.0 + phase) * np.cos(yy / 17.0 - 0.5 * phase)
    frame = np.empty((height, width, 3), np.uint8)
    if gray:
        frame[:] = np.clip(base, 0, 255).astype(np.uint8)[..., None]
    else:
        frame[..., 0] = np.clip(base, 0, 255)
        frame[..., 1] = np.clip(255 - base, 0, 255)
        frame[..., 2] = np.clip(128 + 0.5 * (base - 128) * np.sin(phase), 0, 255)
    for bit in range(BITS):
        value = 255 if (i >> bit) & 1 else 0
        frame[0:_CELL, bit * _CELL : (bit + 1) * _CELL] = value
    return frame


def read_index(frame: np.ndarray) -> int:
    """Recover the index written by :func:`index_frame` (robust to mild lossy compression)."""
    cells = frame[1 : _CELL - 1, : BITS * _CELL].astype(np.float32).mean(axis=-1)
    bits = cells.reshape(_CELL - 2, BITS, _CELL)[:, :, 1:-1].mean(axis=(0, 2)) > 127
    return int(sum(1 << b for b, on in enumerate(bits) if on))


def write_video(
    path: str | os.PathLike,
    frames: Iterable[np.ndarray],
    fps: int = 30,
    codec: str = "libx264",
    options: dict | None = None,
    container_options: dict | None = None,
) -> Path:
    """Encode ``(H, W, 3)`` uint8 RGB ``frames`` into ``path`` (yuv420p) and return it."""
    path = Path(path)
    frames = iter(frames)
    first = next(frames)
    with av.open(str(path), mode="w", options=container_options or {}) as container:
        stream = container.add_stream(codec, rate=Fraction(fps))
        stream.height, stream.width = first.shape[:2]
        stream.pix_fmt = "yuv420p"
        stream.options = dict(options or {})
        for image in itertools.chain([first], frames):
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def write_index_video(
    path: str | os.PathLike,
    n_frames: int = 120,
    size: tuple[int, int] = (96, 160),
    fps: int = 30,
    gop: int = 60,
    bframes: int = 3,
    gray: bool = False,
    codec: str = "libx264",
    faststart: bool = False,
) -> Path:
    """Encode ``n_frames`` index frames of ``size`` (H, W) into ``path`` and return it.

    ``faststart`` puts an MP4's index (moov box) before the frame data, as streaming encoders do.
    """
    height, width = size
    options = {}
    if codec == "libx264":
        options = {
            "g": str(gop),
            "bf": str(bframes),
            "crf": "18",
            "preset": "veryfast",
            "x264-params": f"keyint={gop}:min-keyint={gop}",
        }
    frames = (index_frame(i, height, width, gray=gray) for i in range(n_frames))
    return write_video(
        path, frames, fps, codec, options, {"movflags": "faststart"} if faststart else None
    )


def decode_all(path: str | os.PathLike) -> np.ndarray:
    """Every frame of ``path`` in display order, decoded plainly (the reference for tests)."""
    with av.open(str(path)) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])
