"""The training panel's live loss plot (under Xvfb): every point stays in view, and an update
that fits the axes only redraws the lines (a full redraw stalled the viewer)."""

from __future__ import annotations

import pytest

from napari_superanimal._napari.lossplot import MIN_STEPS, LossPlot
from napari_superanimal.train.finetune import Progress


@pytest.fixture()
def plot(qtbot):
    plot = LossPlot()
    qtbot.addWidget(plot.canvas)
    plot.canvas.resize(400, 180)
    plot.canvas.show()
    qtbot.waitUntil(lambda: plot.full_draws > 0, timeout=5_000)
    return plot


def feed(plot, steps, loss, heldout=None):
    for step in steps:
        plot.add(Progress(step, 1000, loss(step), 10.0, heldout(step) if heldout else None))
    plot.draw()


def test_updates_that_fit_the_axes_redraw_only_the_lines(plot, qtbot):
    full = plot.full_draws
    for start in range(1, MIN_STEPS, 10):
        feed(plot, range(start, start + 10), lambda s: 0.05)
    qtbot.wait(50)
    assert plot.full_draws == full
    assert list(plot.loss_line.get_xdata()) == list(range(1, MIN_STEPS + 1))


def test_every_point_stays_in_view_as_a_round_goes_on(plot, qtbot):
    full = plot.full_draws
    feed(plot, range(1, 251), lambda s: 0.3 / s, lambda s: 42.0 if s % 25 == 0 else None)
    qtbot.waitUntil(lambda: plot.full_draws > full, timeout=5_000)
    left, right = plot.axes.get_xlim()
    low, high = plot.axes.get_ylim()
    assert left <= 1 and right >= 250
    assert low <= 0.3 / 250 and high >= 0.3
    assert plot.validation_axes.get_ylim()[1] >= 42.0
    assert len(plot.validation_line.get_xdata()) == 10
    # a new round starts from empty lines and keeps the limits
    plot.reset()
    assert len(plot.loss_line.get_xdata()) == 0 and plot.axes.get_xlim()[1] >= 250
