"""A frame store built from a folder of images, for DeepLabCut projects whose video is gone.

DeepLabCut keeps the frames it asked people to label as ``labeled-data/<video>/img*.png``;
projects are often shared without their videos. :func:`images_to_store` writes those images,
in name order, into a normal frame store (lossless by default: PNGs are), so a
:class:`~napari_superanimal.session.Session` opens them like a video whose frame ``i`` is the
``i``-th image. The store remembers the image names (``source["images"]``), which is how
labels that name images find their frame.

Example::

    from napari_superanimal.session import Session
    from napari_superanimal.video.images import images_to_store
    store = images_to_store("reaching/labeled-data/reachingvideo1", "reaching.frames.zarr")
    with Session.open(store, project="reaching.superanimal", keypoints=["Hand", ...]) as s:
        s.import_labels("reaching/")
"""

from __future__ import annotations

import hashlib
import os
from fractions import Fraction
from pathlib import Path

import numpy as np

from ..errors import VideoError
from .probe import VideoIndex
from .store import STORE_SUFFIX, FrameStore

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")


def list_images(folder: str | os.PathLike) -> list[Path]:
    """The images in ``folder``, sorted by name (DeepLabCut's zero-padded names sort by frame)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise VideoError(f"{folder}: no such folder")
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def images_to_store(
    folder: str | os.PathLike,
    store: str | os.PathLike | None = None,
    *,
    codec: str = "lossless",
    quality: int = 90,
    overwrite: bool = False,
    pad: bool = False,
) -> Path:
    """Write the images of ``folder`` into a frame store; returns its path.

    All images must have the same size (a clear error names the first that differs), unless
    ``pad``: then smaller images are padded with black on the right and bottom to the largest
    width and height, which leaves pixel coordinates (and so labels) unchanged. The
    default store is ``<folder>.frames.zarr`` beside the folder, or in the cache folder when
    that is read-only. An existing store made from the same images is reused.
    """
    from PIL import Image

    from .video import cache_dir

    folder = Path(folder).resolve()
    files = list_images(folder)
    if not files:
        raise VideoError(f"{folder}: no images ({', '.join(IMAGE_SUFFIXES)})")
    source = _fingerprint(folder, files)
    path = Path(store) if store is not None else _default_store(folder, cache_dir())
    if path.exists() and not overwrite:
        existing = FrameStore.open(path)
        if existing.complete and existing.source.get("hash") == source["hash"]:
            return path
        raise VideoError(f"{path}: already holds other frames; delete it or pass overwrite=True")
    sizes = []
    for file in files:  # every size first: a mismatch fails before anything is written
        try:
            with Image.open(file) as im:
                sizes.append(im.size)
        except (OSError, ValueError) as err:
            raise VideoError(f"{file}: not a readable image ({err})") from err
        if sizes[-1] != sizes[0] and not pad:
            (w, h), (w0, h0) = sizes[-1], sizes[0]
            raise VideoError(
                f"{file}: is {w}x{h} but {files[0].name} is {w0}x{h0}; all images of a folder "
                "must have the same size (or pad them: pad=True, --pad)"
            )
    width, height = max(w for w, _ in sizes), max(h for _, h in sizes)
    source["padded"] = len(set(sizes)) > 1
    n = len(files)
    index = VideoIndex(
        n_frames=n,
        height=height,
        width=width,
        fps=1.0,
        time_base=Fraction(1, 1),
        pts=np.arange(n, dtype=np.int64),
        keyframe_pts=np.arange(n, dtype=np.int64),
        codec="images",
        pix_fmt="rgb24",
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    frames = FrameStore.create(path, index, source, codec=codec, quality=quality)
    shard = frames.shard_frames
    for start in range(0, n, shard):
        block = np.stack([_read_rgb(f, width, height) for f in files[start : start + shard]])
        frames.write_frames(start, block)
        frames.set_frames_written(start + len(block))
    frames.mark_complete()
    return path


def store_images(store: FrameStore) -> list[str] | None:
    """The image names a store was built from, in frame order (None for a video's store)."""
    images = store.source.get("images")
    return list(images) if images is not None else None


def _read_rgb(file: Path, width: int, height: int) -> np.ndarray:
    from PIL import Image

    with Image.open(file) as im:
        rgb = np.asarray(im.convert("RGB"))
    if rgb.shape[:2] != (height, width):  # pad right and bottom: coordinates stay as they are
        out = np.zeros((height, width, 3), np.uint8)
        out[: rgb.shape[0], : rgb.shape[1]] = rgb
        rgb = out
    return rgb


def _fingerprint(folder: Path, files: list[Path]) -> dict:
    digest = hashlib.blake2b(digest_size=16)
    for file in files:
        st = file.stat()
        digest.update(f"{file.name}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    return {
        "path": str(folder),
        "size": sum(f.stat().st_size for f in files),
        "mtime": max(f.stat().st_mtime for f in files),
        "hash": "images-blake2b:" + digest.hexdigest(),
        "images": [f.name for f in files],
    }


def _default_store(folder: Path, cache: Path) -> Path:
    beside = folder.with_name(folder.name + STORE_SUFFIX)
    if os.access(folder.parent, os.W_OK):
        return beside
    tag = hashlib.blake2b(str(folder).encode(), digest_size=4).hexdigest()
    return cache / "frames" / f"{folder.name}-{tag}{STORE_SUFFIX}"
