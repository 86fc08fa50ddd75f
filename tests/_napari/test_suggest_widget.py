"""The Suggestions dock and the N / Shift+N keys, in real napari under Xvfb.

Keys are real key presses on the canvas; the plot is clicked with a real Qt mouse click at the
pixel where matplotlib draws a given frame.
"""

from __future__ import annotations

import numpy as np
import pytest
from qtpy.QtCore import QPoint, Qt

from fixtures.napari import press
from fixtures.sessions import UNSURE

pytestmark = pytest.mark.gui


@pytest.fixture()
def session(predicted_session):
    """Predictions on every frame, frames 40 and 100 the least confident."""
    return predicted_session


@pytest.fixture()
def widget(session, show, qtbot):
    w = show(session, frame=3)
    timeline = w.timeline
    qtbot.waitUntil(lambda: timeline.thumbnails is not None, timeout=20_000)
    timeline.controls.how_many.value = 2
    timeline.controls.strategy.value = "confidence"
    return w


def test_dock_is_docked_and_lists_suggestions(widget):
    timeline = widget.timeline
    dock_names = list(widget.viewer.window.dock_widgets)
    assert "Suggestions" in dock_names
    timeline.refresh()
    assert timeline.suggestions == list(UNSURE)  # least confident first
    line = timeline.axes.lines[0]
    assert len(line.get_xdata()) == len(widget.session)  # confidence of every frame
    np.testing.assert_allclose(line.get_ydata()[UNSURE[0]], 0.1, rtol=1e-6)
    assert "N / Shift+N" in widget.help_label.text()


def test_next_suggestion_key_goes_to_the_suggested_frames(widget, session, qtbot):
    assert widget.frame == 3
    press(widget, qtbot, Qt.Key.Key_N)
    assert widget.frame == 40
    assert widget.overlay.frame == 40  # the keypoints layer followed
    press(widget, qtbot, Qt.Key.Key_N)
    assert widget.frame == 100
    press(widget, qtbot, Qt.Key.Key_N)
    assert widget.frame == 40  # wraps around
    press(widget, qtbot, Qt.Key.Key_N, Qt.KeyboardModifier.ShiftModifier)
    assert widget.frame == 100  # Shift+N goes back (wrapping too)
    press(widget, qtbot, Qt.Key.Key_N, Qt.KeyboardModifier.ShiftModifier)
    assert widget.frame == 40
    # label frame 100: at once it is no longer suggested, N never lands on it again
    session.accept(100, threshold=0.0)
    for _ in range(3):
        press(widget, qtbot, Qt.Key.Key_N)
        assert widget.frame != 100
        assert widget.frame in widget.timeline.suggestions
    assert 100 not in widget.timeline.suggestions


def test_clicking_the_plot_goes_to_that_frame(widget, qtbot):
    timeline = widget.timeline
    timeline.refresh()
    canvas = timeline.canvas
    canvas.draw()
    for target in (77, 12):
        x, y = timeline.axes.transData.transform((target, 0.5))
        ratio = canvas.device_pixel_ratio  # matplotlib's y goes up from the bottom, Qt's down
        pos = QPoint(round(x / ratio), round((canvas.figure.bbox.height - y) / ratio))
        qtbot.mouseClick(canvas, Qt.MouseButton.LeftButton, pos=pos)
        assert widget.frame == target
    qtbot.waitUntil(lambda: timeline._cursor.get_xdata()[0] == 12, timeout=2000)


def test_plot_follows_labels_without_redrawing_on_every_frame(widget, session, qtbot):
    timeline = widget.timeline
    timeline.refresh()
    draws = timeline.draws
    for frame in range(5, 60):  # scrubbing: the cursor moves, the data is not redrawn
        widget.viewer.dims.set_current_step(0, frame)
        qtbot.wait(5)
    timeline.refresh()
    assert timeline.draws == draws
    session.label(40, "nose", 50.0, 50.0)  # a new labeled frame: redrawn, tick and suggestions
    qtbot.waitUntil(lambda: timeline.draws > draws, timeout=3000)
    assert 40 not in timeline.suggestions
    ticks = [c for c in timeline.axes.collections if c.get_label() == "labeled"]
    assert ticks and ticks[0].get_segments()[0][0][0] == 40


def test_on_a_long_video_suggestions_come_from_a_worker_and_labels_leave_them_at_once(
    widget, session, qtbot, monkeypatch
):
    """Past INLINE_VALUES predicted numbers the dock never computes on the GUI thread; a frame
    labeled meanwhile is skipped by N before the worker is done."""
    from napari_superanimal._napari import timeline as module

    monkeypatch.setattr(module, "INLINE_VALUES", 10)  # this video counts as long
    timeline = widget.timeline
    timeline.suggestions = []
    timeline._invalidate()
    timeline.refresh()
    assert timeline._worker is not None  # refresh returned at once
    qtbot.waitUntil(lambda: timeline.suggestions == list(UNSURE), timeout=10_000)
    session.label(UNSURE[0], "nose", 50.0, 50.0)
    assert timeline.step(3, +1) == UNSURE[1]  # the labeled one is passed over at once
