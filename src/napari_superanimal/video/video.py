"""A video opened for labeling: lazy frames from the store, decoded on demand until converted.

:func:`open_video` is the one entry point used by napari's reader, the CLI and notebooks. The
returned :class:`Video` is usable at once: ``video.frames`` is a dask array whose frames come
from the zarr store when they have been converted and from a frame-exact seek in the source
otherwise, so a one-hour video opens in about a second and converts in the background.

Example::

    from napari_superanimal import open_video
    v = open_video("mouse.mp4")      # starts converting in a background thread
    v.frames.shape, v.fps, len(v)    # (T, H, W, 3), frames per second, T
    v.wait()                         # block until the store is complete

    v = open_video("mouse.mp4", store="s3://lab/frames/mouse.frames.zarr")  # store at a URL
    v = open_video("s3://lab/frames/mouse.frames.zarr")                      # read it anywhere
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..errors import StoreError, VideoError
from . import location as loc
from .decode import (
    CONVERTERS,
    FrameReader,
    NotGrayError,
    iter_frames,
    to_gray,
    to_gray_exact,
    to_rgb,
)
from .location import Location
from .lock import writer_busy, writer_lock
from .probe import VIDEO_SUFFIXES, VideoIndex, fingerprint, index_video, quick_probe
from .store import (
    DEFAULT_CODEC,
    DEFAULT_QUALITY,
    STORE_SUFFIX,
    Damage,
    FrameStore,
    read_meta,
)

if TYPE_CHECKING:
    import dask.array as da

_GRAY_SAMPLES = 5
_WRITERS = 2  # shards being encoded and written while the next one decodes
_REFRESH_SECONDS = 1.0


def cache_dir() -> Path:
    """Where stores go when the video's folder is read-only (``$NAPARI_SUPERANIMAL_CACHE``)."""
    root = os.environ.get("NAPARI_SUPERANIMAL_CACHE")
    if root:
        return Path(root)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "napari-superanimal"


def default_store_path(video_path: str | os.PathLike) -> Path:
    """``<folder>/<name>.frames.zarr`` beside the video, or in :func:`cache_dir` if read-only."""
    video_path = Path(video_path).resolve()
    beside = video_path.with_name(video_path.stem + STORE_SUFFIX)
    if os.access(video_path.parent, os.W_OK):
        return beside
    tag = hashlib.blake2b(str(video_path).encode(), digest_size=4).hexdigest()
    return cache_dir() / "frames" / f"{video_path.stem}-{tag}{STORE_SUFFIX}"


def open_video(
    path: str | os.PathLike,
    store: str | os.PathLike | None = None,
    *,
    convert: bool = True,
    codec: str | None = None,
    quality: int = DEFAULT_QUALITY,
    shard_frames: int | None = None,
    overwrite: bool = False,
    storage_options: dict | None = None,
    lazy: bool = False,
) -> Video:
    """Open a video file (or an existing ``.frames.zarr`` store) for lazy, frame-exact reading.

    Parameters
    ----------
    path
        A video file (.mp4, .avi, .mov, .mkv, ...), a frame store folder, or the fsspec URL of
        a frame store (``s3://lab/frames/mouse.frames.zarr``; videos themselves are local files).
    store
        Where the frame store lives: a folder or an fsspec URL (see :mod:`.location`); default
        beside the video (see :func:`default_store_path`). An unchanged video reuses its store;
        a store made from a different video is refused.
    convert
        Start converting into the store in a background thread (``video.wait()`` joins it).
        Pass False to convert yourself with :meth:`Video.convert` or :meth:`Video.convert_iter`.
    codec, quality
        Frame codec for a new store: ``"jpeg"`` (default; lossy, ~25x smaller than lossless)
        or ``"lossless"`` (blosc-zstd, bit-exact). A codec named for an existing store that
        holds another is refused (rebuild it with ``overwrite=True``).
    shard_frames
        Frames per shard file of a new store (default: ~16 MB of raw pixels per shard).
    overwrite
        Rebuild the store even if it exists (also when it was made from another video).
    storage_options
        Passed to fsspec for a store at a URL (default: the environment and fsspec's config).
    lazy
        For a video seen for the first time, return as soon as its header is read and its first
        frame decoded (constant time, whatever its length: what napari's reader does so the
        frame is on screen at once); the frame index and the store are made in a background
        thread, and a broken file raises when something waits for them
        (:meth:`Video.ready`). By default the whole file is checked before this returns.

    Example::

        v = open_video("mouse.mp4", codec="lossless", convert=False)
        v.convert()
    """
    location = loc.as_location(path)  # file:// URLs are local paths
    if loc.is_remote(location):
        if Path(loc.name_of(location)).suffix.lower() in VIDEO_SUFFIXES:
            raise VideoError(
                f"{location}: videos are read from local files; a URL can only name a frame store"
            )
        video = Video._from_store(location, storage_options)
    else:
        path = location
        if path.is_dir() and not path.name.endswith(STORE_SUFFIX) and not FrameStore.is_store(path):
            raise VideoError(f"{path}: is a folder, not a video file or a frame store")
        if path.is_dir() or path.name.endswith(STORE_SUFFIX):
            video = Video._from_store(path)
        else:
            video = Video._from_source(
                path,
                store,
                codec=codec,
                quality=quality,
                shard_frames=shard_frames,
                overwrite=overwrite,
                storage_options=storage_options,
                lazy=lazy,
            )
    if convert and not video.complete:
        video.start_conversion()
    return video


class Video:
    """A video's frames as a lazy dask array, plus its rate, timestamps and store.

    A video seen for the first time is usable before it has been read through: its length,
    size and rate come from the container's header and its first frame is decoded at once
    (:func:`~.probe.quick_probe`), while the frame index and the store are made in a background
    thread; whatever needs them (any other frame, timestamps, the store, converting) waits for
    that, and a file that turns out to be broken raises there, in one line.
    """

    def __init__(self, store: FrameStore | None, source: Path | None, index: VideoIndex | None):
        self._store = store
        self.source_path = source
        self._index = index
        self._reader = FrameReader(source, index) if source is not None and index else None
        self._written = store.frames_written if store is not None else 0
        self._complete = store.complete if store is not None else False
        self._last_refresh = time.monotonic()
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._frames: da.Array | None = None
        self._ready = threading.Event()  # the index and the store exist
        self._stop = threading.Event()  # stop_conversion() was called
        self._prepare_error: BaseException | None = None
        self._quick = None  # the header's QuickProbe while the index is being made
        self._store_path = store.path if store is not None else None
        self._hash = store.source.get("hash") if store is not None else None
        if store is not None:
            self._ready.set()

    @classmethod
    def _pending(cls, path: Path, store_path, source: dict, quick, prepare) -> Video:
        """A video shown from its header while ``prepare()`` (returning ``(index, store)``)
        reads through it in a background thread."""
        video = cls(None, path, None)
        video._quick, video._store_path, video._hash = quick, store_path, source["hash"]

        def run() -> None:
            try:
                index, store = prepare()
                video._index, video._store = index, store
                video._reader = FrameReader(path, index)
            except BaseException as err:  # noqa: BLE001 - re-raised by whatever waits
                video._prepare_error = err
            finally:
                video._ready.set()

        threading.Thread(target=run, name=f"index {path.name}", daemon=True).start()
        return video

    def ready(self, timeout: float | None = None) -> Video:
        """Wait until the frame index and the store exist; raise what making them raised."""
        if not self._ready.wait(timeout):
            raise TimeoutError(f"{self.name}: still indexing")
        if self._prepare_error is not None:
            raise self._prepare_error
        return self

    @property
    def index(self) -> VideoIndex:
        """Every frame's timestamp and the keyframes (waits while the video is being indexed)."""
        return self.ready()._index

    @property
    def store(self) -> FrameStore:
        """The frame store (waits while the video is being indexed)."""
        return self.ready()._store

    @store.setter
    def store(self, store: FrameStore) -> None:
        self._store = store

    # -- construction -----------------------------------------------------------------------
    @classmethod
    def _from_source(
        cls,
        path: Path,
        store_path,
        *,
        codec,
        quality,
        shard_frames,
        overwrite,
        storage_options,
        lazy=False,
    ) -> Video:
        source = fingerprint_or_error(path)
        store_path = (
            loc.as_location(store_path) if store_path is not None else default_store_path(path)
        )
        if loc.exists(store_path, storage_options) and not overwrite:
            store = _open_existing(store_path, source, storage_options, codec)
            return cls(store, path, store.video_index())

        def prepare() -> tuple[VideoIndex, FrameStore]:
            index = index_video(path)
            if quick is not None and index.n_frames != quick.n_frames:
                raise VideoError(
                    f"{path}: its header lists {quick.n_frames} frames but {index.n_frames} "
                    "are present; remux it (ffmpeg -i IN -c copy OUT.mkv)"
                )
            channels = 1 if _is_gray(path, index) else 3
            if not loc.is_remote(store_path):
                store_path.parent.mkdir(parents=True, exist_ok=True)
            # the lock first: nothing is created or overwritten while another process converts
            with writer_lock(store_path):
                if not overwrite and loc.exists(store_path, storage_options):
                    store = _open_existing(store_path, source, storage_options, codec)
                    return store.video_index(), store
                store = FrameStore.create(
                    store_path,
                    index,
                    source,
                    channels=channels,
                    codec=codec or DEFAULT_CODEC,
                    quality=quality,
                    shard_frames=shard_frames,
                    storage_options=storage_options,
                )
            return index, store

        quick = quick_probe(path) if lazy else None  # the header and first frame: constant time
        if quick is None:  # read through it here (or the header gives no exact frame count)
            index, store = prepare()
            return cls(store, path, index)
        return cls._pending(path, store_path, source, quick, prepare)

    @classmethod
    def _from_store(cls, store_path: Location, storage_options: dict | None = None) -> Video:
        store = FrameStore.open(store_path, storage_options=storage_options)
        index = store.video_index()
        source = Path(store.source["path"])
        if store.complete:
            # a store built from a folder of images (video/images.py) has no source video
            return cls(store, source if source.is_file() else None, index)
        if not source.exists():
            raise StoreError(
                f"{store_path}: incomplete ({store.frames_written} of {store.n_frames} frames) "
                f"and its source video {source} is gone"
            )
        if not _same_source(store.source, fingerprint_or_error(source)):
            raise StoreError(f"{store_path}: incomplete, and {source} has changed since")
        return cls(store, source, index)

    # -- what users read --------------------------------------------------------------------
    def __len__(self) -> int:
        if self._index is None and self._quick is not None:
            return self._quick.n_frames
        return self.index.n_frames

    def __repr__(self) -> str:
        state = "complete" if self.complete else f"{self._written}/{len(self)} converted"
        return (
            f"<Video {self.name!r} {len(self)} frames {self.shape[1:]} @ {self.fps:g} fps, {state}>"
        )

    @property
    def name(self) -> str:
        return self.source_path.name if self.source_path else loc.name_of(self.store_path)

    @property
    def fps(self) -> float:
        if self._index is None and self._quick is not None:
            return self._quick.fps
        return self.index.fps

    @property
    def shape(self) -> tuple[int, int, int, int]:
        if self._index is None and self._quick is not None:
            q = self._quick
            return (q.n_frames, q.height, q.width, 3)
        return (self.index.n_frames, self.index.height, self.index.width, 3)

    @property
    def timestamps(self) -> np.ndarray:
        """Seconds from the first frame, one per frame (exact for variable frame rate)."""
        return self.index.timestamps

    @property
    def store_path(self) -> Location:
        """The store's folder (a :class:`Path`), or its URL (a ``str``) for a store at a URL."""
        return self._store_path

    @property
    def local_folder(self) -> Path:
        """Where outputs (predictions, the project) go by default: the store's folder; for a
        store at a URL, the source video's folder, else the working directory."""
        if not loc.is_remote(self.store_path):
            return self.store_path.parent
        if self.source_path is not None:
            return self.source_path.parent
        return Path.cwd()

    @property
    def complete(self) -> bool:
        return self._complete

    @property
    def frames_converted(self) -> int:
        return self._written

    @property
    def frames(self) -> da.Array:
        """``(T, H, W, 3) uint8`` dask array, one chunk per frame; nothing is read until sliced.

        Built with ``map_blocks`` so slicing one frame costs O(1) in the number of frames
        (a ``from_array`` graph over 100k chunks costs ~80 ms per slice).
        """
        if self._frames is None:
            import dask.array as da  # here: a second to import, not on the path to the first frame

            t, h, w, c = self.shape
            self._frames = da.map_blocks(
                _read_block,
                self,
                dtype=np.uint8,
                chunks=((1,) * t, (h,), (w,), (c,)),
                meta=np.empty((0, 0, 0, 0), dtype=np.uint8),
                name="frames-"
                + hashlib.blake2b(
                    f"{_location_key(self.store_path)}|{self._hash}".encode(),
                    digest_size=8,
                ).hexdigest(),
            )
        return self._frames

    def read_frame(self, i: int) -> np.ndarray:
        """Frame ``i`` as ``(H, W, 3) uint8``: from the store if converted, else decoded."""
        i = int(i)
        if not 0 <= i < len(self):
            raise IndexError(f"frame {i} out of range 0..{len(self) - 1}")
        if i == 0 and self._quick is not None and not self._ready.is_set():
            return self._quick.first_frame.copy()  # on screen before the index is made
        self.ready()
        if i >= self._written and not self._complete:
            self._maybe_refresh()
        if i < self._written or self._complete:
            return self.store.read(i)
        if self._reader is None:
            raise VideoError(f"{self.store_path}: frame {i} is not converted and no source video")
        frame = self._reader.decode(i)
        try:
            pixels = CONVERTERS[self._conversion_mode()](frame)
        except NotGrayError:  # colour in a grey store: the converter will rebuild it in colour
            pixels = to_rgb(frame)
        return self.store.as_stored(pixels)

    def _maybe_refresh(self) -> None:
        # Another process may be converting this store; look at its progress now and then.
        if self._thread is None and time.monotonic() - self._last_refresh > _REFRESH_SECONDS:
            self._last_refresh = time.monotonic()
            self.store.refresh()
            self._written = max(self._written, self.store.frames_written)
            self._complete = self.store.complete

    # -- conversion -------------------------------------------------------------------------
    def convert_iter(self) -> Iterator[int]:
        """Convert the rest of the video into the store, yielding frames done after each shard.

        Resumes after the last complete shard. Holds the store's writer lock
        (:func:`~.lock.writer_lock`), so two processes never write one store at once: a second
        one raises :class:`StoreError`, and so does a store another process re-created since
        this one was opened. A store at a URL
        has no lock (object stores have no ``flock``): one writer per store is up to the caller
        (the cluster runs one ingest task per store).
        """
        if self._complete:
            return
        self.ready()  # the index and the store first (a video seen for the first time)
        if self.source_path is None:
            raise StoreError(f"{self.store_path}: incomplete and no source video to convert from")
        with writer_lock(self.store_path):
            fresh = read_meta(self.store_path, self.store.storage_options)
            if fresh is None or fresh.get("created") != self.store.meta.get("created"):
                raise StoreError(
                    f"{self.store_path}: another process re-created this store; "
                    "open the video again"
                )
            self.store.refresh()
            yield from self._convert_locked()

    def _convert_locked(self) -> Iterator[int]:
        store = self.store
        shard = store.shard_frames
        start = store.frames_written - store.frames_written % shard
        yield start
        if store.frames_written >= len(self):  # a stop came as the last shard settled
            store.mark_complete()
            self._complete = True
            return
        # Decoding runs here while writer threads encode and write earlier shards (zarr encodes
        # a shard's chunks in threads; imagecodecs and FFmpeg release the GIL). Shards finish
        # in any order but progress is recorded in order, so frames_written never runs ahead.
        pending: deque[tuple[int, Future]] = deque()
        with ThreadPoolExecutor(_WRITERS, thread_name_prefix="frame-writer") as writer:

            def settle(keep: int) -> Iterator[int]:
                while len(pending) > keep:
                    end, future = pending.popleft()
                    future.result()
                    store.set_frames_written(end)
                    self._written = end
                    yield end

            block = np.empty((shard, *store.frames.shape[1:]), dtype=np.uint8)
            block_start, n = start, 0
            try:
                for i, pixels in iter_frames(
                    self.source_path, self.index, start, mode=self._conversion_mode()
                ):
                    block[n] = pixels
                    n += 1
                    if n == shard or i == len(self) - 1:
                        future = writer.submit(store.write_frames, block_start, block[:n].copy())
                        pending.append((block_start + n, future))
                        block_start, n = block_start + n, 0
                        yield from settle(keep=_WRITERS)
                        if self._stop.is_set():
                            break
            except NotGrayError:
                for _, future in pending:
                    future.result()
                self._rebuild_as_color()
                yield from self._convert_locked()
                return
            yield from settle(keep=0)
        if self._stop.is_set():
            self._stop.clear()
            if self._written < len(self):
                return  # asked to stop: the shards written so far stay, the next open resumes
        store.mark_complete()
        self._complete = True

    def _conversion_mode(self) -> str:
        if self.store.channels == 3:
            return "rgb"
        return "gray_exact" if self.store.meta["storage"]["codec"] == "lossless" else "gray"

    def _rebuild_as_color(self) -> None:
        # A frame with colour after sampled grey frames: start again with three channels.
        meta = self.store.meta
        self.store = FrameStore.create(
            self.store_path,
            self.index,
            meta["source"],
            channels=3,
            codec=meta["storage"]["codec"],
            quality=meta["storage"]["quality"] or DEFAULT_QUALITY,
            shard_frames=self.store.shard_frames,
            storage_options=self.store.storage_options,
        )
        self._written = 0

    def repair(self, damage: list[Damage]) -> int:
        """Re-convert the damaged shards :meth:`FrameStore.verify` found, from the source video
        (under the writer lock); the number of frames rewritten. The rest is not touched."""
        if not damage:
            return 0
        if self.source_path is None:
            raise StoreError(f"{self.store_path}: damaged, and no source video to re-convert from")
        store, done = self.store, 0
        with writer_lock(self.store_path):
            for d in damage:
                block = np.empty((d.last - d.first + 1, *store.frames.shape[1:]), dtype=np.uint8)
                frames = iter_frames(
                    self.source_path, self.index, d.first, mode=self._conversion_mode()
                )
                with contextlib.closing(frames):
                    for i, pixels in frames:
                        block[i - d.first] = pixels
                        if i == d.last:
                            break
                store.delete_shard(d.first // store.shard_frames)
                store.write_frames(d.first, block)
                done += len(block)
        return done

    def stop_conversion(self) -> None:
        """Ask a running conversion (in any thread) to stop after the shard it is writing; it
        releases the store's writer lock, and a later conversion resumes from there."""
        if self._written < len(self) and not self._complete:
            self._stop.set()

    def convert(self, progress: Callable[[int, int], None] | None = None) -> Video:
        """Convert to completion in this thread; ``progress(done, total)`` after each shard."""
        for done in self.convert_iter():
            if progress is not None:
                progress(done, len(self))
        return self

    def start_conversion(self) -> threading.Thread:
        """Convert in a daemon thread; errors are re-raised by :meth:`wait`."""
        if self._thread is None or not self._thread.is_alive():

            def run() -> None:
                try:
                    self.convert()
                except BaseException as err:  # noqa: BLE001 - handed to wait()
                    self._error = err

            self._thread = threading.Thread(target=run, name=f"convert {self.name}", daemon=True)
            self._thread.start()
        return self._thread

    def wait(self, timeout: float | None = None) -> Video:
        """Wait for a background conversion; raise what it raised."""
        if self._thread is not None:
            self._thread.join(timeout)
        if self._error is not None:
            raise self._error
        return self


def _open_existing(
    store_path, source: dict, storage_options: dict | None, codec: str | None = None
) -> FrameStore:
    """The store already made from ``source`` (perhaps by another process just now); refuses
    one made from another video or with another ``codec`` than asked, and says so when another
    process is still creating it."""
    try:
        store = FrameStore.open(store_path, storage_options=storage_options)
    except StoreError as err:
        if not loc.is_remote(store_path) and writer_busy(store_path):
            raise StoreError(f"{store_path}: another process is converting this video") from err
        raise
    if not _same_source(store.source, source):
        raise StoreError(
            f"{store_path}: was made from a different video "
            f"({store.source.get('path')}); delete it or pass overwrite=True"
        )
    held = store.meta["storage"]["codec"]
    if codec is not None and codec != held:
        raise StoreError(
            f"{store_path}: holds {held} frames, not {codec}; rebuild it with overwrite=True "
            "(ingest --overwrite)"
        )
    if store.source != source:  # same content, moved or touched: remember where it is
        with contextlib.suppress(OSError):  # (best effort: a store on read-only media)
            store._set(source=source)
    return store


def _read_block(video: Video, block_id: tuple[int, ...] | None = None) -> np.ndarray:
    return video.read_frame(block_id[0])[None]


def _location_key(location: Location) -> str:
    return location if loc.is_remote(location) else str(Path(location).resolve())


def fingerprint_or_error(path: Path) -> dict:
    try:
        return fingerprint(path)
    except FileNotFoundError as err:
        raise VideoError(f"{path}: no such file") from err
    except PermissionError as err:
        raise VideoError(f"{path}: cannot be read (permission denied)") from err
    except IsADirectoryError as err:
        raise VideoError(f"{path}: is a folder, not a video file") from err


def _same_source(recorded: dict, current: dict) -> bool:
    return recorded.get("size") == current["size"] and recorded.get("hash") == current["hash"]


def _is_gray(path: Path, index: VideoIndex) -> bool:
    """Store one channel when sampled frames are grey (R == G == B, neutral chroma).

    Every frame is checked again while converting (:func:`~.decode.to_gray`); a frame with
    colour restarts the conversion with three channels.
    """
    reader = FrameReader(path, index)
    try:
        # Keyframes decode without decoding anything before them: sample those.
        keys = np.searchsorted(index.pts, index.keyframe_pts)
        picks = keys[np.unique(np.linspace(0, len(keys) - 1, _GRAY_SAMPLES).astype(int))]
        for i in picks:
            frame = reader.decode(int(i))
            try:
                to_gray_exact(frame)
                to_gray(frame)
            except NotGrayError:
                return False
        return True
    finally:
        reader.close()
