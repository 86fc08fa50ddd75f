"""Decode frames with PyAV: in order (for conversion) or one at a time, frame-exactly.

Random access seeks to the last keyframe at or before the wanted frame's timestamp and decodes
forward until that timestamp comes out; a reader that is asked for the next few frames simply
keeps decoding instead of seeking again. Both paths convert with the same ``rgb24`` reformatter,
so a frame read by seeking is byte-identical to the same frame read in sequence.

Example::

    from napari_superanimal.video.probe import index_video
    from napari_superanimal.video.decode import FrameReader
    idx = index_video("mouse.mp4")
    frame = FrameReader("mouse.mp4", idx).read(1234)    # (H, W, 3) uint8
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator

import av
import numpy as np

from ..errors import NotGrayError, VideoError
from .probe import VideoIndex, _reason, open_container


def to_rgb(frame: av.VideoFrame) -> np.ndarray:
    """``(H, W, 3) uint8`` RGB pixels of a decoded frame (the one conversion both paths use)."""
    return frame.to_ndarray(format="rgb24")


def to_gray(frame: av.VideoFrame) -> np.ndarray:
    """``(H, W, 1) uint8`` of a grey frame from its luma, 6x cheaper than :func:`to_rgb`.

    It may differ from :func:`to_rgb`'s channels by one level (swscale rounds the two paths
    differently), so lossless stores use :func:`to_gray_exact` instead. Raises
    :class:`NotGrayError` if the frame has colour (a YUV chroma plane that is not uniformly
    neutral), so a grey store never silently drops colour.
    """
    name = frame.format.name
    if name.startswith("yuv") and len(frame.planes) >= 3:
        for plane in frame.planes[1:3]:
            data = np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)
            if not np.all(data[: plane.height, : plane.width] == 128):
                raise NotGrayError(name)
    elif not name.startswith("gray"):
        rgb = to_rgb(frame)
        if not (
            np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 0], rgb[..., 2])
        ):
            raise NotGrayError(name)
        return rgb[..., :1]
    return frame.to_ndarray(format="gray")[..., None]


def to_gray_exact(frame: av.VideoFrame) -> np.ndarray:
    """``(H, W, 1)``: one channel of :func:`to_rgb`, after checking R == G == B."""
    rgb = to_rgb(frame)
    if not (np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 0], rgb[..., 2])):
        raise NotGrayError(frame.format.name)
    return rgb[..., :1]


#: How :func:`iter_frames` converts: RGB, grey from luma (lossy stores), exact grey (lossless).
CONVERTERS = {"rgb": to_rgb, "gray": to_gray, "gray_exact": to_gray_exact}


def iter_frames(
    path: str | os.PathLike, index: VideoIndex, start: int = 0, mode: str = "rgb"
) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(i, pixels)`` for frames ``start ..`` in display order, decoding with threads.

    Pixels are ``(H, W, 3)`` RGB, or ``(H, W, 1)`` for the grey modes of :data:`CONVERTERS`.

    Raises :class:`VideoError` if the decoder stops early or emits a frame that is not the next
    one in the index (a truncated or corrupt file), so a conversion never stores a wrong frame.
    """
    convert = CONVERTERS[mode]
    with open_container(path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        expected = int(start)
        if start > 0:
            target = index.pts[start]
            container.seek(
                int(_keyframe_at_or_before(index, target)),
                stream=stream,
                backward=True,
                any_frame=False,
            )
        try:
            for frame in container.decode(stream):
                if expected >= index.n_frames:
                    break
                pts = frame.pts
                if pts is None or pts < index.pts[expected]:
                    continue  # frames before the wanted start after a seek
                if pts != index.pts[expected]:
                    raise VideoError(
                        f"{path}: frame {expected} (pts {index.pts[expected]}) is missing from "
                        f"the decoded stream (got pts {pts}); the file is corrupt"
                    )
                yield expected, convert(frame)
                expected += 1
        except av.FFmpegError as err:
            raise VideoError(
                f"{path}: decoding failed at frame {expected} ({_reason(err)})"
            ) from err
        if expected < index.n_frames:
            raise VideoError(
                f"{path}: truncated or corrupt: only {expected} of {index.n_frames} frames decode"
            )


def _keyframe_at_or_before(index: VideoIndex, pts: int) -> int:
    pos = np.searchsorted(index.keyframe_pts, pts, side="right") - 1
    return index.keyframe_pts[max(pos, 0)]


class FrameReader:
    """Frame-exact random access to a video file, one decoder per thread.

    Thread-safe: each thread (napari's slicer, dask workers, prefetchers) gets its own PyAV
    container, so reads never serialise on a shared decoder.
    """

    def __init__(self, path: str | os.PathLike, index: VideoIndex):
        self.path = os.fspath(path)
        self.index = index
        self._local = threading.local()

    def __getstate__(self) -> dict:
        return {"path": self.path, "index": self.index}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["path"], state["index"])

    def read(self, i: int) -> np.ndarray:
        """Return frame ``i`` as ``(H, W, 3) uint8``."""
        return to_rgb(self.decode(i))

    def decode(self, i: int) -> av.VideoFrame:
        """Return frame ``i`` as a decoded PyAV frame."""
        if not 0 <= i < self.index.n_frames:
            raise IndexError(f"frame {i} out of range 0..{self.index.n_frames - 1}")
        target = int(self.index.pts[i])
        state = self._state()
        last = state.get("last_pts")
        keyframe = int(_keyframe_at_or_before(self.index, target))
        # Decoding on from where this thread stopped beats a seek while no keyframe lies between.
        if last is None or target <= last or keyframe > last:
            self._seek(state, keyframe)
        try:
            frame = self._decode_until(state, target)
            if frame is None:  # landed after the frame (inexact demuxer seek): start further back
                earlier = self.index.keyframe_pts[self.index.keyframe_pts < keyframe]
                self._seek(state, int(earlier[-1]) if len(earlier) else int(self.index.pts[0]))
                frame = self._decode_until(state, target)
            if frame is not None:
                return frame
        except av.FFmpegError as err:
            state.clear()
            raise VideoError(f"{self.path}: cannot decode frame {i} ({_reason(err)})") from err
        state.clear()
        raise VideoError(f"{self.path}: frame {i} (pts {target}) cannot be decoded")

    def _state(self) -> dict:
        state = getattr(self._local, "state", None)
        if state is None:
            container = open_container(self.path)
            state = self._local.state = {"container": container}
        if "container" not in state:
            state["container"] = open_container(self.path)
        return state

    def _seek(self, state: dict, pts: int) -> None:
        container = state["container"]
        stream = container.streams.video[0]
        container.seek(pts, stream=stream, backward=True, any_frame=False)
        state["frames"] = container.decode(stream)
        state["last_pts"] = None

    def _decode_until(self, state: dict, target: int) -> av.VideoFrame | None:
        for frame in state["frames"]:
            if frame.pts is None:
                continue
            state["last_pts"] = frame.pts
            if frame.pts == target:
                return frame
            if frame.pts > target:
                return None
        state["last_pts"] = None
        return None

    def close(self) -> None:
        """Close this thread's decoder (others close when their threads end)."""
        state = getattr(self._local, "state", None)
        if state and "container" in state:
            state["container"].close()
            state.clear()
