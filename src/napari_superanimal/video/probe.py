"""Index a video file without decoding it: frame timestamps, keyframes, size, rate, identity.

Frame-exact random access needs to know, for frame ``i``, its presentation timestamp and the
keyframe to seek to. Demuxing (reading packets, not decoding them) gives both in well under a
second for an hour of video. The index is stored with the frames, so a reopened store needs no
demux at all.

Example::

    from napari_superanimal.video.probe import index_video
    idx = index_video("mouse.mp4")
    idx.n_frames, idx.fps, idx.pts[:3]
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from ..errors import VideoError

#: File endings this plugin claims as videos.
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".m4v")

_HASH_SAMPLE = 1 << 20  # bytes read at each of the sampled offsets


@dataclass(frozen=True)
class VideoIndex:
    """What is known about a video before decoding it.

    ``pts`` holds the presentation timestamp (in ``time_base`` units) of every frame in display
    order; ``keyframe_pts`` those of the keyframes, sorted.
    """

    n_frames: int
    height: int
    width: int
    fps: float
    time_base: Fraction
    pts: np.ndarray
    keyframe_pts: np.ndarray
    codec: str
    pix_fmt: str

    @property
    def timestamps(self) -> np.ndarray:
        """Seconds from the first frame, one per frame."""
        return (self.pts - self.pts[0]).astype(np.float64) * float(self.time_base)


def fingerprint(path: str | os.PathLike) -> dict:
    """Identify a source file cheaply: size, mtime and a BLAKE2 hash of sampled bytes.

    Hashing every byte of an hour of video would take longer than opening it should; the first,
    middle and last MiB plus the size catch re-encoded, truncated or replaced files.
    """
    path = Path(path)
    st = path.stat()
    digest = hashlib.blake2b(digest_size=16)
    digest.update(str(st.st_size).encode())
    with path.open("rb") as fh:
        for offset in sorted(
            {0, max(0, st.st_size // 2 - _HASH_SAMPLE // 2), max(0, st.st_size - _HASH_SAMPLE)}
        ):
            fh.seek(offset)
            digest.update(fh.read(_HASH_SAMPLE))
    return {
        "path": str(path.resolve()),
        "size": st.st_size,
        "mtime": st.st_mtime,
        "hash": "blake2b-sampled:" + digest.hexdigest(),
    }


def open_container(path: str | os.PathLike) -> av.container.InputContainer:
    """Open ``path`` with PyAV, turning every failure into a one-line :class:`VideoError`."""
    path = Path(path)
    if not path.exists():
        raise VideoError(f"{path}: no such file")
    if path.is_dir():
        raise VideoError(f"{path}: is a folder, not a video file")
    if not os.access(path, os.R_OK):
        raise VideoError(f"{path}: cannot be read (permission denied)")
    if path.stat().st_size == 0:
        raise VideoError(f"{path}: is empty (0 bytes)")
    try:
        container = av.open(str(path), metadata_errors="ignore")
    except av.FFmpegError as err:
        if _mp4_without_index(path):
            raise VideoError(
                f"{path}: truncated or unfinished recording: the MP4 has frame data but no index "
                "(moov box); it cannot be read as is"
            ) from err
        raise VideoError(f"{path}: not a video FFmpeg can read ({_reason(err)})") from err
    if not container.streams.video:
        container.close()
        raise VideoError(f"{path}: has no video frames (no video stream FFmpeg can use)")
    return container


def index_video(path: str | os.PathLike) -> VideoIndex:
    """Demux ``path`` and return its :class:`VideoIndex`; decode only the first frame.

    Raises :class:`VideoError` for a missing, unreadable, truncated or frameless file.
    """
    path = Path(path)
    with open_container(path) as container:
        stream = container.streams.video[0]
        pts: list[int] = []
        keyframes: list[int] = []
        try:
            for packet in container.demux(stream):
                if packet.size == 0:
                    continue  # the flush packet at the end
                ts = packet.pts if packet.pts is not None else packet.dts
                if ts is None:
                    raise VideoError(
                        f"{path}: packets without timestamps; remux it first "
                        "(ffmpeg -i IN -c copy OUT.mkv)"
                    )
                pts.append(ts)
                if packet.is_keyframe:
                    keyframes.append(ts)
        except av.FFmpegError as err:
            raise VideoError(f"{path}: corrupt or truncated ({_reason(err)})") from err
        if not pts:
            raise VideoError(f"{path}: has no video frames")
        declared = stream.frames or 0
        if declared and len(pts) < declared:
            raise VideoError(
                f"{path}: truncated: the container lists {declared} frames "
                f"but only {len(pts)} are present"
            )
        pts_arr = np.sort(np.asarray(pts, dtype=np.int64))
        if np.any(np.diff(pts_arr) == 0):
            raise VideoError(f"{path}: several frames share a timestamp; remux or re-encode it")
        if not keyframes:
            raise VideoError(f"{path}: has no keyframe to start decoding from")
        time_base = stream.time_base or Fraction(1, 1)
        rate = stream.average_rate or stream.guessed_rate
        if rate:
            fps = float(rate)
        elif len(pts_arr) > 1:
            fps = (len(pts_arr) - 1) / float((pts_arr[-1] - pts_arr[0]) * time_base)
        else:
            fps = 0.0
        first = _decode_first_frame(container, stream, path)
        return VideoIndex(
            n_frames=len(pts_arr),
            height=first.height,
            width=first.width,
            fps=fps,
            time_base=Fraction(time_base),
            pts=pts_arr,
            keyframe_pts=np.sort(np.asarray(keyframes, dtype=np.int64)),
            codec=stream.codec_context.name,
            pix_fmt=str(first.format.name),
        )


@dataclass(frozen=True)
class QuickProbe:
    """What a container's header says, and its first frame: enough to show the video at once
    while :func:`index_video` reads through it in the background."""

    n_frames: int
    height: int
    width: int
    fps: float
    first_frame: np.ndarray  # (H, W, 3) uint8 RGB


#: Containers whose header gives the exact number of frames (MP4/MOV's sample tables).
_EXACT_COUNT_FORMATS = ("mov", "mp4")


def quick_probe(path: str | os.PathLike) -> QuickProbe | None:
    """The header's frame count, size and rate and the first frame, without reading through
    the file (constant time whatever its length), or None when the container does not state
    an exact frame count (then only :func:`index_video` knows it).

    Example::

        quick_probe("mouse.mp4").n_frames      # 2330, read from the MP4 header
    """
    path = Path(path)
    with open_container(path) as container:
        names = set(str(container.format.name).split(","))
        stream = container.streams.video[0]
        declared = int(stream.frames or 0)
        rate = stream.average_rate or stream.guessed_rate
        if not (names & set(_EXACT_COUNT_FORMATS)) or declared <= 0 or not rate:
            return None
        first = _decode_first_frame(container, stream, path)
        return QuickProbe(
            declared, first.height, first.width, float(rate), first.to_ndarray(format="rgb24")
        )


def _decode_first_frame(container, stream, path: Path) -> av.VideoFrame:
    try:
        container.seek(0, stream=stream, backward=True)
        for frame in container.decode(stream):
            return frame
    except av.FFmpegError as err:
        raise VideoError(f"{path}: frames cannot be decoded ({_reason(err)})") from err
    raise VideoError(f"{path}: has no decodable frames")


def _mp4_without_index(path: Path) -> bool:
    """True for an MP4/MOV whose top-level boxes hold ``mdat`` but no ``moov`` (a cut file)."""
    boxes = set()
    size = path.stat().st_size
    with path.open("rb") as fh:
        offset = 0
        while offset + 8 <= size and len(boxes) < 64:
            fh.seek(offset)
            header = fh.read(16)
            length, kind = int.from_bytes(header[:4], "big"), header[4:8]
            if length == 1 and len(header) == 16:
                length = int.from_bytes(header[8:16], "big")
            elif length == 0:
                length = size - offset
            if length < 8 or not kind.isalnum() and kind != b"free":
                break
            boxes.add(kind)
            offset += length
    return b"ftyp" in boxes and b"mdat" in boxes and b"moov" not in boxes


def _reason(err: Exception) -> str:
    text = getattr(err, "strerror", None) or str(err)
    return " ".join(str(text).split())
