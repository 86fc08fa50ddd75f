"""An exclusive, crash-safe lock on a folder or file (``flock``: released when the process dies).

Example::

    with StoreLock("mouse.frames.zarr"):
        ...  # only this process writes the store
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import StoreError

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; conversion there is single-process by usage.
    fcntl = None


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
