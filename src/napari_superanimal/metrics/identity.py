"""Keeping animals apart, against a ground truth: identity switches and keypoint error.

On every frame each true animal is matched to the predicted track nearest it (Hungarian
assignment on mean keypoint distance, :func:`~..model.identities.match_animals`); a true
animal whose matched track differs from the one it had on the last frame where both were
found counts one identity switch (the CLEAR-MOT count). The error is per keypoint, each
animal's predictions read from the track with its own identity (row ``i`` for animal ``i``):
a switch costs there too.

Example::

    report = identity_report(poses, truth)   # (T, A, K, 3) predictions, (T, A, K, 2) truth
    report["switches"], report["median_px"]
"""

from __future__ import annotations

import numpy as np

from ..model.identities import match_animals


def track_of_each_animal(poses: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """``(T, A)``: the predicted track each true animal is matched to on each frame (-1: no
    prediction of it there)."""
    truth3 = np.concatenate([truth, np.ones((*truth.shape[:-1], 1), truth.dtype)], axis=-1)
    tracks = np.full(truth.shape[:2], -1)
    for t in range(len(poses)):
        found = np.isfinite(poses[t, :, :, :2]).all(-1).any(-1)
        if not found.any():
            continue
        order = match_animals(truth3[t], np.where(found[:, None, None], poses[t], np.nan))
        tracks[t] = np.where(found[order], order, -1)
    return tracks


def switch_events(tracks: np.ndarray) -> set[tuple[int, int]]:
    """``(animal, frame)`` of every identity switch: the frames on which a true animal's
    matched track differs from the one on the last frame where it was found (``tracks``:
    :func:`track_of_each_animal`)."""
    events = set()
    for animal, column in enumerate(tracks.T):
        found = np.flatnonzero(column >= 0)
        changed = found[1:][column[found[1:]] != column[found[:-1]]]
        events.update((animal, int(frame)) for frame in changed)
    return events


def identity_switches(tracks: np.ndarray) -> int:
    """Times a true animal's matched track changes from one frame where it is found to the
    next (``tracks``: :func:`track_of_each_animal`)."""
    return len(switch_events(tracks))


def switches_not_in(events: set, reference: set, within: int = 0) -> int:
    """How many of ``events`` (:func:`switch_events`) ``reference`` has no switch of the same
    animal within ``within`` frames of."""
    return sum(
        not any((a, f + d) in reference for d in range(-within, within + 1)) for a, f in events
    )


def identity_report(poses: np.ndarray, truth: np.ndarray) -> dict:
    """Switches, frames where some animal is on another's track, and keypoint error (px)
    with each animal read from its own track."""
    poses, truth = np.asarray(poses, np.float64), np.asarray(truth, np.float64)
    if poses.shape[:3] != truth.shape[:3]:
        raise ValueError(f"predictions {poses.shape} do not match the truth {truth.shape}")
    tracks = track_of_each_animal(poses, truth)
    own = np.arange(truth.shape[1])
    wrong = ((tracks >= 0) & (tracks != own)).any(axis=1)
    error = np.linalg.norm(poses[..., :2] - truth, axis=-1)
    return {
        "switches": identity_switches(tracks),
        "frames_on_wrong_track": int(wrong.sum()),
        "frames": len(poses),
        "mean_px": float(np.nanmean(error)),
        "median_px": float(np.nanmedian(error)),
        "missing_share": float(np.isnan(error).mean()),
    }
