"""The training panel's "Adapt to video" button, under Xvfb (run with xvfb-run)."""

from __future__ import annotations

import pytest
from qtpy.QtCore import Qt

from napari_superanimal import open_video
from napari_superanimal.demo.mouse import KEYPOINTS, make_mouse_video
from napari_superanimal.session import Session

pytestmark = pytest.mark.gui


def test_adapt_button_runs_a_round_and_shows_jitter_before_and_after(
    make_napari_viewer, tmp_path, qtbot
):
    path, truth = make_mouse_video(tmp_path / "m.mp4", n_frames=40, size=(128, 160), seed=2)
    with Session.open(open_video(path, convert=False), keypoints=KEYPOINTS) as session:
        for f in range(5, 40, 10):  # adaptation samples frames 0, 10, 20, 30
            for k, name in enumerate(KEYPOINTS):
                session.label(f, name, *truth[f, k])
        widget = session.show(make_napari_viewer())
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
        qtbot.waitUntil(lambda: session.has_prediction(12) and widget.worker is None,
                        timeout=60_000)  # fmt: skip

        # Cancel: the previous version stays active
        panel.start(adapt_round=True)
        panel.cancel()
        qtbot.waitUntil(lambda: not panel.running, timeout=120_000)
        assert panel.last_result is None and session.model_version == result.version
        assert "previous model stays active" in panel.status.text()
