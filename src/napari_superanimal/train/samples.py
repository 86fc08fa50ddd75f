"""What a round trains on: the user's points, replayed predictions and pseudo-labels.

A round works from a snapshot of the labels (:class:`FrameLabels`, one per frame the user
touched) and of the base model's predictions, taken when it starts, so it can run in another
process while the user keeps labeling; labels added meanwhile go into the next round.

Example::

    labels = snapshot_labels(session)
    samples = training_samples(labels, predictions={f: session.prediction(f) for f in labels})
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

REPLAY_THRESHOLD = 0.1  # DeepLabCut's memory-replay pose threshold
PSEUDO_THRESHOLD = 0.1  # DeepLabCut's pseudo_threshold (video adaptation)
MIN_VALIDATION = 2  # validation frames a round keeps, when it keeps any


@dataclass
class FrameLabels:
    """The user's points on one frame, as arrays over the project's keypoints."""

    points: np.ndarray  # (K, 2): labeled or accepted points, NaN elsewhere
    labeled: np.ndarray  # (K,) bool: a labeled or accepted point with coordinates
    touched: np.ndarray  # (K,) bool: any user entry (labeled, accepted or hidden)

    @property
    def hidden(self) -> np.ndarray:
        """(K,) bool: the user said this keypoint is not visible on this frame."""
        return self.touched & ~self.labeled


@dataclass
class Sample:
    frame: int
    keypoints: np.ndarray  # (K, 2), NaN where unknown
    visible: np.ndarray  # (K,) bool: has a target (label, accepted, or replayed prediction)
    labeled: np.ndarray  # (K,) bool: the user's own point (for held-out errors)
    #: (K,) bool: hidden by the user: the network learns it is nowhere on this frame
    absent: np.ndarray | None = None

    def nowhere(self) -> np.ndarray:
        """``(K,)`` bool: the keypoints absent from this frame (none for pseudo-labels, which
        leave :attr:`absent` unset)."""
        if self.absent is None:
            return np.zeros(len(self.keypoints), bool)
        return self.absent


def snapshot_labels(session) -> dict[int, FrameLabels]:
    """:class:`FrameLabels` for every frame of ``session`` with a user entry."""
    session.check_one_animal("training")
    names = session.keypoints
    return {int(f): frame_labels(session.labels(f), names) for f in session.labeled_frames()}


def frame_labels(points: dict, names) -> FrameLabels:
    """One animal's user points on a frame (``{keypoint: Point}``) as :class:`FrameLabels`
    over the keypoints ``names``."""
    xy = np.full((len(names), 2), np.nan)
    labeled = np.zeros(len(names), bool)
    for i, name in enumerate(names):
        p = points.get(name)
        if p is not None and p.state in ("labeled", "accepted") and p.x is not None:
            xy[i], labeled[i] = (p.x, p.y), True
    return FrameLabels(xy, labeled, np.array([name in points for name in names]))


def _confident(pred: np.ndarray, free: np.ndarray, threshold: float) -> np.ndarray:
    """Keypoints of ``pred`` that are free for a target and scored at least ``threshold``."""
    return free & np.isfinite(pred[:, :2]).all(1) & (pred[:, 2] >= threshold)


def training_samples(
    labels: dict[int, FrameLabels],
    predictions: dict[int, np.ndarray],
    frames=None,
    replay: bool = True,
    threshold: float = REPLAY_THRESHOLD,
    untouched_absent: bool = False,
) -> list[Sample]:
    """One :class:`Sample` per frame with the user's points (``frames`` limits them).

    With ``replay``, keypoints the user did not touch take the base model's prediction where
    it scored at least ``threshold`` (memory replay). Keypoints the user hid are ``absent``;
    with ``untouched_absent`` (a network trained from scratch: no model to replay), so are the
    ones the user left untouched on a frame where they placed others, as DeepLabCut reads a
    missing point in its labels (its single-animal heads give it an empty heatmap, full weight).
    """
    wanted = sorted(labels) if frames is None else sorted(set(frames) & set(labels))
    samples = []
    for frame in wanted:
        user = labels[frame]
        if not user.labeled.any():
            continue
        points, visible = user.points.copy(), user.labeled.copy()
        pred = predictions.get(frame) if replay else None
        if pred is not None:
            keep = _confident(pred, ~user.touched, threshold)
            points[keep] = pred[keep, :2]
            visible |= keep
        absent = (user.hidden | ~user.touched) if untouched_absent else user.hidden.copy()
        samples.append(Sample(frame, points, visible, user.labeled.copy(), absent & ~visible))
    return samples


def pseudo_samples(
    labels: dict[int, FrameLabels],
    predictions: dict[int, np.ndarray],
    frames,
    threshold: float = PSEUDO_THRESHOLD,
) -> list[Sample]:
    """Pseudo-labels from the base model's predictions on ``frames`` (video adaptation).

    Skips frames with the user's labeled or accepted points (they train as labeled frames) and
    frames without any confident keypoint; a keypoint the user hid gets no pseudo-label.
    """
    samples = []
    for frame in frames:
        pred = predictions.get(frame)
        if pred is None:
            continue
        user = labels.get(frame)
        if user is not None and user.labeled.any():
            continue
        free = np.ones(len(pred), bool) if user is None else ~user.touched
        keep = _confident(pred, free, threshold)
        if not keep.any():
            continue
        points = np.where(keep[:, None], pred[:, :2], np.nan).astype(np.float64)
        samples.append(Sample(int(frame), points, keep, np.zeros(len(pred), bool)))
    return samples


@dataclass
class Split:
    """The labeled frames of a round, in three parts that never overlap: ``train`` (what the
    network learns from), ``validation`` (what picks the checkpoint and stops early) and
    ``test`` (what the reported error is measured on: frames that chose nothing)."""

    train: list[Sample]
    validation: list[Sample]
    test: list[Sample]


def split_samples(
    samples: list[Sample],
    rng: np.random.Generator,
    validation: float = 0.1,
    test: float = 0.1,
    min_frames: int = 5,
) -> Split:
    """A seeded split of ``samples`` (see :class:`Split`): ``validation`` and ``test`` shares of
    the frames, when asked for at least 2 validation frames (they also calibrate the scores:
    :mod:`~..model.calibration`) and 1 test frame; with fewer than ``min_frames`` frames
    everything trains (no error is reported, the scores stay raw)."""
    n = len(samples)
    order = rng.permutation(n)
    if n < min_frames:
        return Split([samples[i] for i in order], [], [])
    n_val = max(MIN_VALIDATION, round(validation * n)) if validation > 0 else 0
    n_test = max(1, round(test * n)) if test > 0 else 0
    pick = [samples[i] for i in order]
    return Split(pick[n_val + n_test :], pick[:n_val], pick[n_val : n_val + n_test])
