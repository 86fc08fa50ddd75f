"""The label data model: point kinds, points, and the label table every format reads and writes.

- :class:`PointKind`: what a point on a frame is. The user's own points are ``labeled`` (placed
  or moved by hand), ``accepted`` (a prediction the user accepted) or ``hidden`` (occluded);
  the label store holds only those. What the viewer also shows is ``predicted`` (the active
  model's guess), ``uncertain`` (a guess below the confidence threshold) and ``stale`` (an
  older model version's guess, until the current one has run).
- :class:`Point`: one user point as the label store keeps it; :class:`FramePoint`: one point as
  a frame shows it (any kind, with a score).
- :class:`LabelTable`: the labels of one video in memory, one row per frame, one column per
  keypoint (one animal's; :class:`AnimalTables` holds one per animal). Each format module
  (:mod:`.io`) turns its file into a table and back; checks happen here, at the boundary,
  before anything reaches the label store: a malformed file raises
  :class:`~napari_superanimal.errors.LabelFormatError` whose one line names the file and the
  problem, and nothing is imported.

Example::

    from napari_superanimal.labels.model import LabelTable, Point, PointKind
    Point("nose", 101.5, 80.0, PointKind.LABELED)
    table = LabelTable.empty(["nose", "tail_base"], frames=[0, 10])
    table.xy[1, 0] = (101.5, 80.0)              # nose on frame 10
    table.check("labels.h5", keypoints=["nose", "tail_base"], size=(640, 480))
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum

import numpy as np

from ..errors import LabelFormatError

_FRAME_NUMBER = re.compile(r"(\d+)(?=\.[A-Za-z0-9]+$)")


class PointKind(str, Enum):
    """What a point on a frame is (see the module docstring). A ``str``, so it compares equal
    to its value and is stored as that text."""

    LABELED = "labeled"
    ACCEPTED = "accepted"
    HIDDEN = "hidden"
    PREDICTED = "predicted"
    UNCERTAIN = "uncertain"
    STALE = "stale"

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)

    @property
    def is_user(self) -> bool:
        """A point the user made or confirmed (kept in the label store, never overwritten)."""
        return self in USER_KINDS


#: The individual of every point in a single-animal project (and of every label made before
#: projects had individuals).
ONE_ANIMAL = ""

#: The individual of a project's unique keypoints: points of the scene or of no animal
#: (DeepLabCut's ``uniquebodyparts``, which it files under this individual).
UNIQUE = "single"

#: The kinds of point the label store holds: the user's own.
USER_KINDS = frozenset({PointKind.LABELED, PointKind.ACCEPTED, PointKind.HIDDEN})


@dataclass(frozen=True)
class Point:
    """One keypoint's label on one frame, as the label store keeps it.

    ``x``/``y`` may be None for a hidden point whose position was never known;
    ``model_version`` is the model a moved or accepted prediction came from; ``individual``
    the animal it belongs to (:data:`ONE_ANIMAL` in a single-animal project)."""

    keypoint: str
    x: float | None
    y: float | None
    state: PointKind
    model_version: str | None = None
    individual: str = ONE_ANIMAL

    def __post_init__(self):
        object.__setattr__(self, "state", PointKind(self.state))
        if not self.state.is_user:
            raise ValueError(f"a label is labeled, accepted or hidden, not {self.state.value!r}")


@dataclass(frozen=True)
class FramePoint:
    """What to draw for one keypoint on one frame: any :class:`PointKind`, with ``score`` the
    prediction's confidence (1.0 for the user's points), and the animal it belongs to."""

    keypoint: str
    x: float
    y: float
    kind: PointKind
    score: float
    individual: str = ONE_ANIMAL


@dataclass
class LabelTable:
    """Keypoint labels of one video (or one folder of images), one row per frame.

    ``xy`` is ``(N, K, 2)`` in pixels, NaN where a keypoint is not labeled. ``hidden`` marks
    keypoints labeled as occluded (COCO ``v=1``, SLEAP invisible points): their ``xy`` may be
    NaN or the last known position. ``frames`` are video frame indices (-1 when an image name
    carries no number); ``images`` the image paths as the file names them, if it does.
    ``scores`` (``(N, K)``) is set for predictions only; ``meta`` holds what a format needs to
    write the file back as it was (DeepLabCut's scorer and index style, COCO ids).
    """

    keypoints: tuple[str, ...]
    frames: list[int]
    xy: np.ndarray
    hidden: np.ndarray
    images: list[str] | None = None
    skeleton: list[tuple[str, str]] = field(default_factory=list)
    video: str | None = None
    scores: np.ndarray | None = None
    meta: dict = field(default_factory=dict)  # what a format keeps for writing back (scorer, ...)

    @classmethod
    def empty(
        cls, keypoints: Sequence[str], frames: Sequence[int], images: Sequence[str] | None = None
    ) -> LabelTable:
        """A table with every keypoint unlabeled on ``frames``."""
        n, k = len(frames), len(keypoints)
        return cls(
            keypoints=tuple(keypoints),
            frames=[int(f) for f in frames],
            xy=np.full((n, k, 2), np.nan),
            hidden=np.zeros((n, k), bool),
            images=None if images is None else list(images),
        )

    def __len__(self) -> int:
        return len(self.frames)

    @property
    def labeled(self) -> np.ndarray:
        """``(N, K)`` True where a keypoint has a position or is marked hidden."""
        return np.isfinite(self.xy).all(axis=-1) | self.hidden

    def reorder(self, keypoints: Sequence[str]) -> LabelTable:
        """The same labels with columns in ``keypoints`` order (the same set of names)."""
        order = [self.keypoints.index(k) for k in keypoints]
        return LabelTable(
            keypoints=tuple(keypoints),
            frames=list(self.frames),
            xy=self.xy[:, order],
            hidden=self.hidden[:, order],
            images=None if self.images is None else list(self.images),
            skeleton=list(self.skeleton),
            video=self.video,
            scores=None if self.scores is None else self.scores[:, order],
            meta=dict(self.meta),
        )

    def check(
        self,
        source,
        *,
        keypoints: Sequence[str] | None = None,
        size: tuple[int, int] | None = None,
        n_frames: int | None = None,
        sizes: Sequence[tuple[int, int] | None] | None = None,
    ) -> LabelTable:
        """Raise :class:`LabelFormatError` naming ``source`` if the table is unusable.

        Checks unique keypoint names, the keypoint set against ``keypoints`` (the project's,
        order free), numbers that are finite or NaN in both coordinates, positions inside the
        ``size`` (width, height) frame, or each row's own ``sizes``, frames inside ``n_frames``
        and no frame twice. Returns the table with columns in ``keypoints`` order.
        """
        check_unique(source, self.keypoints, "keypoint")
        if self.xy.shape != (len(self.frames), len(self.keypoints), 2):
            raise LabelFormatError(
                f"{source}: expected {len(self.frames)} x {len(self.keypoints)} points, "
                f"got an array of shape {self.xy.shape}"
            )
        table = self
        if keypoints is not None:
            check_keypoints(source, self.keypoints, keypoints)
            table = self.reorder(keypoints)
        table._check_numbers(source)
        if size is not None:
            sizes = [size] * len(table)
        if sizes is not None:
            table._check_inside(source, sizes)
        table._check_frames(source, n_frames)
        return table

    def _check_numbers(self, source) -> None:
        xy = self.xy
        if np.isinf(xy).any():
            row, col = np.argwhere(np.isinf(xy).any(-1))[0]
            raise LabelFormatError(
                f"{source}: {self.keypoints[col]} on {self._row_name(row)} is infinite"
            )
        half = np.isnan(xy).any(-1) & ~np.isnan(xy).all(-1)
        if half.any():
            row, col = np.argwhere(half)[0]
            raise LabelFormatError(
                f"{source}: {self.keypoints[col]} on {self._row_name(row)} has one coordinate "
                "and NaN for the other; both must be numbers or both empty"
            )
        if self.scores is not None and self.scores.shape != self.hidden.shape:
            raise LabelFormatError(f"{source}: scores do not match the points")

    def _check_inside(self, source, sizes: Sequence[tuple[int, int] | None]) -> None:
        for row, wh in enumerate(sizes):
            if wh is None:
                continue
            width, height = wh
            x, y = self.xy[row, :, 0], self.xy[row, :, 1]
            with np.errstate(invalid="ignore"):
                # pixel centres at c (napari) or c + 0.5 (DeepLabCut): accept both, as labeling does
                outside = (x < -0.5) | (x > width) | (y < -0.5) | (y > height)
            if outside.any():
                col = int(np.argmax(outside))
                raise LabelFormatError(
                    f"{source}: {self.keypoints[col]} on {self._row_name(row)} at "
                    f"({x[col]:.1f}, {y[col]:.1f}) is outside the {width}x{height} frame"
                )

    def _check_frames(self, source, n_frames: int | None) -> None:
        seen: dict[int, int] = {}
        for row, frame in enumerate(self.frames):
            if frame < 0:
                continue
            if n_frames is not None and frame >= n_frames:
                raise LabelFormatError(
                    f"{source}: {self._row_name(row)} is frame {frame}, outside the video "
                    f"(0-{n_frames - 1})"
                )
            if frame in seen:
                raise LabelFormatError(
                    f"{source}: {self._row_name(seen[frame])} and {self._row_name(row)} are "
                    f"both frame {frame}"
                )
            seen[frame] = row

    def _row_name(self, row: int) -> str:
        if self.images is not None:
            return self.images[row]
        return f"frame {self.frames[row]}"


@dataclass
class AnimalTables:
    """The labels of several animals in one video (a DeepLabCut multi-animal file): one
    :class:`LabelTable` per individual, in the file's order, all on the same rows; ``unique``
    holds the unique keypoints' (the scene's, DeepLabCut's ``uniquebodyparts``) on those rows,
    if any."""

    individuals: tuple[str, ...]
    tables: dict[str, LabelTable]
    skeleton: list[tuple[str, str]] = field(default_factory=list)
    unique: LabelTable | None = None

    @property
    def first(self) -> LabelTable:
        return self.tables[self.individuals[0]]

    @property
    def keypoints(self) -> tuple[str, ...]:
        return self.first.keypoints

    @property
    def frames(self) -> list[int]:
        return self.first.frames

    @property
    def video(self) -> str | None:
        return self.first.video

    @property
    def meta(self) -> dict:
        return self.first.meta

    @property
    def images(self) -> list[str] | None:
        return self.first.images

    @images.setter
    def images(self, names: Sequence[str] | None) -> None:
        for table in self.tables.values():
            table.images = None if names is None else list(names)

    def __len__(self) -> int:
        return len(self.first)


def frame_number(image: str) -> int:
    """The frame index in an image name (``img0042.png`` -> 42; DeepLabCut's naming), or -1."""
    name = re.split(r"[\\/]", str(image))[-1]
    match = _FRAME_NUMBER.search(name)
    return int(match.group(1)) if match else -1


def check_unique(source, names: Sequence[str], what: str) -> None:
    """Refuse duplicated names (two columns for one bodypart would silently overwrite)."""
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise LabelFormatError(f"{source}: {what} {name!r} appears twice")
        seen.add(name)
    if not names:
        raise LabelFormatError(f"{source}: no {what}s")


def check_keypoints(source, found: Sequence[str], expected: Sequence[str]) -> None:
    """Refuse a keypoint set that is not the project's (the order may differ)."""
    missing = [k for k in expected if k not in found]
    extra = [k for k in found if k not in expected]
    if missing or extra:
        parts = []
        if extra:
            parts.append(f"keypoints {_short(extra)} are not in the project")
        if missing:
            parts.append(f"the project's {_short(missing)} are missing")
        raise LabelFormatError(
            f"{source}: keypoint set does not match the project ({'; '.join(parts)})"
        )


def _short(names: Sequence[str], n: int = 4) -> str:
    shown = ", ".join(names[:n])
    return shown + (f", ... ({len(names)} in all)" if len(names) > n else "")
