"""An exclusive, crash-safe lock on a folder or file (``flock``: released when the process dies).

A frame store's writer lock lives beside the store (``mouse.frames.zarr.lock``), not inside
it: creating or overwriting a store empties its folder, and a lock file inside would go with it.

Example::

    with writer_lock("mouse.frames.zarr"):
        ...  # only this process creates, overwrites or converts the store
"""

from __future__ import annotations

import contextlib
import os
import warnings
from pathlib import Path

from ..errors import StoreError

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; conversion there is single-process by usage.
    fcntl = None


class UnlockedStoreWarning(UserWarning):
    """A frame store at a URL is being written with no lock: two writers are possible."""


class StoreLock:
    """Hold an exclusive lock on ``<store>/.lock``; a second holder gets :class:`StoreError`.

    ``lock_file`` overrides where the lock lives and ``busy`` the message a second holder gets.
    """

    def __init__(
        self,
        store_path: str | os.PathLike,
        *,
        lock_file: str | os.PathLike | None = None,
        busy: str = "another process is converting this video",
        error: type[Exception] = StoreError,
    ):
        self.path = Path(lock_file) if lock_file is not None else Path(store_path) / ".lock"
        self.target = Path(store_path)
        self.busy = busy
        self.error = error
        self._fd: int | None = None

    def __enter__(self) -> StoreLock:
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        if fcntl is not None:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError as err:
                os.close(self._fd)
                self._fd = None
                raise self.error(f"{self.target}: {self.busy}") from err
        return self

    def __exit__(self, *exc) -> None:
        if self._fd is not None:
            if fcntl is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


BUSY = "another process is converting this video"


def writer_lock(store_path) -> StoreLock | contextlib.nullcontext:
    """The lock a process holds while it creates, overwrites or converts a local frame store
    (``<store>.lock`` beside it). A store at a URL has none: object stores have no ``flock``."""
    if isinstance(store_path, str) and "://" in store_path:
        warnings.warn(
            f"{store_path}: a store at a URL cannot be locked; if another process writes it "
            "at the same time (a second ingest, a cluster task), frames can be lost",
            UnlockedStoreWarning,
            stacklevel=3,
        )
        return contextlib.nullcontext()
    path = Path(store_path)
    return StoreLock(path, lock_file=path.with_name(path.name + ".lock"), busy=BUSY)


def writer_busy(store_path) -> bool:
    """True while another process holds ``store_path``'s writer lock."""
    path = Path(store_path)
    if not path.with_name(path.name + ".lock").exists():
        return False
    try:
        with writer_lock(store_path):
            return False
    except StoreError:
        return True
