"""Identity switches and error against a known truth: what the crossing benchmark reports."""

from __future__ import annotations

import numpy as np
import pytest

from napari_superanimal.metrics.identity import (
    identity_report,
    switch_events,
    switches_not_in,
    track_of_each_animal,
)


def truth_of(t=10):
    """Two animals, 3 keypoints each, 50 px apart, moving right 1 px a frame."""
    base = np.array([[[0, 0], [5, 0], [10, 0]], [[0, 50], [5, 50], [10, 50]]], float)
    return np.stack([base + [f, 0] for f in range(t)])


def scored(xy):
    return np.concatenate([xy, np.ones((*xy.shape[:-1], 1))], axis=-1)


def test_perfect_tracks_make_no_switch_and_no_error():
    truth = truth_of()
    report = identity_report(scored(truth), truth)
    assert report["switches"] == 0 and report["frames_on_wrong_track"] == 0
    assert report["median_px"] == 0 and report["missing_share"] == 0


def test_tracks_swapped_from_a_frame_on_count_one_switch_per_animal_and_cost_error():
    truth = truth_of()
    poses = scored(truth.copy())
    poses[6:] = poses[6:, ::-1]  # the tracks exchange animals on frame 6
    tracks = track_of_each_animal(poses, truth)
    assert tracks[5].tolist() == [0, 1] and tracks[6].tolist() == [1, 0]
    report = identity_report(poses, truth)
    assert report["switches"] == 2 and report["frames_on_wrong_track"] == 4
    assert report["mean_px"] == pytest.approx(50 * 4 / 10)


def test_a_lost_animal_is_missing_not_a_switch():
    truth = truth_of()
    poses = scored(truth.copy())
    poses[3:5, 1] = np.nan  # animal 2 not found on frames 3-4, then found again
    report = identity_report(poses, truth)
    assert report["switches"] == 0 and report["missing_share"] == pytest.approx(0.1)
    with pytest.raises(ValueError, match="do not match"):
        identity_report(poses[:, :1], truth)


def test_switches_another_run_does_not_make_are_counted_by_animal_and_frame():
    """The crossing benchmark's target: a tracked run makes no switch that the run with the
    detector on every frame does not make (near the same frame, a flicker a frame apart)."""
    truth = truth_of(20)
    every_frame = scored(truth.copy())
    every_frame[6:8] = every_frame[6:8, ::-1]  # a flicker: swapped on 6-7, back on 8
    tracked = every_frame.copy()
    tracked[8] = tracked[8, ::-1]  # the same flicker, back a frame later
    tracked[15:] = tracked[15:, ::-1]  # and a swap of its own from frame 15 on
    reference = switch_events(track_of_each_animal(every_frame, truth))
    events = switch_events(track_of_each_animal(tracked, truth))
    assert reference == {(0, 6), (1, 6), (0, 8), (1, 8)}
    assert (0, 15) in events and (1, 15) in events
    assert switches_not_in(events, reference, within=1) == 2  # frame 15's, for each animal
    assert switches_not_in(events, reference) == len(events - reference)
