"""The Fine-tune panel of the labeling widget: settings, buttons, status and a live loss plot.

Fine-tune runs one round (:func:`~napari_superanimal.train.finetune.run_round`, the same code as
``session.finetune`` and ``napari-superanimal train``) in a child process
(:class:`~napari_superanimal.train.process.RoundProcess`) at a lower CPU priority, so neither the
round's Python work nor its CPU use stalls the viewer. The panel shows a napari progress bar,
ETA, the loss plot (:mod:`.lossplot`), Stop (keep the best model so far) and Cancel (discard).
The round trains on the labels as they were when it started; the user can keep labeling
meanwhile, and new labels go into the next round. When the round ends its model is saved as a
new version (in a thread worker: this process owns the project) and becomes the active one, and
the frame in view is re-predicted. "Adapt to video" runs
:func:`~napari_superanimal.train.adapt.adaptation_job` the same way (pseudo-labels from the
model's own confident keypoints); the status shows the jitter before and after.
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
from ..train.adapt import adaptation_job
from ..train.finetune import Progress
from ..train.job import commit_round, prepare_round
from ..train.process import RoundProcess
from .lossplot import LossPlot

PLOT_SECONDS = 0.5  # the loss plot updates at most this often
PLOT_HEIGHT = 180  # px


class TrainingPanel(QGroupBox):
    """Settings, Fine-tune / Stop / Cancel, status; drives one round at a time."""

    def __init__(self, widget):
        super().__init__("Fine-tune")
        self.widget = widget
        self.round: RoundProcess | None = None  # the child process training
        self.worker = None  # the thread worker saving the round's model
        self.bar = None
        self.latest: Progress | None = None
        # the loss plot lives in the panel, made with it: docking a plot when the round
        # started re-laid out the viewer and drew the figure anew (~1 s without a frame drawn)
        self.plot = LossPlot()
        self.plot.canvas.setFixedHeight(PLOT_HEIGHT)
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
        layout.addWidget(self.plot.canvas)
        self._plotted = 0.0
        self._polling = False
        self.timer = QTimer(self)
        self.timer.setInterval(250)
        self.timer.timeout.connect(self._poll)
        self._set_running(False)

    @property
    def running(self) -> bool:
        return self.round is not None or self.worker is not None

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
        minutes = self.minutes_box.value()
        budget = minutes * 60 if minutes else None
        try:  # a snapshot of the labels and the model: quick, and checked here in one line
            if adapt_round:  # steps follow DeepLabCut's 4 epochs over the pseudo-labeled frames
                job = adaptation_job(session, time_budget=budget)
            else:
                job = prepare_round(session, steps=self.steps_box.value(),
                                    lr=self.lr_box.value(), time_budget=budget)  # fmt: skip
            self.round = RoundProcess(job)
        except (SuperAnimalError, OSError) as err:
            self._report(err)
            return
        self.plot.reset()
        steps = job.settings.steps or 1  # an adaptation round knows its steps once it starts
        self.bar = progress(total=steps, desc="Adapting" if adapt_round else "Fine-tuning")
        self.status.setText("training in the background... (you can keep labeling)")
        self._set_running(True)
        self.timer.start()

    def stop(self) -> None:
        if self.round is not None:
            self.round.stop()
            self.status.setText("stopping: keeping the best model so far...")

    def cancel(self) -> None:
        if self.round is not None:
            self.round.cancel()
            self.status.setText("cancelling...")

    def abort(self, wait_ms: int = 120_000) -> None:
        """Cancel a running round and wait for it (the video is leaving the viewer): the
        previous model stays active and no callback reaches a closing viewer."""
        if not self.running:
            return
        self._close_round(timeout=wait_ms / 1000)
        if self.worker is not None:
            self.worker.returned.disconnect()
            self.worker.errored.disconnect()
            QThreadPool.globalInstance().waitForDone(wait_ms)
        self._finish()
        self.status.setText("cancelled: the video left the viewer")

    def _poll(self) -> None:
        if self.round is None or self._polling:
            return
        self._polling = True  # napari's progress bar processes Qt events: no re-entry
        try:
            self._show(self.round.events())
        finally:
            self._polling = False

    def _show(self, events) -> None:
        for kind, value in events:
            if kind == "progress":
                self.latest = value
                self.plot.add(value)
            elif kind == "predicting":
                done, total = value
                self.status.setText(f"the current model predicts {total} frames first: {done}")
            elif kind == "done":
                self._commit(value)
                return
            elif kind == "failed":
                self._finish()
                self._report(value)
                return
        p = self.latest
        if p is None:
            return
        eta = f"{p.eta_seconds / 60:.1f} min" if p.eta_seconds >= 60 else f"{p.eta_seconds:.0f} s"
        self.status.setText(f"step {p.step}/{p.steps} · loss {p.loss:.5f} · ETA {eta}")
        if time.monotonic() - self._plotted >= PLOT_SECONDS:  # a draw costs the GUI thread
            self._plotted = time.monotonic()
            self.plot.draw()
        if self.bar is not None:
            if self.bar.total != p.steps:
                self.bar.total = p.steps
            self.bar.update(p.step - self.bar.n)

    def _commit(self, outcome) -> None:
        """Save the round's model as a new version, off the GUI thread."""
        self._close_round()
        self.status.setText("saving the new model version...")
        self.worker = create_worker(commit_round, self.widget.session, outcome,
                                    _start_thread=False)  # fmt: skip
        self.worker.returned.connect(self._done)
        self.worker.errored.connect(self._failed)
        self.worker.start()

    def _close_round(self, timeout: float = 30.0) -> None:
        self.timer.stop()
        round_, self.round = self.round, None
        if round_ is not None:
            round_.close(timeout)

    def _finish(self) -> None:
        self._close_round()
        bar, self.bar = self.bar, None
        self.worker = None
        self.latest = None
        self._set_running(False)
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
        self._report(err)

    def _report(self, err: Exception) -> None:
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
