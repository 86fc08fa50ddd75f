"""The Fine-tune panel of the labeling widget: settings, buttons, status and a live loss plot.

Fine-tune runs one round (:func:`~napari_superanimal.train.finetune.run_round`, the same code as
``session.finetune`` and ``napari-superanimal train``) in a child process
(:class:`~napari_superanimal.train.process.RoundProcess`) at a lower CPU priority, so neither the
round's Python work nor its CPU use stalls the viewer. The panel shows a napari progress bar,
ETA, the loss plot (:mod:`.lossplot`), Stop (keep the best model so far) and Cancel (discard).
Its settings are a magicgui form (:func:`.forms.fine_tune_form`); the training code itself is
imported on the first click, so opening the dock never loads PyTorch.
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
from qtpy.QtWidgets import QGroupBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from ..errors import SuperAnimalError
from ..metrics.jitter import describe
from ..train.job import Progress
from ..train.report import describe_round
from .forms import fine_tune_form
from .lossplot import LossPlot

PLOT_SECONDS = 0.5  # the loss plot updates at most this often
PLOT_HEIGHT = 180  # px


class TrainingPanel(QGroupBox):
    """Settings, Fine-tune / Stop / Cancel, status; drives one round at a time."""

    def __init__(self, widget):
        super().__init__("Fine-tune")
        self.widget = widget
        self.round = None  # the RoundProcess training, while one runs
        self.worker = None  # the thread worker saving the round's model
        self.bar = None
        self.latest: Progress | None = None
        # The loss plot lives in the panel, in a slot of fixed height: docking a plot when the
        # round started re-laid out the viewer and drew the figure anew (~1 s without a frame
        # drawn). It is made once the dock has warmed up (matplotlib imported in a worker,
        # see LabelingWidget._warm_up), or at the first click, not with the dock: matplotlib
        # and the figure cost 2 s here, and the dock should appear at once.
        self.plot: LossPlot | None = None
        self._plot_slot = QWidget()
        self._plot_slot.setFixedHeight(PLOT_HEIGHT)
        QVBoxLayout(self._plot_slot).setContentsMargins(0, 0, 0, 0)
        self.last_result = None

        self.settings = fine_tune_form()  # magicgui: steps, minutes, lr

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
        layout.addWidget(self.settings.native)
        layout.addWidget(QLabel("Trains on every labeled or accepted frame"))
        layout.addLayout(buttons)
        layout.addWidget(self.status)
        layout.addWidget(self._plot_slot)
        self._plotted = 0.0
        self._polling = False
        self.timer = QTimer(self)
        self.timer.setInterval(250)
        self.timer.timeout.connect(self._poll)
        self._set_running(False)

    def ensure_plot(self) -> LossPlot:
        """The loss plot, made now if it was not yet."""
        if self.plot is None:
            self.plot = LossPlot()
            self.plot.canvas.setFixedHeight(PLOT_HEIGHT)
            self._plot_slot.layout().addWidget(self.plot.canvas)
        return self.plot

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
        form = self.settings
        budget = form.minutes.value * 60 if form.minutes.value else None
        # the training code (PyTorch) loads on the first click, never when the dock opens
        from ..train.adapt import adaptation_job
        from ..train.job import prepare_round
        from ..train.process import RoundProcess

        try:  # a snapshot of the labels and the model: quick, and checked here in one line
            if adapt_round:  # steps follow DeepLabCut's 4 epochs over the pseudo-labeled frames
                job = adaptation_job(session, time_budget=budget)
            else:
                job = prepare_round(
                    session, steps=form.steps.value, lr=form.lr.value, time_budget=budget
                )
            self.round = RoundProcess(job)
        except (SuperAnimalError, OSError) as err:
            self._report(err)
            return
        self.ensure_plot().reset()
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
                self.ensure_plot().add(value)
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
            self.ensure_plot().draw()
        if self.bar is not None:
            if self.bar.total != p.steps:
                self.bar.total = p.steps
            self.bar.update(p.step - self.bar.n)

    def _commit(self, outcome) -> None:
        """Save the round's model as a new version, off the GUI thread."""
        self._close_round()
        self.status.setText("saving the new model version...")
        from ..train.job import commit_round

        self.worker = create_worker(
            commit_round, self.widget.session, outcome, _start_thread=False, _ignore_errors=True
        )
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
        self.ensure_plot().draw()
        if bar is not None:
            bar.close()

    def _done(self, result) -> None:
        self._finish()
        self.last_result = result
        if result is None:
            self.status.setText("cancelled: the previous model stays active")
            return
        session = self.widget.session
        session.use_model(result.estimator)  # the widget follows the session's events
        self.status.setText(
            f"{result.version} ({result.info['ended_by']}, {result.info['steps']} steps): "
            + describe_round(result.info)
            + _jitter(result.info.get("jitter"))
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
