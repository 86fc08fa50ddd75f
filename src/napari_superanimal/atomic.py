"""Write files whole or not at all: write a temporary file beside the target, then rename.

Example::

    with atomic_path("poses.h5") as tmp:
        frame.to_hdf(tmp, key="df_with_missing")
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path`` in one rename."""
    path = Path(path)
    # unique per process and thread: two writers of the same file never share a temporary
    tmp = path.with_name(f"{path.name}.{os.getpid()}-{threading.get_ident()}.partial")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
