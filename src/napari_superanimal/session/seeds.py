"""Where the animals are known, for a network that sees them in boxes but has no detector.

A network trained in the project on its animals' crops (a species SuperAnimal has no detector
for) predicts top-down on boxes that :class:`~..model.tracking.Tracks` follows from seeds: the
frames where each animal's place is known. In order of trust:

1. a box the user drew around the animal on that frame (``drawn``: ``{frame: (A, 4)}``);
2. the user's own points there (labeled or accepted), their extent plus 20 px
   (:func:`~..model.boxes.animal_box`, the box the network was trained on);
3. when none of the frames asked for has either: the nearest frame before them (else after)
   where the animals are known from 1-2 or from the active model's confident predictions, so
   stepping through a video continues from the frame before.

Frames before the first seed are followed backwards from it (:func:`seeded_runs`).

Every animal is a row, in the project's order (one row in a single-animal project); a NaN row
is an animal not known there.
"""

from __future__ import annotations

import numpy as np

from ..labels.model import ONE_ANIMAL
from ..model.boxes import sure_box
from ..train.animals import labeled_animals


def seeded_runs(session, frames, drawn: dict | None = None) -> list[tuple[list[int], dict]]:
    """How to predict ``frames`` of ``session`` from where the animals are known: a list of
    runs ``(frames in the order to follow them, {frame: (A, 4)} seeds)``.

    With a seed among ``frames`` the run starts at the first one and goes forward to the last
    frame, then a second run goes back from it to the first frame (tracking runs either way).
    Without one, a single run starts from the nearest known frame outside them (before, else
    after); with none at all the run has no seed (the caller says why)."""
    n = _animals(session)
    seeds = {int(f): np.asarray(b, np.float64).reshape(n, 4) for f, b in (drawn or {}).items()}
    order = sorted({int(f) for f in frames})
    if not order:
        return []
    low, high = order[0], order[-1]
    for f in session.labeled_frames():
        if low <= f <= high and f not in seeds:
            found = label_boxes(session, f)
            if found is not None:
                seeds[f] = found
    inside = [f for f in order if f in seeds]
    if not inside:
        start = _nearest_known(session, low, seeds)
        return [(order, {} if start is None else {low: start})]
    first = inside[0]
    forward = [f for f in order if f >= first]
    back = [f for f in order if f <= first][::-1]
    runs = [(forward, seeds)]
    if len(back) > 1:
        runs.append((back, seeds))
    return runs


def label_boxes(session, frame: int) -> np.ndarray | None:
    """Each animal's box from the user's points on ``frame`` (None: no animal there)."""
    names = _names(session)
    boxes = np.full((len(names), 4), np.nan)
    for animal, _user, box in labeled_animals(session, frame):
        if animal in names:
            boxes[names.index(animal)] = box
    return boxes if np.isfinite(boxes).any() else None


def prediction_boxes(session, frame: int) -> np.ndarray | None:
    """Each animal's box from the active model's confident points on ``frame``."""
    poses = session.all_predictions()[frame].reshape(_animals(session), -1, 3)
    size = tuple(session.video.shape[1:3])
    boxes = np.full((len(poses), 4), np.nan)
    for i, pose in enumerate(poses):
        box = sure_box(pose, session.threshold, size)
        if box is not None:
            boxes[i] = box
    return boxes if np.isfinite(boxes).any() else None


def _nearest_known(session, frame: int, seeds: dict) -> np.ndarray | None:
    """Boxes from the nearest frame before ``frame`` (else after) where animals are known."""
    scores = session.all_predictions()[..., 2].reshape(len(session), -1)
    predicted = np.flatnonzero((scores >= session.threshold).sum(axis=1) >= 2)
    known = sorted(set(session.labeled_frames()) | set(predicted.tolist()) | set(seeds))
    before = [f for f in known if f < frame][::-1]
    after = [f for f in known if f > frame]
    for f in before + after:
        found = seeds.get(f)
        if found is None:
            found = label_boxes(session, f)
        if found is None:
            found = prediction_boxes(session, f)
        if found is not None:
            return found
    return None


def _names(session) -> list[str]:
    return list(session.individuals) or [ONE_ANIMAL]


def _animals(session) -> int:
    return max(len(session.individuals), 1)
