"""The frame store: a zarr v3 group holding a video's frames, timestamps and provenance.

Layout (``*.frames.zarr``)::

    zarr.json        group attributes under "napari_superanimal": format, version, source
                     (path, size, mtime, hash), video (frames, size, fps, codec, ...), storage
                     (codec, quality, shard size), frames_written, complete
    frames/          (T, H, W, C) uint8, one frame per chunk, chunks grouped into shards,
                     C = 1 for grayscale video (shown as RGB), else 3
    pts/             (T,) int64 presentation timestamps in the source's time base
    keyframe_pts/    (K,) int64 keyframe timestamps, for frame-exact seeks in the source
    timestamps/      (T,) float64 seconds from the first frame

A store is written shard by shard, in order; ``frames_written`` advances only after a shard is
on disk and ``complete`` is set only after the last one, so an interrupted conversion resumes at
the first unfinished shard and an incomplete store never passes as complete. zarr's local store
writes each file atomically (temporary file + rename); at a URL (``s3://...``, see
:mod:`.location`) zarr's ``FsspecStore`` writes each file as one object, which an object store
replaces whole.

Example::

    from napari_superanimal.video.store import FrameStore
    store = FrameStore.open("mouse.frames.zarr")      # or "s3://lab/frames/mouse.frames.zarr"
    store.complete, store.read(0).shape
"""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..errors import StoreError
from . import location as loc
from .location import STORE_SUFFIX, Location  # noqa: F401 - STORE_SUFFIX is re-exported
from .probe import VideoIndex

if TYPE_CHECKING:
    import zarr

    from .codecs import JpegCodec

# zarr (and the JPEG codec, which registers with it) is imported where a store is opened or
# made, not here: napari's reader imports this module on the way to a video's first frame.

FORMAT = "napari-superanimal.frames"
VERSION = 1
ATTR = "napari_superanimal"
CODECS = ("jpeg", "lossless")
DEFAULT_CODEC = "jpeg"
DEFAULT_QUALITY = 90


def shard_frames_for(height: int, width: int) -> int:
    """Frames per shard: about 16 MB of raw pixels, so a shard file is ~0.5-2 MB once encoded."""
    return int(np.clip(16_000_000 // max(1, height * width * 3), 8, 256))


def _jpeg_codec(quality: int, pix_fmt: str) -> JpegCodec:
    from .codecs import JpegCodec

    full_chroma = "444" in pix_fmt or pix_fmt.startswith(("rgb", "bgr", "gbr"))
    return JpegCodec(quality=quality, subsampling="444" if full_chroma else "420")


def _codec_pipeline(codec: str, quality: int, pix_fmt: str) -> dict:
    # Every chunk ends with its CRC32C (zarr's crc32c codec): a flipped or truncated byte is an
    # error when the frame is read, never a wrong frame. (Shard indexes carry one already.)
    import zarr

    checksum = zarr.codecs.Crc32cCodec()
    if codec == "jpeg":
        return {"serializer": _jpeg_codec(quality, pix_fmt), "compressors": [checksum]}
    if codec == "lossless":
        blosc = zarr.codecs.BloscCodec(cname="zstd", clevel=3, shuffle="bitshuffle")
        return {"serializer": "auto", "compressors": [blosc, checksum]}
    raise StoreError(f"unknown frame codec {codec!r}; choose one of {', '.join(CODECS)}")


def _open_group(location: Location, mode: str, storage_options: dict | None) -> zarr.Group:
    """zarr's own store for the location: a local folder, or ``FsspecStore`` for a URL."""
    import zarr

    from . import codecs  # noqa: F401 - registers the JPEG codec a store may name

    if loc.is_remote(location):
        return zarr.open_group(
            location, mode=mode, zarr_format=3, storage_options=storage_options or {}
        )
    return zarr.open_group(location, mode=mode, zarr_format=3)


class FrameStore:
    """A zarr v3 frame store in a local folder or at an fsspec URL (layout: module docstring).

    ``path`` is a :class:`~pathlib.Path` for a local store and the URL string otherwise.
    """

    def __init__(
        self, path: str | os.PathLike, group: zarr.Group, storage_options: dict | None = None
    ):
        self.path: Location = loc.as_location(path)
        self.storage_options = dict(storage_options or {})
        self.group = group
        # A frame is never "empty": skipping zarr's per-chunk emptiness scan doubles write speed.
        self.frames: zarr.Array = group["frames"].with_config({"write_empty_chunks": True})
        self._meta = dict(group.attrs[ATTR])
        self._present: set[int] = set()  # shards whose file has been seen (see read())

    # -- creating and opening -------------------------------------------------------------
    @classmethod
    def create(
        cls,
        path: str | os.PathLike,
        index: VideoIndex,
        source: dict,
        *,
        channels: int = 3,
        codec: str = DEFAULT_CODEC,
        quality: int = DEFAULT_QUALITY,
        shard_frames: int | None = None,
        storage_options: dict | None = None,
    ) -> FrameStore:
        """Create an empty store for the video described by ``index`` (overwriting ``path``).

        ``path`` is a folder or an fsspec URL; ``storage_options`` go to fsspec for a URL.
        """
        path = loc.as_location(path)
        pipeline = _codec_pipeline(codec, quality, index.pix_fmt)
        shard = int(shard_frames or shard_frames_for(index.height, index.width))
        try:
            group = _open_group(path, "w", storage_options)
        except OSError as err:
            raise StoreError(f"{path}: cannot create a frame store here ({err})") from err
        shape = (index.n_frames, index.height, index.width, channels)
        group.create_array(
            "frames",
            shape=shape,
            dtype="uint8",
            chunks=(1, *shape[1:]),
            shards=(min(shard, index.n_frames), *shape[1:]),
            fill_value=0,
            dimension_names=("t", "y", "x", "c"),
            **pipeline,
        )
        group.create_array("pts", data=index.pts, chunks=(max(1, len(index.pts)),))
        group.create_array(
            "keyframe_pts", data=index.keyframe_pts, chunks=(max(1, len(index.keyframe_pts)),)
        )
        group.create_array("timestamps", data=index.timestamps, chunks=(max(1, len(index.pts)),))
        group.attrs[ATTR] = {
            "format": FORMAT,
            "version": VERSION,
            "source": source,
            "video": {
                "n_frames": index.n_frames,
                "height": index.height,
                "width": index.width,
                "channels": channels,
                "fps": index.fps,
                "time_base": [index.time_base.numerator, index.time_base.denominator],
                "codec": index.codec,
                "pix_fmt": index.pix_fmt,
            },
            "storage": {
                "codec": codec,
                "quality": quality if codec == "jpeg" else None,
                "shard_frames": shard,
                "checksum": "crc32c",  # stores made before checksums have none
            },
            "frames_written": 0,
            "complete": False,
            "created": uuid.uuid4().hex,  # tells a writer the store was re-created under it
        }
        return cls(path, group, storage_options)

    @classmethod
    def open(
        cls, path: str | os.PathLike, mode: str = "r+", storage_options: dict | None = None
    ) -> FrameStore:
        """Open an existing store (folder or URL), refusing foreign or newer-format ones.

        Example::

            FrameStore.open("s3://lab/frames/mouse.frames.zarr", mode="r")
        """
        path = loc.as_location(path)
        meta = read_meta(path, storage_options)
        if meta is None:
            if not loc.exists(path, storage_options):
                raise StoreError(f"{path}: no such frame store")
            raise StoreError(f"{path}: not a napari-superanimal frame store")
        if meta.get("version", 0) > VERSION:
            raise StoreError(
                f"{path}: frame store format v{meta['version']} is newer than this "
                f"napari-superanimal understands (v{VERSION}); upgrade napari-superanimal"
            )
        try:
            group = _open_group(path, mode, storage_options)
            return cls(path, group, storage_options)
        except (KeyError, ValueError, OSError) as err:
            raise StoreError(f"{path}: damaged frame store ({err})") from err

    @staticmethod
    def is_store(path: str | os.PathLike, storage_options: dict | None = None) -> bool:
        """True when ``path`` (a folder or URL) holds a frame store (of any version)."""
        return read_meta(loc.as_location(path), storage_options) is not None

    # -- metadata ---------------------------------------------------------------------------
    @property
    def meta(self) -> dict:
        return self._meta

    def refresh(self) -> None:
        """Re-read the attributes (another process may be converting into this store)."""
        fresh = read_meta(self.path, self.storage_options)
        if fresh is not None:
            self._meta = fresh

    @property
    def source(self) -> dict:
        return self._meta["source"]

    @property
    def n_frames(self) -> int:
        return int(self._meta["video"]["n_frames"])

    @property
    def channels(self) -> int:
        return int(self._meta["video"]["channels"])

    @property
    def shard_frames(self) -> int:
        return int(self.frames.shards[0]) if self.frames.shards else 1

    @property
    def frames_written(self) -> int:
        return int(self._meta["frames_written"])

    @property
    def complete(self) -> bool:
        return bool(self._meta["complete"]) and self.frames_written >= self.n_frames

    def video_index(self) -> VideoIndex:
        """The source's :class:`VideoIndex`, as recorded when the store was created."""
        video = self._meta["video"]
        return VideoIndex(
            n_frames=int(video["n_frames"]),
            height=int(video["height"]),
            width=int(video["width"]),
            fps=float(video["fps"]),
            time_base=Fraction(*video["time_base"]),
            pts=np.asarray(self.group["pts"][:], dtype=np.int64),
            keyframe_pts=np.asarray(self.group["keyframe_pts"][:], dtype=np.int64),
            codec=str(video["codec"]),
            pix_fmt=str(video["pix_fmt"]),
        )

    def _set(self, **values) -> None:
        self._meta.update(values)
        self.group.attrs[ATTR] = self._meta

    # -- frames -----------------------------------------------------------------------------
    def write_frames(self, start: int, block: np.ndarray) -> None:
        """Write frames ``start .. start+len(block)``: whole shards, safe to run concurrently."""
        if start % self.shard_frames:
            raise ValueError(f"blocks must start on a shard boundary, not at frame {start}")
        self.frames[start : start + len(block)] = block

    def set_frames_written(self, n: int) -> None:
        """Record that frames ``0 .. n`` are on disk (call in order, after :meth:`write_frames`)."""
        self._set(frames_written=int(n))

    def mark_complete(self) -> None:
        """Flag the store complete, last, once every shard's file is seen on disk; refuses
        while frames are missing."""
        if self.frames_written < self.n_frames:
            raise StoreError(
                f"{self.path}: only {self.frames_written} of {self.n_frames} frames written"
            )
        for shard in range(-(-self.n_frames // self.shard_frames)):
            if not self.shard_present(shard):
                first = shard * self.shard_frames
                raise StoreError(self._damage_message(first, "its shard file is missing"))
        self._set(complete=True)

    def read(self, i: int) -> np.ndarray:
        """Frame ``i`` as ``(H, W, 3) uint8`` (grayscale stores are expanded to RGB).

        A written frame whose shard file is gone, or whose bytes fail their checksum or do not
        decode, raises :class:`StoreError` naming the frames (zarr alone would give the fill
        value, a black frame, for a missing file). Each shard's file is looked for once.
        """
        shard = i // self.shard_frames
        if shard not in self._present and (i < self.frames_written or self.complete):
            if not self.shard_present(shard):
                raise StoreError(self._damage_message(i, "its shard file is missing"))
            self._present.add(shard)
        try:
            return _as_rgb(self.frames[i])
        except Exception as err:  # noqa: BLE001 - zarr, the codecs and the OS each raise their own
            raise StoreError(self._damage_message(i, _reason_of(err))) from err

    def shard_frames_range(self, shard: int) -> tuple[int, int]:
        """First and last frame of ``shard``."""
        first = shard * self.shard_frames
        return first, min(first + self.shard_frames, self.n_frames) - 1

    def shard_present(self, shard: int) -> bool:
        """Whether ``shard``'s file (or object, at a URL) exists."""
        from zarr.core.sync import sync

        key = self.frames.metadata.encode_chunk_key((shard, 0, 0, 0))
        store_path = self.frames.store_path
        return bool(sync(store_path.store.exists(f"{store_path.path}/{key}")))

    def delete_shard(self, shard: int) -> None:
        """Remove ``shard``'s file (a damaged one, before it is written anew: zarr reads an
        existing shard to merge a write into it, and a truncated one cannot be read)."""
        from zarr.core.sync import sync

        key = self.frames.metadata.encode_chunk_key((shard, 0, 0, 0))
        store_path = self.frames.store_path
        sync(store_path.store.delete(f"{store_path.path}/{key}"))
        self._present.discard(shard)

    def verify(self, progress: Callable[[int, int], None] | None = None) -> list[Damage]:
        """Read and decode every written frame (checksums included); the damaged shards.

        ``progress(done, total)`` is called after each shard, in frames."""
        written = self.n_frames if self.complete else self.frames_written
        n_shards = -(-written // self.shard_frames)
        damage = []
        for shard in range(n_shards):
            first, last = self.shard_frames_range(shard)
            if not self.shard_present(shard):
                damage.append(Damage(first, last, "its shard file is missing"))
            else:
                try:
                    self.frames[first : last + 1]
                except Exception as err:  # noqa: BLE001 - as in read()
                    damage.append(Damage(first, last, _reason_of(err)))
            if progress is not None:
                progress(min(last + 1, written), written)
        self._present -= {d.first // self.shard_frames for d in damage}
        return damage

    def _damage_message(self, frame: int, reason: str) -> str:
        first, last = self.shard_frames_range(frame // self.shard_frames)
        return (
            f"{self.path}: frame {frame} is damaged ({reason}; its shard holds frames "
            f"{first}-{last}); `napari-superanimal ingest VIDEO` re-converts it from the video"
        )

    def as_stored(self, pixels: np.ndarray) -> np.ndarray:
        """``(H, W, C)`` pixels of a frame not written yet, as :meth:`read` will return them
        once written (the store's lossy codec applied), so a frame read before conversion
        finishes is the frame read after it, and so are the predictions made on it."""
        storage = self.meta["storage"]
        if storage["codec"] == "jpeg":
            codec = _jpeg_codec(storage["quality"], self.meta["video"]["pix_fmt"])
            pixels = codec.roundtrip(pixels)
        return _as_rgb(pixels)

    def nbytes_on_disk(self) -> int:
        """Size of the store's files (or objects, at a URL) in bytes."""
        return loc.nbytes(self.path, self.storage_options)


@dataclass(frozen=True)
class Damage:
    """Frames ``first..last`` (one shard) of a store cannot be read, and why."""

    first: int
    last: int
    reason: str

    def __str__(self) -> str:
        return f"frames {self.first}-{self.last}: {self.reason}"


def _reason_of(err: Exception) -> str:
    text = str(err).splitlines()[0] if str(err) else type(err).__name__
    if "checksum" in text.lower():
        return "its bytes fail their checksum"
    return f"it does not decode: {text}"


def _as_rgb(frame: np.ndarray) -> np.ndarray:
    if frame.shape[-1] == 1:
        return np.concatenate([frame, frame, frame], axis=-1)  # 2x faster than np.repeat
    return frame


def read_meta(path: Location, storage_options: dict | None = None) -> dict | None:
    """The store's attribute block, or None when ``path`` (folder or URL) is not a frame store."""
    if loc.is_remote(path):
        return _read_remote_meta(path, storage_options)
    meta_file = Path(path) / "zarr.json"
    if not meta_file.is_file():
        return None
    with contextlib.suppress(OSError, ValueError):
        meta = json.loads(meta_file.read_text())
        block = meta.get("attributes", {}).get(ATTR)
        if isinstance(block, dict) and block.get("format") == FORMAT:
            return block
    return None


def _read_remote_meta(url: str, storage_options: dict | None) -> dict | None:
    # Through zarr's FsspecStore: one read of zarr.json, no listing.
    import zarr

    try:
        group = _open_group(url, "r", storage_options)
    except (zarr.errors.BaseZarrError, FileNotFoundError, KeyError, ValueError):  # absent, foreign
        return None
    except OSError as err:
        raise StoreError(f"{url}: cannot be read ({err})") from err
    block = group.attrs.get(ATTR)
    if isinstance(block, dict) and block.get("format") == FORMAT:
        return dict(block)
    return None
