"""A video's frames as a plain array-like, for napari's Image layer.

napari slices a layer's data with numpy indexing and needs nothing else from it than ``shape``,
``dtype`` and ``ndim``. :attr:`Video.frames <napari_superanimal.video.Video.frames>` is a dask
array (the Python API and the cluster compose it), but importing ``dask.array`` costs about a
second on a laptop CPU, the whole budget for showing a never-seen video's first frame. The
reader gives napari this view instead: each index reads its frames through
:meth:`Video.read_frame <napari_superanimal.video.Video.read_frame>` (the store once converted,
a frame-exact seek before), and nothing is read until napari slices it.

Example::

    frames = FrameArray(video)
    frames[17].shape        # (H, W, 3)
    frames[10:20:5].shape   # (2, H, W, 3)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .video import Video


class FrameArray:
    """``(T, H, W, 3) uint8`` frames of ``video``, read when indexed."""

    dtype = np.dtype(np.uint8)
    ndim = 4

    def __init__(self, video: Video):
        self.video = video

    @property
    def shape(self) -> tuple[int, int, int, int]:
        return self.video.shape

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key) -> np.ndarray:
        key = _full_key(key if isinstance(key, tuple) else (key,), self.ndim)
        time, rest = key[0], key[1:]
        if isinstance(time, (int, np.integer)):
            i = int(time) + (len(self) if time < 0 else 0)
            if not 0 <= i < len(self):
                raise IndexError(f"frame {int(time)} is out of range for {len(self)} frames")
            return self.video.read_frame(i)[rest]
        frames = np.arange(len(self))[time]  # a slice, a list or an array of frames
        if frames.ndim != 1:
            raise IndexError(f"frames are indexed by an int, a slice or a 1-D list, not {time!r}")
        out = np.empty((len(frames), *self.shape[1:]), dtype=self.dtype)
        for j, i in enumerate(frames):
            out[j] = self.video.read_frame(int(i))
        return out[(slice(None), *rest)]

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        data = self[:]
        return data if dtype is None else data.astype(dtype)

    def __repr__(self) -> str:
        return f"FrameArray({self.video.name!r}, shape={self.shape})"


def _full_key(key: tuple, ndim: int) -> tuple:
    """``key`` with its Ellipsis expanded and trailing axes filled, ``ndim`` entries long."""
    if any(k is Ellipsis for k in key):
        at = next(i for i, k in enumerate(key) if k is Ellipsis)
        fill = (slice(None),) * (ndim - len(key) + 1)
        key = (*key[:at], *fill, *key[at + 1 :])
    if any(k is None for k in key):
        raise IndexError("frames do not take new axes (None) in an index")
    if len(key) > ndim:
        raise IndexError(f"too many indices for a {ndim}-D array of frames")
    return key + (slice(None),) * (ndim - len(key))
