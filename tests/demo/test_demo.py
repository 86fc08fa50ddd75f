"""The README's first command: the demo plays the user and the model gets better."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.gui]


def test_headless_demo_runs_the_loop_and_writes_a_report_and_a_screenshot(tmp_path):
    out = tmp_path / "demo-output"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "napari_superanimal.cli",
            "demo",
            "--headless",
            "--out",
            str(out),
            "--frames",
            "150",
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads((out / "report.json").read_text())
    # measured on the frames nobody labeled, never on the trained ones
    errors = [e["unlabeled_median_px"] for e in report["errors"]]
    assert len(errors) == 2 and errors[1] <= errors[0]  # corrections + round 2 do not hurt
    assert errors[1] < 5.0, report["errors"]
    assert report["unlabeled_frames"] == 150 - report["labeled_frames"]
    # the frames to label and to correct came from the product's suggestions
    assert all("Suggestions" in c["how"] for c in report["chosen"].values())
    assert len(report["chosen"]["round 2"]["frames"]) == 8
    assert report["superanimal_weights"] is False  # nothing cached here, and it says so
    assert (out / "screenshot.png").stat().st_size > 10_000
    markdown = (out / "report.md").read_text()
    assert "frames nobody labeled" in markdown and "Suggestions" in markdown
