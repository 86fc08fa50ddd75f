"""The live loss plot of a training round: loss (log scale) and held-out error over steps.

A full matplotlib draw of this figure (tick labels, two axes) takes 35-130 ms of the GUI thread
here, which the viewer feels as a stall, so the plot redraws everything only when its limits
must grow (they double along x and jump a decade along y, so that is rare) and otherwise
blits: the axes are kept as a picture and only the two lines are drawn over it (~5 ms).
"""

from __future__ import annotations

import math

import numpy as np

from ..train.job import Progress

MIN_STEPS = 100  # the x axis starts at this many steps and doubles when a round goes past it


class LossPlot:
    """Training loss and held-out error in a matplotlib canvas (``.canvas``, a Qt widget)."""

    def __init__(self):
        from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
        from matplotlib.figure import Figure

        self.figure = Figure(figsize=(5, 2.2))
        self.canvas = FigureCanvasQTAgg(self.figure)
        self.axes = self.figure.add_subplot(111)
        self.validation_axes = self.axes.twinx()
        self.axes.set_yscale("log")
        # animated: left out of full draws, drawn over the saved background instead
        (self.loss_line,) = self.axes.plot([], [], color="tab:blue", lw=1, animated=True)
        (self.validation_line,) = self.validation_axes.plot(
            [], [], "o-", color="tab:orange", ms=3, animated=True
        )
        self.axes.set_xlabel("step")
        self.axes.set_ylabel("loss", color="tab:blue")
        self.validation_axes.set_ylabel("validation error (px)", color="tab:orange")
        self.axes.set_xlim(0, MIN_STEPS)
        self.axes.set_ylim(1e-4, 1e-1)
        self.validation_axes.set_ylim(0, 10)
        self.figure.tight_layout()
        self.steps: list[int] = []
        self.losses: list[float] = []
        self.validation: list[tuple[int, float]] = []
        self.full_draws = 0
        self._background = None
        self.canvas.mpl_connect("draw_event", self._on_full_draw)

    def reset(self) -> None:
        """Clear the lines for a new round (the limits stay: rounds look alike)."""
        self.steps, self.losses, self.validation = [], [], []
        self.draw()

    def add(self, p: Progress) -> None:
        self.steps.append(p.step)
        self.losses.append(p.loss)
        if p.validation_error is not None and math.isfinite(p.validation_error):
            self.validation.append((p.step, p.validation_error))

    def draw(self) -> None:
        """Show the data: a blit when it fits the limits, else a full draw with new limits."""
        self.loss_line.set_data(self.steps, self.losses)
        self.validation_line.set_data(
            *(zip(*self.validation, strict=True) if self.validation else ([], []))
        )
        size = self.figure.bbox.size
        fits = self._fit_limits()
        if not fits or self._background is None or tuple(self._background[1]) != tuple(size):
            self.canvas.draw_idle()  # the draw event re-saves the background and adds the lines
            return
        self.canvas.restore_region(self._background[0])
        self._draw_lines()
        self.canvas.blit(self.figure.bbox)

    def _fit_limits(self) -> bool:
        """Grow the limits to hold every point; False if they had to change."""
        fits = True
        if self.steps:
            right = self.axes.get_xlim()[1]
            if self.steps[-1] > right:
                while right < self.steps[-1]:
                    right *= 2
                self.axes.set_xlim(0, right)
                fits = False
            positive = [v for v in self.losses if v > 0 and math.isfinite(v)]
            if positive:
                low, high = self.axes.get_ylim()
                lo, hi = min(positive), max(positive)
                if lo < low or hi > high:
                    self.axes.set_ylim(
                        min(low, 10 ** math.floor(math.log10(lo))),
                        max(high, 10 ** math.ceil(math.log10(hi))),
                    )
                    fits = False
        if self.validation:
            top = self.validation_axes.get_ylim()[1]
            worst = max(v for _, v in self.validation)
            if worst > top:
                self.validation_axes.set_ylim(0, float(np.ceil(1.25 * worst / 5) * 5))
                fits = False
        return fits

    def _draw_lines(self) -> None:
        self.axes.draw_artist(self.loss_line)
        self.validation_axes.draw_artist(self.validation_line)

    def _on_full_draw(self, _event) -> None:
        self.full_draws += 1
        self._background = (
            self.canvas.copy_from_bbox(self.figure.bbox),
            tuple(self.figure.bbox.size),
        )
        self._draw_lines()
