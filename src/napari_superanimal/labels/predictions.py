"""A project's stored predictions: ``predictions.zarr``, one array per video and model version.

A single-animal project keeps ``(T, K, 3)`` float32 (x, y, score; NaN where a frame was not
predicted). A project with several animals keeps ``(T, A, K, 3)``, one row per individual, and
records the individuals' names in the array's ``individuals`` attribute, so renaming, adding or
dropping an animal later never puts one animal's points under another's name. Arrays are read
in the layout of the project's animals *now*: an array written before the project had animals
is the first animal's (as its labels are, :meth:`~.project.Project.set_individuals`); an animal
an array does not know reads as NaN. An array whose layout no longer fits is rewritten in the
new one the next time its version is written.

Example::

    store = PredictionArrays(folder / "predictions.zarr", n_keypoints=27)
    store.save("mouse.mp4", "v1", poses, individuals=("m1", "m2"), n_frames=300)  # (300, 2, 27, 3)
    store.read("mouse.mp4", "v1", individuals=("m2",))                           # (300, 1, 27, 3)
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import zarr

from ..errors import ProjectError

_CHUNK_FRAMES = 1024
_ATTR = "individuals"


class PredictionArrays:
    """The zarr group of a project's predictions (see the module docstring)."""

    def __init__(self, path: Path, n_keypoints: int):
        self.path = Path(path)
        self.n_keypoints = int(n_keypoints)
        self._lock = threading.Lock()  # written from prediction workers and the GUI thread

    def _group(self, mode: str = "a") -> zarr.Group:
        return zarr.open_group(self.path, mode=mode, zarr_format=3)

    def shape_of(self, n: int, individuals: Sequence[str]) -> tuple[int, ...]:
        """``(n, K, 3)`` for one animal, ``(n, A, K, 3)`` for ``individuals``."""
        animals = (len(individuals),) if individuals else ()
        return (int(n), *animals, self.n_keypoints, 3)

    def save(
        self,
        video: str,
        version: str,
        poses: np.ndarray,
        individuals: Sequence[str] = (),
        frames: Sequence[int] | None = None,
        n_frames: int | None = None,
    ) -> None:
        """Write ``poses`` (``shape_of(N, individuals)``) for ``frames`` (default: the first
        N). ``n_frames``: the video's length, for a new array."""
        individuals = tuple(individuals)
        poses = np.asarray(poses, dtype=np.float32)
        if poses.shape[1:] != self.shape_of(0, individuals)[1:]:
            want = "(N, " + ", ".join(map(str, self.shape_of(0, individuals)[1:])) + ")"
            raise ProjectError(f"predictions must be {want}, got {poses.shape}")
        total = n_frames or (len(poses) if frames is None else max(frames) + 1)
        name = f"{video}/{version}"
        with self._lock:
            group = self._group()
            array = group.get(name)
            if array is not None and _layout(array) != individuals:
                old = _mapped(array, individuals, self.shape_of(array.shape[0], individuals))
                del group[name]
                array = self._create(group, name, version, individuals, max(total, len(old)))
                array[: len(old)] = old
            elif array is None:
                array = self._create(group, name, version, individuals, total)
            if frames is None:
                array[: len(poses)] = poses
            else:
                array.set_orthogonal_selection((np.asarray(frames),), poses)

    def _create(self, group, name: str, version: str, individuals: tuple, n: int) -> zarr.Array:
        shape = self.shape_of(n, individuals)
        array = group.create_array(
            name,
            shape=shape,
            chunks=(_CHUNK_FRAMES, *shape[1:]),
            dtype="float32",
            fill_value=np.nan,
        )
        array.attrs["model_version"] = version
        if individuals:
            array.attrs[_ATTR] = list(individuals)
        return array

    def read(self, video: str, version: str, individuals: Sequence[str] = ()) -> np.ndarray:
        """Every frame's predictions of ``version``, in the layout of ``individuals``."""
        array = self._group("r")[f"{video}/{version}"]
        individuals = tuple(individuals)
        return _mapped(array, individuals, self.shape_of(array.shape[0], individuals))

    def frame(
        self, video: str, version: str, frame: int, individuals: Sequence[str] = ()
    ) -> np.ndarray | None:
        """One frame's predictions (``(K, 3)`` or ``(A, K, 3)``), or None if never made."""
        array = self._group("r")[f"{video}/{version}"]
        if frame >= array.shape[0]:
            return None
        individuals = tuple(individuals)
        values = _mapped(array, individuals, self.shape_of(1, individuals), rows=frame)[0]
        return None if np.isnan(values).all() else values


def in_animal_row(poses: np.ndarray, n_animals: int, row: int) -> np.ndarray:
    """One animal's ``(N, K, 3)`` predictions as ``(N, n_animals, K, 3)``, in ``row`` (the
    other animals NaN: not found)."""
    poses = np.asarray(poses, np.float32)
    out = np.full((len(poses), n_animals, *poses.shape[1:]), np.nan, np.float32)
    out[:, row] = poses
    return out


def _layout(array: zarr.Array) -> tuple[str, ...]:
    """The individuals an array's rows belong to; () for a one-animal array."""
    if array.ndim == 3:
        return ()
    return tuple(array.attrs.get(_ATTR) or ())


def _mapped(array: zarr.Array, individuals: tuple, shape: tuple, rows=None) -> np.ndarray:
    """``array`` (all rows, or the one frame ``rows``) laid out for ``individuals``."""
    values = np.asarray(array[:] if rows is None else array[rows : rows + 1])
    stored = _layout(array)
    if stored == individuals:
        return values
    out = np.full((len(values), *shape[1:]), np.nan, np.float32)
    if not individuals:  # one animal now: the array's first animal
        out[:] = values if not stored else values[:, 0]
    elif not stored:  # one animal then: the first individual's, as its labels are
        out[:, 0] = values
    else:
        for i, name in enumerate(individuals):
            if name in stored:
                out[:, i] = values[:, stored.index(name)]
    return out
