"""Where a frame store lives: a local folder, or an fsspec URL (``s3://``, ``gs://``, ``memory://``).

A location is kept as a :class:`~pathlib.Path` when it is on this machine and as the URL string
otherwise. ``file://`` and ``local://`` URLs *are* local paths: they become a :class:`Path`, so
those stores keep what only a local filesystem gives, zarr's atomic file writes (temporary file
+ rename) and the conversion lock. Through fsspec a local file is rewritten in place, so a
process killed while it rewrites the store's ``zarr.json`` could leave it torn.

Any other URL is opened with zarr's own :class:`zarr.storage.FsspecStore`; its credentials and
options come from the environment and fsspec's configuration (``FSSPEC_S3_ENDPOINT_URL``,
``~/.config/fsspec/*.json``, ``AWS_PROFILE``, ...) or from ``storage_options`` in Python.
An object store replaces each object whole (a ``PUT`` is atomic), which is what the store's
crash safety needs: the shard files and ``zarr.json`` are each one object.

Example::

    from napari_superanimal.video.location import as_location, store_in
    as_location("file:///data/a.frames.zarr")      # PosixPath('/data/a.frames.zarr')
    as_location("s3://lab/frames/a.frames.zarr")   # 's3://lab/frames/a.frames.zarr'
    store_in("s3://lab/frames", "videos/a.mp4")    # 's3://lab/frames/a.frames.zarr'
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import StoreError

STORE_SUFFIX = ".frames.zarr"
LOCAL_PROTOCOLS = ("file", "local")

Location = Path | str  # a local folder, or a URL of any other protocol


def is_url(location: str | os.PathLike) -> bool:
    """True for ``protocol://...`` strings (and chained ``a::b://...`` fsspec URLs)."""
    return isinstance(location, str) and "://" in location


def protocols(url: str) -> list[str]:
    """The protocols of a URL, outermost first (``simplecache::s3://b`` -> simplecache, s3)."""
    head = url.split("://", 1)[0]
    return [p for p in head.split("::") if p]


def as_location(location: str | os.PathLike) -> Location:
    """A :class:`Path` for local paths and ``file://`` URLs, else the checked URL string.

    Raises :class:`StoreError` for a protocol fsspec does not know, or one whose package is not
    installed (``s3://`` needs ``s3fs``), so a bad URL fails at once in one line.
    """
    if not is_url(location):
        return Path(location)
    url = str(location)
    names = protocols(url)
    if len(names) == 1 and names[0] in LOCAL_PROTOCOLS:
        from fsspec.implementations.local import LocalFileSystem

        return Path(LocalFileSystem._strip_protocol(url))
    from fsspec import get_filesystem_class

    for name in names:
        try:
            get_filesystem_class(name)
        except ValueError as err:
            raise StoreError(f"{url}: unknown storage protocol {name}://") from err
        except ImportError as err:
            raise StoreError(
                f"{url}: the {name}:// protocol needs a package that is not installed ({err})"
            ) from err
    return url.rstrip("/")


def is_remote(location: Location) -> bool:
    """True when the store is reached through fsspec rather than the local filesystem."""
    return isinstance(location, str)


def name_of(location: Location) -> str:
    """The last part of a path or URL (``s3://b/x/a.frames.zarr`` -> ``a.frames.zarr``)."""
    if is_remote(location):
        return location.rstrip("/").rsplit("/", 1)[-1].split("://")[-1]
    return Path(location).name


def exists(location: Location, storage_options: dict | None = None) -> bool:
    """Whether anything is stored at ``location`` (a folder, or objects under a URL prefix)."""
    if not is_remote(location):
        return Path(location).exists()
    fs, path = _filesystem(location, storage_options)
    try:
        return bool(fs.exists(path))
    except OSError as err:
        raise StoreError(f"{location}: cannot be reached ({err})") from err


def nbytes(location: Location, storage_options: dict | None = None) -> int:
    """Total size in bytes of the files (or objects) under ``location``."""
    if not is_remote(location):
        return sum(f.stat().st_size for f in Path(location).rglob("*") if f.is_file())
    fs, path = _filesystem(location, storage_options)
    return int(fs.du(path, total=True))


def store_in(root: str | os.PathLike, video: str | os.PathLike) -> Location:
    """``<root>/<video stem>.frames.zarr``: where ``--store-root`` puts a video's store.

    A local root is made absolute (dask workers may run in another working directory).
    """
    stem = Path(str(video)).stem
    root_location = as_location(root)
    if is_remote(root_location):
        return f"{root_location}/{stem}{STORE_SUFFIX}"
    return Path(os.path.abspath(root_location)) / f"{stem}{STORE_SUFFIX}"


def _filesystem(url: str, storage_options: dict | None):
    from fsspec.core import url_to_fs

    return url_to_fs(url, **(storage_options or {}))
