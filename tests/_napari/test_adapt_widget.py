"""The training panel's "Adapt to video" button, under Xvfb (run with xvfb-run)."""

from __future__ import annotations

import pytest
from qtpy.QtCore import Qt

pytestmark = pytest.mark.gui


def test_adapt_button_runs_a_round_and_shows_jitter_before_and_after(labeled_mouse, show, qtbot):
    session, _ = labeled_mouse(range(5, 40, 10))  # adaptation samples frames 0, 10, 20, 30
    widget = show(session)
    panel = widget.training
    qtbot.mouseClick(panel.adapt_button, Qt.MouseButton.LeftButton)
    assert "starts from a model" in panel.status.text() and not panel.running
    first = session.finetune(steps=20, jitter_frames=0)
    widget.viewer.dims.set_current_step(0, 12)
    qtbot.mouseClick(panel.adapt_button, Qt.MouseButton.LeftButton)
    assert panel.running and not panel.adapt_button.isEnabled()
    assert not panel.start_button.isEnabled() and panel.cancel_button.isEnabled()
    qtbot.waitUntil(lambda: not panel.running, timeout=120_000)
    result = panel.last_result
    assert result is not None and result.info["adapted"] is True
    assert session.model_version == result.version != first.version
    assert "jitter" in panel.status.text() and "->" in panel.status.text()
    assert len(panel.plot.losses) == result.info["steps"]  # the loss plot got every step
    assert panel.adapt_button.isEnabled()
    qtbot.waitUntil(lambda: session.has_prediction(12) and widget.worker is None, timeout=60_000)

    # Cancel: the previous version stays active
    panel.start(adapt_round=True)
    panel.cancel()
    qtbot.waitUntil(lambda: not panel.running, timeout=120_000)
    assert panel.last_result is None and session.model_version == result.version
    assert "previous model stays active" in panel.status.text()
