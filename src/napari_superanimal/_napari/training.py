"""The Fine-tune panel of the labeling widget, and its live loss plot.

Fine-tune runs one round (:func:`~napari_superanimal.train.finetune.finetune`, the same code as
``session.finetune`` and ``napari-superanimal train``) in a napari thread worker, with a napari
progress bar, ETA, a loss plot docked at the bottom, Stop (keep the best model so far) and
Cancel (discard). The user can keep labeling meanwhile; new labels go into the next round.
When the round ends its model becomes the active one and the frame in view is re-predicted.
"Adapt to video" runs :func:`~napari_superanimal.train.adapt.adapt` the same way (pseudo-labels
from the model's own confident keypoints); the status shows the jitter before and after.
"""

from __future__ import annotations

import time

from napari.qt.threading import create_worker
from napari.utils import progress
from napari.utils.notifications import show_error, show_info
from qtpy.QtCore import QThreadPool, QTimer
from qtpy.QtWidgets import (
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
)

from ..errors import SuperAnimalError
from ..metrics.jitter import describe
from ..train.adapt import adapt
from ..train.finetune import Control, Progress, finetune

PLOT_SECONDS = 1.0  # the loss plot redraws at most this often


class LossPlot:
    """Training loss (and held-out error) over steps, in a matplotlib canvas.

    The lines are made once and only their data change; the layout is computed once. A full
    clear-and-replot with a layout engine took ~100 ms of the GUI thread per draw here, and the
    viewer stalled for that long every time the plot updated."""

    def __init__(self):
        from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
        from matplotlib.figure import Figure

        self.figure = Figure(figsize=(5, 2.2))
        self.canvas = FigureCanvasQTAgg(self.figure)
        self.axes = self.figure.add_subplot(111)
        self.heldout_axes = self.axes.twinx()
        (self.loss_line,) = self.axes.plot([], [], color="tab:blue", lw=1)
        (self.heldout_line,) = self.heldout_axes.plot([], [], "o-", color="tab:orange", ms=3)
        self.axes.set_xlabel("step")
        self.axes.set_ylabel("loss", color="tab:blue")
        self.heldout_axes.set_ylabel("held-out error (px)", color="tab:orange")
        self.figure.tight_layout()
        self.steps: list[int] = []
        self.losses: list[float] = []
        self.heldout: list[tuple[int, float]] = []

    def reset(self) -> None:
        self.steps, self.losses, self.heldout = [], [], []
        self.draw()

    def add(self, p: Progress) -> None:
        self.steps.append(p.step)
        self.losses.append(p.loss)
        if p.heldout_error is not None:
            self.heldout.append((p.step, p.heldout_error))

    def draw(self) -> None:
        n = len(self.steps)  # the worker thread appends meanwhile: take one consistent length
        self.loss_line.set_data(self.steps[:n], self.losses[:n])
        self.heldout_line.set_data(*(zip(*self.heldout, strict=True) if self.heldout else ([], [])))
        for ax in (self.axes, self.heldout_axes):
            ax.relim()
            ax.autoscale_view()
        self.canvas.draw_idle()


class TrainingPanel(QGroupBox):
    """Settings, Fine-tune / Stop / Cancel, status; drives one round at a time."""

    def __init__(self, widget):
        super().__init__("Fine-tune")
        self.widget = widget
        self.worker = None
        self.control: Control | None = None
        self.bar = None
        self.latest: Progress | None = None
        self.plot: LossPlot | None = None
        self.last_result = None

        self.steps_box = QSpinBox()
        self.steps_box.setRange(10, 100_000)
        self.steps_box.setValue(300)
        self.minutes_box = QSpinBox()
        self.minutes_box.setRange(0, 24 * 60)
        self.minutes_box.setSpecialValueText("no limit")
        self.lr_box = QDoubleSpinBox()
        self.lr_box.setDecimals(5)
        self.lr_box.setRange(1e-5, 1e-1)
        self.lr_box.setSingleStep(1e-4)
        self.lr_box.setValue(1e-3)
        form = QFormLayout()
        form.addRow("Steps", self.steps_box)
        form.addRow("Time limit (min)", self.minutes_box)
        form.addRow("Learning rate", self.lr_box)
        form.addRow("Frames", QLabel("every labeled or accepted frame"))

        self.start_button = QPushButton("Fine-tune")
        self.stop_button = QPushButton("Stop")
        self.cancel_button = QPushButton("Cancel")
        self.start_button.clicked.connect(self.start)
        # "Adapt to video": the same round on the model's own confident keypoints (no labels)
        self.adapt_button = QPushButton("Adapt to video")
        self.adapt_button.setToolTip(
            "SuperAnimal video adaptation: confident predictions on every 10th frame become "
            "pseudo-labels for a short round (your labels always win)"
        )
        self.adapt_button.clicked.connect(lambda: self.start(adapt_round=True))
        self.stop_button.clicked.connect(self.stop)
        self.cancel_button.clicked.connect(self.cancel)
        buttons = QHBoxLayout()
        for b in (self.start_button, self.adapt_button, self.stop_button, self.cancel_button):
            buttons.addWidget(b)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.status)
        self._plotted = 0.0
        self.timer = QTimer(self)
        self.timer.setInterval(250)
        self.timer.timeout.connect(self._poll)
        self._set_running(False)

    @property
    def running(self) -> bool:
        return self.worker is not None

    def _set_running(self, running: bool) -> None:
        self.start_button.setEnabled(not running)
        self.adapt_button.setEnabled(not running)
        self.stop_button.setEnabled(running)
        self.cancel_button.setEnabled(running)

    def start(self, adapt_round: bool = False) -> None:
        session = self.widget.session
        if session is None or self.running:
            return
        if adapt_round and session.model is None:
            self.status.setText("adaptation starts from a model: fine-tune or load one first")
            return
        if self.plot is None:
            self.plot = LossPlot()
            self.widget.viewer.window.add_dock_widget(
                self.plot.canvas, name="Training loss", area="bottom"
            )
        self.plot.reset()
        self.control = Control()
        steps = self.steps_box.value()
        minutes = self.minutes_box.value()
        settings = {
            "steps": steps,
            "lr": self.lr_box.value(),
            "time_budget": minutes * 60 if minutes else None,
            "control": self.control,
            "callback": self._on_progress,
        }
        run = finetune
        if adapt_round:  # steps follow DeepLabCut's 4 epochs over the pseudo-labeled frames
            run, steps = adapt, 1
            settings = {k: v for k, v in settings.items() if k not in ("steps", "lr")}
        self.bar = progress(total=steps, desc="Adapting" if adapt_round else "Fine-tuning")
        self.status.setText("training... (you can keep labeling)")
        self.worker = create_worker(run, session, _start_thread=False, **settings)
        self.worker.returned.connect(self._done)
        self.worker.errored.connect(self._failed)
        self._set_running(True)
        self.timer.start()
        self.worker.start()

    def stop(self) -> None:
        if self.control is not None:
            self.control.stop.set()
            self.status.setText("stopping: keeping the best model so far...")

    def cancel(self) -> None:
        if self.control is not None:
            self.control.cancel.set()
            self.status.setText("cancelling...")

    def abort(self, wait_ms: int = 120_000) -> None:
        """Cancel a running round and wait for its thread (the video is leaving the viewer):
        the previous model stays active and no callback reaches a closing viewer."""
        worker = self.worker
        if worker is None:
            return
        self.control.cancel.set()
        worker.returned.disconnect()
        worker.errored.disconnect()
        QThreadPool.globalInstance().waitForDone(wait_ms)
        self._finish()
        self.status.setText("cancelled: the video left the viewer")

    def _on_progress(self, p: Progress) -> None:  # worker thread: hand over, draw in _poll
        self.latest = p
        if self.plot is not None:
            self.plot.add(p)

    def _poll(self) -> None:
        p = self.latest
        if p is None or self.worker is None:
            return
        eta = f"{p.eta_seconds / 60:.1f} min" if p.eta_seconds >= 60 else f"{p.eta_seconds:.0f} s"
        self.status.setText(f"step {p.step}/{p.steps} · loss {p.loss:.5f} · ETA {eta}")
        if time.monotonic() - self._plotted >= PLOT_SECONDS:  # a draw costs the GUI thread
            self._plotted = time.monotonic()
            self.plot.draw()
        if self.bar is not None:
            if self.bar.total != p.steps:
                self.bar.total = p.steps  # an adaptation round knows its steps once it starts
            # last: napari's progress bar processes Qt events, so the round may end in here
            self.bar.update(p.step - self.bar.n)

    def _finish(self) -> None:
        self.timer.stop()
        bar, self.bar = self.bar, None
        self.worker = None
        self.control = None
        self.latest = None
        self._set_running(False)
        if self.plot is not None:
            self.plot.draw()
        if bar is not None:
            bar.close()

    def _done(self, result) -> None:
        self._finish()
        self.last_result = result
        if result is None:
            self.status.setText("cancelled: the previous model stays active")
            return
        session = self.widget.session
        session.use_model(result.estimator)
        b, a = result.heldout_before, result.heldout_after
        self.status.setText(
            f"{result.version} ({result.info['ended_by']}, {result.info['steps']} steps): "
            f"held-out error {_err(b)} -> {_err(a)}" + _jitter(result.info.get("jitter"))
        )
        kind = "adapted" if result.info.get("adapted") else "fine-tuned"
        show_info(f"{kind}: {result.version} is now the active model")
        self.widget.model_round_done()

    def _failed(self, err: Exception) -> None:
        self._finish()
        message = str(err) if isinstance(err, SuperAnimalError) else f"fine-tuning failed: {err!r}"
        self.status.setText(message)
        show_error(message)


def _jitter(report: dict | None) -> str:
    """The round's jitter before -> after (see :mod:`...metrics.jitter`), for the status."""
    if not report:
        return ""
    return "; " + describe(report.get("before"), report.get("after"))


def _err(h: dict) -> str:
    if h.get("pixels") is None:
        return "n/a (too few labeled frames to hold some out)"
    return f"{h['pixels']:.1f} px, PCK@{h['pck_px']:.1f}px {100 * h['pck']:.0f}%"
