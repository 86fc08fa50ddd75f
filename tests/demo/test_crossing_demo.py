"""The demo on mice that cross: the loop runs with several animals and reports, after each
round, the error on frames nobody labeled and the identity switches."""

from __future__ import annotations

import pytest

from napari_superanimal.demo.run import run_demo, write_report

pytestmark = pytest.mark.slow


def test_the_crossing_demo_labels_every_mouse_and_counts_identity_switches(tmp_path):
    tiny = ({"steps": 3, "lr": 1e-3}, {"steps": 3, "lr": 1e-3})  # the loop, not the accuracy
    report = run_demo(tmp_path / "out", n_frames=60, animals=2, rounds=tiny)
    assert report["animals"] == ["mouse1", "mouse2"]
    assert all("Suggestions" in c["how"] for c in report["chosen"].values())
    assert len(report["errors"]) == 2
    for row in report["errors"]:
        assert row["identity_switches"] >= 0 and row["unlabeled_median_px"] >= 0
    assert report["unlabeled_frames"] == 60 - report["labeled_frames"]
    markdown = write_report(report).read_text()
    assert "mouse1, mouse2" in markdown and "identity switches" in markdown
