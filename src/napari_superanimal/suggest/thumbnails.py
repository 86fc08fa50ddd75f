"""Small grayscale thumbnails of a sample of frames: what the diversity strategy clusters.

An hour of video is ~100k frames; reading all of them to decide which few to label would take
longer than labeling. The diversity strategy only needs to know what kinds of images the video
holds, so :func:`compute_thumbnails` reads a few hundred evenly spaced frames, turns each into
a ``size x size`` grayscale thumbnail by block averaging (cheap, and it keeps the silhouette of
the animal while throwing away texture and compression noise), and reads them through dask in
threads (the frame store's JPEG decoding releases the GIL).

Example::

    from napari_superanimal import open_video
    from napari_superanimal.suggest.thumbnails import compute_thumbnails
    thumbs = compute_thumbnails(open_video("mouse.mp4").frames, n_samples=400)
    thumbs.frames.shape, thumbs.images.shape     # (400,), (400, 32, 32)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .robust import SuggestError

DEFAULT_SAMPLES = 500
DEFAULT_SIZE = 32


@dataclass(frozen=True)
class Thumbnails:
    """``images[i]`` (``size x size`` float32 in [0, 1]) shows frame ``frames[i]`` of a video
    of ``n_frames`` frames; ``frames`` is sorted."""

    frames: np.ndarray
    images: np.ndarray
    n_frames: int

    def __len__(self) -> int:
        return len(self.frames)


def sample_frames(n_frames: int, n_samples: int = DEFAULT_SAMPLES) -> np.ndarray:
    """Up to ``n_samples`` evenly spaced frame indices of a ``n_frames``-frame video, sorted."""
    if n_frames <= 0:
        return np.empty(0, np.int64)
    count = max(1, min(int(n_samples), n_frames))
    return np.unique(np.round(np.linspace(0, n_frames - 1, count)).astype(np.int64))


def downsample(block: np.ndarray, size: int = DEFAULT_SIZE) -> np.ndarray:
    """``(N, H, W[, C])`` uint8 frames -> ``(N, size, size)`` float32 grayscale in [0, 1].

    Each output pixel is the mean of an ``H // size`` by ``W // size`` block (a few edge rows
    and columns are dropped when the size does not divide evenly; frames smaller than
    ``size`` are repeated up to it). The aspect ratio is not kept: clustering does not care.
    """
    gray = np.asarray(block, dtype=np.float32)
    if gray.ndim == 4:
        gray = gray.mean(axis=3)
    if gray.ndim != 3:
        raise SuggestError(f"frames must be (N, H, W) or (N, H, W, C); got {block.shape}")
    n, height, width = gray.shape
    if height < size or width < size:
        rows = np.linspace(0, height - 1, max(size, height)).round().astype(int)
        cols = np.linspace(0, width - 1, max(size, width)).round().astype(int)
        gray = gray[:, rows][:, :, cols]
        n, height, width = gray.shape
    fh, fw = height // size, width // size
    top, left = (height - fh * size) // 2, (width - fw * size) // 2
    gray = gray[:, top : top + fh * size, left : left + fw * size]
    small = gray.reshape(n, size, fh, size, fw).mean(axis=(2, 4))
    return (small / 255.0).astype(np.float32)


def compute_thumbnails(
    frames,
    n_samples: int = DEFAULT_SAMPLES,
    size: int = DEFAULT_SIZE,
    frame_indices=None,
) -> Thumbnails:
    """Thumbnails of ``n_samples`` evenly spaced frames (or of ``frame_indices``).

    ``frames`` is a ``(T, H, W[, C])`` dask array (``Video.frames``, ``Session.frames``) or
    numpy array. Only the sampled frames are read, in parallel threads; memory holds the
    thumbnails, not the frames.
    """
    n_frames = int(frames.shape[0])
    wanted = (
        sample_frames(n_frames, n_samples)
        if frame_indices is None
        else np.unique(np.asarray(frame_indices, dtype=np.int64))
    )
    if wanted.size and (wanted[0] < 0 or wanted[-1] >= n_frames):
        raise SuggestError(f"thumbnail frames must lie in 0-{n_frames - 1}")
    if not wanted.size:
        return Thumbnails(wanted, np.empty((0, size, size), np.float32), n_frames)
    if hasattr(frames, "map_blocks"):  # dask: one task per chunk of sampled frames
        picked = frames[wanted]
        picked = picked.rechunk({i: -1 for i in range(1, picked.ndim)})
        small = picked.map_blocks(
            downsample,
            size=size,
            dtype=np.float32,
            drop_axis=list(range(3, picked.ndim)),
            chunks=(picked.chunks[0], (size,), (size,)),
        )
        # callbacks=[]: leave dask's global callbacks alone. Without it dask swaps the global
        # set out and back around each compute, which races with computes in other threads
        # (napari slicing frames while we read thumbnails in a worker: its cache then fails)
        images = np.asarray(small.compute(scheduler="threads", callbacks=[]))
    else:
        images = np.concatenate(
            [
                downsample(np.asarray(frames[wanted[i : i + 64]]), size)
                for i in range(0, len(wanted), 64)
            ]
        )
    return Thumbnails(wanted, images, n_frames)
