"""The active model's predictions of every frame, in memory: O(keypoints) access to any frame.

A :class:`PredictionCache` holds one ``(T, K, 3)`` float32 array (x, y, score; NaN where a frame
was not predicted; ``(T, A, K, 3)`` with ``n_animals`` A) for the active model version, and the
previous version's array while the new one fills in ("stale" predictions the viewer shows greyed
out). Worker threads write it while the GUI thread reads it, so every access holds a lock; the
project on disk stays the record.

Example::

    cache = PredictionCache(n_frames=300, n_keypoints=4)
    cache.set([10, 11], poses)      # (2, 4, 3)
    cache.frame(10)                 # (4, 3), or None when frame 10 was never predicted
"""

from __future__ import annotations

import threading

import numpy as np


class PredictionCache:
    """Thread-safe predictions of the active model version (see the module docstring)."""

    def __init__(
        self,
        n_frames: int,
        n_keypoints: int,
        stored: np.ndarray | None = None,
        n_animals: int = 0,
    ):
        animals = (int(n_animals),) if n_animals else ()
        self.shape = (int(n_frames), *animals, int(n_keypoints), 3)
        self._lock = threading.Lock()
        self._current = self._filled(stored)
        self._stale: np.ndarray | None = None

    def _filled(self, stored: np.ndarray | None) -> np.ndarray:
        full = np.full(self.shape, np.nan, np.float32)
        if stored is not None:
            n = min(len(stored), len(full))
            full[:n] = stored[:n]
        return full

    def frame(self, frame: int) -> np.ndarray | None:
        """``(K, 3)`` (``(A, K, 3)``) of ``frame``, or None if it was not predicted."""
        with self._lock:
            row = self._current[frame]
            return None if np.isnan(row[..., 2]).all() else row.copy()

    def stale_frame(self, frame: int) -> np.ndarray | None:
        """Like :meth:`frame`, from the model version active before this one, if any."""
        with self._lock:
            if self._stale is None:
                return None
            row = self._stale[frame]
            return None if np.isnan(row[..., 2]).all() else row.copy()

    def set(self, frames, poses: np.ndarray) -> None:
        with self._lock:
            self._current[np.asarray(frames, dtype=np.int64)] = poses

    def replace(self, stored: np.ndarray | None, keep_stale: bool) -> None:
        """Another model version is active: its stored predictions become the current ones;
        with ``keep_stale`` the old ones stay visible (greyed out) until refreshed."""
        fresh = self._filled(stored)
        with self._lock:
            self._stale = self._current if keep_stale else None
            self._current = fresh

    def view(self) -> np.ndarray:
        """A read-only view of the whole array: cheap, and it fills in as predictions arrive."""
        with self._lock:
            view = self._current.view()
        view.flags.writeable = False
        return view

    def copy(self) -> np.ndarray:
        with self._lock:
            return self._current.copy()
