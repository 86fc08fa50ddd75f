"""Training on several animals: one top-down crop per labeled animal, as DeepLabCut trains.

A round on a project with animals does not train on whole frames, where the other animals would
be unlabeled "background". Every animal with at least two labeled or accepted points on a frame
gives one sample: the 256x256 crop DeepLabCut's top-down pipeline feeds the network for a box
around those points (:func:`~..model.boxes.animal_box`: their extent plus 20 px a side, then
DeepLabCut's crop with context: :func:`~..model.preprocess.crop_with_context`), its keypoints
moved into the crop. Memory replay is per animal: keypoints the user did not touch take that
animal's stored prediction where it was confident, moved into the same crop.

The crops are written once (``models/.crops/<n>.npy`` in the project) and read as a "video" of
crops (:class:`CropFrames`), so the round itself (:func:`~.finetune.run_round`, in this process
or a child) runs unchanged: the network sees exactly what it sees at prediction time, where the
detector's box is cropped the same way. Errors are reported in frame pixels (each crop's scale).

Example::

    crops = cut_animal_crops(session, folder)     # AnimalCrops: labels, replay, the file
    CropFrames(crops.path).read_frame(0)          # (256, 256, 3): the first labeled animal
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from ..labels.model import UNIQUE
from ..model.boxes import animal_box, sure_box
from ..model.inference import TOP_DOWN_SIZE
from ..model.preprocess import crop_with_context
from .samples import FrameLabels, frame_labels


class CropFrames:
    """Training crops as a video (``read_frame``, ``len``, ``shape``); pickles as its path,
    so a training child process opens the file itself."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._array: np.ndarray | None = None

    def _data(self) -> np.ndarray:
        if self._array is None:
            self._array = np.load(self.path, mmap_mode="r")
        return self._array

    def __len__(self) -> int:
        return len(self._data())

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self._data().shape)

    def read_frame(self, index: int) -> np.ndarray:
        return np.array(self._data()[int(index)])

    def __getstate__(self) -> dict:
        return {"path": self.path, "_array": None}


@dataclass
class AnimalCrops:
    """What :func:`cut_animal_crops` made: per crop (its index is its "frame"), the frame and
    animal it shows, the user's points and the replayed predictions in crop pixels, and how
    many frame pixels a crop pixel is."""

    path: Path
    frames: list[int]
    animals: list[str]
    labels: dict[int, FrameLabels]
    predictions: dict[int, np.ndarray]
    scales: dict[int, float]
    pseudo: list[int] = field(default_factory=list)  # crops of animals nobody labeled there


def labeled_animals(session, frame: int):
    """``(animal, FrameLabels, box)`` for each animal with a box around the user's points on
    ``frame`` (the scene's unique keypoints are no animal)."""
    size = tuple(session.video.shape[1:3])
    for animal, points in session.animals(frame).items():
        if animal == UNIQUE:
            continue
        user = frame_labels(points, session.keypoints)
        box = animal_box(user.points, size)
        if box is not None:
            yield animal, user, box


def cut_animal_crops(
    session, folder: Path, frames=None, pseudo_frames=(), threshold: float = 0.0
) -> AnimalCrops:
    """One crop per labeled animal on ``session``'s labeled frames (``frames`` limits them),
    written under ``folder``; see the module docstring. Video adaptation adds one crop per
    animal the model found on ``pseudo_frames`` (at least two stored keypoints scoring
    ``threshold``; the box around those) where the user has no point of it: its pseudo-label
    is that prediction, moved into the crop. Returns :class:`AnimalCrops`."""
    wanted = session.labeled_frames()
    if frames is not None:
        wanted = sorted(set(wanted) & set(frames))
    size = tuple(session.video.shape[1:3])
    crops, out = [], AnimalCrops(Path(), [], [], {}, {}, {})
    pixels: dict[int, np.ndarray] = {}  # the frame being cut, read once for all its animals

    def add(frame: int, animal: str, box, pred: np.ndarray | None):
        if frame not in pixels:
            pixels.clear()
            pixels[frame] = session.read_frame(frame)
        crop, transform = crop_with_context(pixels[frame], box, TOP_DOWN_SIZE)
        index = len(crops)
        crops.append(crop)
        if pred is not None:  # replayed where confident, or the pseudo-label
            out.predictions[index] = transform.to_crop(pred).astype(np.float32)
        out.scales[index] = float(transform.scale_x)
        out.frames.append(frame)
        out.animals.append(animal)
        return index, transform

    for frame in pseudo_frames:
        touched = session.animals(frame)
        for animal, pred in session.animal_predictions(frame).items():
            box = None if animal in touched else sure_box(pred, threshold, size)
            if box is not None:
                out.pseudo.append(add(frame, animal, box, pred)[0])
    for frame in wanted:
        for animal, user, box in labeled_animals(session, frame):
            index, transform = add(frame, animal, box, session.prediction(frame, animal))
            out.labels[index] = replace(user, points=_to_crop(transform, user.points))
    folder.mkdir(parents=True, exist_ok=True)
    out.path = folder / f"{os.getpid()}-{len(list(folder.glob('*.npy')))}.npy"
    stack = np.stack(crops) if crops else np.zeros((0, *TOP_DOWN_SIZE[::-1], 3), np.uint8)
    np.save(out.path, stack)
    return out


def _to_crop(transform, xy: np.ndarray) -> np.ndarray:
    pts = np.concatenate([xy, np.zeros((len(xy), 1))], axis=1)
    return transform.to_crop(pts)[:, :2]
