"""The Suggestions dock: confidence over time, labeled frames and suggested frames; click to go.

The plot shows the active model's mean keypoint likelihood on every predicted frame (the
lowest per bin when the video has more frames than the plot has pixels, so dips stay
visible), green ticks at labeled frames, red crosses at likely identity swaps (several
animals, :mod:`~napari_superanimal.suggest.swaps`), orange triangles at the frames suggested by
:meth:`~napari_superanimal.session.Session.suggest`, and a grey line at the frame in view.
Clicking the plot jumps the viewer to that frame; ``N`` / ``Shift+N`` in the labeling widget
visit the suggestions in time order (see :meth:`SuggestionTimeline.step`).

It follows the session's events (labels, predictions, the active model): a change marks the
suggestions out of date, and recomputing and redrawing are coalesced, never more than a few per
second. Its controls are a magicgui form (:func:`.forms.suggest_form`). Frame thumbnails for
the diversity of suggestions are read once, in a worker thread.
"""

from __future__ import annotations

import numpy as np
from napari.qt.threading import create_worker
from qtpy.QtCore import QTimer
from qtpy.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget

from ..suggest import frame_confidence, likely_swaps
from .forms import suggest_form
from .relay import Relay

REDRAW_MS = 300  # at most ~3 redraws a second, however fast frames change
MAX_POINTS = 4000  # confidence points plotted (longer videos: the lowest of each bin)
INLINE_VALUES = 1_000_000  # predicted numbers (T x animals x K x 3) computed without a worker
PLOT_MIN_HEIGHT = 120  # px: the confidence plot stays readable in the bottom dock


class SuggestionTimeline(QWidget):
    """Dock widget for a :class:`~napari_superanimal._napari.widget.LabelingWidget`."""

    def __init__(self, widget):
        super().__init__()
        from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
        from matplotlib.figure import Figure

        self.widget = widget
        self.figure = Figure(figsize=(6, 1.6), tight_layout=True)
        self.canvas = FigureCanvasQTAgg(self.figure)
        self.canvas.setMinimumHeight(PLOT_MIN_HEIGHT)  # a bottom dock is squeezed to a sliver
        self.axes = self.figure.add_subplot(111)
        self.canvas.mpl_connect("button_press_event", self._on_click)
        self.controls = suggest_form()  # magicgui: how many frames, which strategy
        self.controls.changed.connect(self._invalidate)
        self.status = QLabel("")
        row = QHBoxLayout()
        row.addWidget(self.controls.native)
        row.addWidget(self.status, stretch=1)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(self.canvas, stretch=1)

        self.suggestions: list[int] = []  # best first
        self.swaps: list[int] = []  # frames marked as likely identity swaps
        self.thumbnails = None
        self.draws = 0  # how many full redraws (tests check the throttling)
        self._session = None
        self._relay = None
        self._dirty = True  # labels, predictions or settings changed since the last draw
        self._thumb_worker = None
        self._worker = None  # suggestions being computed for a long video
        self._cursor = None
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(REDRAW_MS)
        self.timer.timeout.connect(self.refresh)
        widget.viewer.dims.events.current_step.connect(self.schedule)
        self.schedule()

    # -- keeping up -------------------------------------------------------------------------
    def set_session(self, session) -> None:
        """Follow ``session`` (None: none): its events mark the suggestions out of date."""
        if self._relay is not None:
            self._relay.disconnect_session()
            self._relay.deleteLater()
            self._relay = None
        if session is not None:
            self._relay = Relay(session, parent=self)
            for signal in (
                self._relay.labels_changed,
                self._relay.predictions_changed,
                self._relay.model_changed,
            ):
                signal.connect(self._invalidate)
        self._attach(session)
        self._invalidate()

    def schedule(self, event=None) -> None:
        """Refresh soon; calls in between are merged into one."""
        if not self.timer.isActive():
            self.timer.start()

    def _invalidate(self, *_) -> None:
        self._dirty = True
        self.schedule()

    def refresh(self) -> None:
        """Recompute the suggestions if labels, predictions or settings changed, and redraw;
        move the cursor to the frame in view. On a long video (more than
        :data:`INLINE_VALUES` predicted numbers) they are computed in a worker, so the viewer
        never waits for them; the plot is redrawn when they come back."""
        session = self._session
        if session is None or session.closed:
            return
        if self._dirty and self._worker is None:
            self._dirty = False
            # what the controls say, read here: Qt widgets belong to the GUI thread
            asked = (self.controls.strategy.value, self.controls.how_many.value, self.thumbnails)
            if session.all_predictions().size <= INLINE_VALUES:
                self._show(session, _compute(session, *asked))
            else:
                worker = create_worker(
                    lambda: (session, _compute(session, *asked)),
                    _start_thread=False,
                    _ignore_errors=True,
                )
                worker.returned.connect(self._computed)
                worker.errored.connect(self._compute_failed)
                self._worker = worker
                worker.start()
        self._move_cursor()

    def _computed(self, result) -> None:
        self._worker = None
        session, computed = result
        if session is self._session and not session.closed:
            self._show(session, computed)
        if self._dirty:
            self.schedule()

    def _compute_failed(self, err: Exception) -> None:
        self._worker = None
        self.status.setText(f"suggestions failed: {err}")

    def _attach(self, session) -> None:
        self._session, self.thumbnails = session, None
        self.suggestions = []
        if session is None:
            self.axes.clear()
            self.canvas.draw_idle()
            return
        self.status.setText("reading frame thumbnails...")
        worker = create_worker(
            lambda: (session, session.thumbnails()), _start_thread=False, _ignore_errors=True
        )
        # bound methods, not lambdas: Qt drops them if the dock is gone when the worker ends
        worker.returned.connect(self._thumbnails_done)
        worker.errored.connect(self._thumbnails_failed)
        self._thumb_worker = worker
        worker.start()

    def _thumbnails_done(self, result) -> None:
        self._thumb_worker = None
        session, thumbnails = result
        if session is self._session:  # not a session shown before
            self.thumbnails = thumbnails
            self.status.setText("")
            self._invalidate()

    def _thumbnails_failed(self, err: Exception) -> None:
        self._thumb_worker = None
        self.status.setText(f"no thumbnails (suggestions without diversity): {err}")

    def _show(self, session, computed: dict) -> None:
        self.suggestions = computed["suggestions"]
        self.swaps = computed["swaps"]
        if computed["status"] is not None:
            self.status.setText(computed["status"])
        elif self._thumb_worker is None:
            self.status.setText(f"{len(self.suggestions)} suggested")
        self._draw(session, *computed["confidence"])

    # -- drawing ----------------------------------------------------------------------------
    def _draw(self, session, x: np.ndarray, conf: np.ndarray) -> None:
        ax = self.axes
        ax.clear()
        n = len(session)
        ax.plot(x, conf, color="tab:blue", lw=0.8, marker=".", ms=2)
        labeled = session.labeled_frames()
        if labeled:
            ax.vlines(labeled, 0, 0.08, color="tab:green", lw=1, label="labeled")
        for frames, height, marker, color, size, label in (
            (self.swaps, 0.95, "x", "tab:red", 5, "likely swap"),
            (self.suggestions, 1.03, "v", "tab:orange", 6, "suggested"),
        ):
            if frames:
                ax.plot(frames, [height] * len(frames), marker, color=color, ms=size, label=label)
        ax.set_xlim(-0.5, n - 0.5)
        ax.set_ylim(0, 1.1)
        ax.set_ylabel("confidence")
        ax.set_xlabel("frame (click to go there)")
        self._cursor = ax.axvline(self.widget.frame, color="0.4", lw=1)
        self.draws += 1
        self.canvas.draw_idle()

    def _move_cursor(self) -> None:
        if self._cursor is None:
            return
        frame = self.widget.frame
        if self._cursor.get_xdata()[0] != frame:
            self._cursor.set_xdata([frame, frame])
            self.canvas.draw_idle()

    def _on_click(self, event) -> None:
        if event.inaxes is not self.axes or event.xdata is None or event.button != 1:
            return
        self.widget.go_to(int(round(event.xdata)))

    # -- navigation -------------------------------------------------------------------------
    def step(self, frame: int, direction: int) -> int | None:
        """The suggested frame after (``direction`` +1) or before (-1) ``frame`` in time,
        wrapping around the video; None if there are no suggestions."""
        self.refresh()
        labeled = set(self._session.labeled_frames()) if self._session is not None else set()
        ordered = sorted(set(self.suggestions) - labeled)  # one labeled a moment ago is not
        if not ordered:
            return None
        if direction > 0:
            later = [f for f in ordered if f > frame]
            return later[0] if later else ordered[0]
        earlier = [f for f in ordered if f < frame]
        return earlier[-1] if earlier else ordered[-1]


def _compute(session, strategy: str, n: int, thumbnails) -> dict:
    """The suggestions, the confidence to plot and the likely swaps to mark (reads the session
    only: safe in a worker thread)."""
    out = {"suggestions": [], "status": None}
    if strategy != "diversity" or thumbnails is not None:
        try:
            out["suggestions"] = session.suggest(
                n=n, strategy=strategy, thumbnails=thumbnails or False
            )
        except ValueError as err:  # confidence / jumps before any prediction
            out["status"] = str(err)
    predictions = session.all_predictions()
    out["confidence"] = _binned_lowest(frame_confidence(predictions))
    several = len(session.individuals) > 1
    out["swaps"] = _thinned(likely_swaps(predictions), len(session)) if several else []
    return out


def _thinned(frames: np.ndarray, n_frames: int) -> list[int]:
    """Frames to mark: all of them, or the first of each of :data:`MAX_POINTS` bins with any
    (a marker per pixel column is all a plot can show)."""
    if len(frames) <= MAX_POINTS:
        return frames.tolist()
    bins = frames * MAX_POINTS // max(n_frames, 1)
    first = np.flatnonzero(np.diff(bins, prepend=-1))
    return frames[first].tolist()


def _binned_lowest(confidence: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(frames, confidence)`` to plot: all of them, or the lowest of each bin for long videos."""
    n = len(confidence)
    if n <= MAX_POINTS:
        return np.arange(n), confidence
    edges = np.linspace(0, n, MAX_POINTS + 1).astype(int)
    filled = np.where(np.isnan(confidence), np.inf, confidence)
    lowest = np.minimum.reduceat(filled, edges[:-1])
    lowest[np.isinf(lowest)] = np.nan
    return edges[:-1], lowest
