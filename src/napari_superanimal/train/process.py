"""Run a training round in a child Python process.

The viewer stays responsive while a round trains only if the round's Python work (augmentation,
batching, the optimizer loop) does not share the viewer's interpreter lock, so the widget runs
:func:`~.finetune.run_round` in a child process: ``python -m napari_superanimal.train.process
FOLDER``. The parent writes the :class:`~.job.RoundJob` to ``FOLDER/job.pt``; the child reopens
the video store read-only, trains, writes the :class:`~.job.RoundOutcome` to
``FOLDER/outcome.pt`` and reports on its stdout, one JSON object per line (``progress``,
``predicting``, ``done``, ``error``); everything else it prints goes to ``FOLDER/log.txt``.
Lines ``stop`` and ``cancel`` on its stdin ask it to stop (keep the best model so far) or
cancel; if the parent goes away (stdin closes) the child cancels, and once its reports have
nowhere to go (the viewer died) it removes the round's folder itself. The child never writes the
project: the parent commits the outcome (:func:`~.job.commit_round`), so a child that crashes
loses no labels and leaves the previous model active.

Example::

    round = RoundProcess(prepare_round(session, steps=300))
    for kind, value in round.events(block=True):   # ("progress", Progress), ...
        ...
    commit_round(session, round.outcome)
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import traceback
from dataclasses import asdict
from pathlib import Path

import torch

from ..errors import RoundProcessError, SuperAnimalError, TrainingError
from .finetune import Control, run_round
from .job import Progress, RoundJob, RoundOutcome

NICENESS = 10  # the child's CPU priority below the viewer's (nice(1) increment)


class RoundProcess:
    """One round in a child process; :meth:`events` reports what it does, from any thread."""

    def __init__(self, job: RoundJob):
        self.folder = Path(tempfile.mkdtemp(prefix="superanimal-round-"))
        self.outcome: RoundOutcome | None = None
        self.error: Exception | None = None
        self._events: queue.Queue = queue.Queue()
        self._drained = False  # every event, the last one included, was handed out
        try:
            torch.save(job, self.folder / "job.pt")
            self._log = open(self.folder / "log.txt", "wb")  # noqa: SIM115 - closed in close()
            self.process = subprocess.Popen(
                [sys.executable, "-m", __name__, str(self.folder)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=self._log,
            )
        except BaseException:
            if getattr(self, "_log", None) is not None:
                self._log.close()
            shutil.rmtree(self.folder, ignore_errors=True)
            raise
        self._reader = threading.Thread(target=self._read, name="round-reader", daemon=True)
        self._reader.start()

    @property
    def finished(self) -> bool:
        """The round ended (with an outcome or an error) and every event was handed out."""
        return self._drained

    def stop(self) -> None:
        """Stop training and keep the best model so far."""
        self._send("stop")

    def cancel(self) -> None:
        """Stop training and keep nothing."""
        self._send("cancel")

    def kill(self) -> None:
        self.process.kill()

    def _send(self, line: str) -> None:
        try:
            self.process.stdin.write(f"{line}\n".encode())
            self.process.stdin.flush()
        except (BrokenPipeError, OSError, ValueError):
            pass  # the child has already ended

    def events(self, block: bool = False, timeout: float | None = None):
        """``(kind, value)`` pairs reported since the last call: ``("progress", Progress)``,
        ``("predicting", (done, total))``, then ``("done", RoundOutcome)`` or
        ``("failed", exception)``. With ``block``, waits for each until the round ends."""
        while not self._drained:
            try:
                event = self._events.get(block=block, timeout=timeout)
            except queue.Empty:
                return
            if event is None:
                self._drained = True
                return
            yield event

    def result(self) -> RoundOutcome:
        """Wait for the round; its outcome, or raise the error it ended with."""
        for _ in self.events(block=True):
            pass
        self._reader.join()
        if self.error is not None:
            raise self.error
        return self.outcome

    def wait(self, timeout: float | None = None) -> int | None:
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def close(self, timeout: float = 30.0) -> None:
        """Cancel the round if it still runs, wait for the child (kill it after ``timeout``
        seconds) and remove the round's folder."""
        if self.process.poll() is None:
            self.cancel()
            if self.wait(timeout) is None:
                self.kill()
                self.wait()
        self._reader.join(timeout)
        for pipe in (self.process.stdin, self.process.stdout):
            pipe.close()
        self._log.close()
        shutil.rmtree(self.folder, ignore_errors=True)

    # -- the reader thread ------------------------------------------------------------------
    def _read(self) -> None:
        try:
            for raw in self.process.stdout:
                message = json.loads(raw)
                if "progress" in message:
                    self._events.put(("progress", Progress(**message["progress"])))
                elif "predicting" in message:
                    self._events.put(("predicting", tuple(message["predicting"])))
                elif "done" in message:
                    self.outcome = torch.load(self.folder / "outcome.pt", weights_only=False)
                elif "error" in message:
                    kind = TrainingError if message["kind"] == "training" else RoundProcessError
                    self.error = kind(message["error"])
            code = self.process.wait()
            if self.outcome is None and self.error is None:
                self.error = RoundProcessError(
                    f"the training process ended without a result (exit code {code}): "
                    f"{self._last_log_line() or 'no message'}"
                )
        except Exception as err:  # noqa: BLE001 - a garbled report must still end the round
            self.error = RoundProcessError(f"reading the training process failed: {err!r}")
        if self.error is not None:
            self._events.put(("failed", self.error))
        else:
            self._events.put(("done", self.outcome))
        self._events.put(None)

    def _last_log_line(self) -> str:
        self._log.flush()
        lines = (self.folder / "log.txt").read_text(errors="replace").strip().splitlines()
        return lines[-1] if lines else ""


# -- the child ----------------------------------------------------------------------------------
def _listen(control: Control) -> None:
    """Stdin: ``stop`` / ``cancel`` lines; end of input (the parent went away) cancels."""
    for line in sys.stdin:
        if line.strip() == "stop":
            control.stop.set()
        elif line.strip() == "cancel":
            control.cancel.set()
    control.cancel.set()


def main(folder: str) -> int:
    folder = Path(folder)
    if hasattr(os, "nice"):  # the viewer comes first: it gets a core whenever it has work
        os.nice(NICENESS)
    protocol = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # whatever else is printed goes to the log, not into the protocol

    control = Control()
    orphaned = threading.Event()  # nobody reads the protocol: the parent (the viewer) died

    def send(**message) -> None:
        if orphaned.is_set():
            return
        try:
            protocol.write(json.dumps(message) + "\n")
        except (BrokenPipeError, OSError, ValueError):
            orphaned.set()
            control.cancel.set()

    threading.Thread(target=_listen, args=(control,), daemon=True).start()
    try:
        return _run(folder, control, send)
    finally:
        if orphaned.is_set():  # no parent will collect the folder: leave nothing behind
            with contextlib.suppress(OSError, ValueError):
                protocol.close()
            shutil.rmtree(folder, ignore_errors=True)


def _run(folder: Path, control: Control, send) -> int:
    try:
        job = torch.load(folder / "job.pt", weights_only=False)
        outcome = run_round(
            job,
            callback=lambda p: send(progress=asdict(p)),
            control=control,
            predict_progress=lambda done, total: send(predicting=[done, total]),
        )
        torch.save(outcome, folder / "outcome.pt")
        send(done=True)
        return 0
    except SuperAnimalError as err:
        send(error=str(err), kind="training")
        return 0
    except Exception as err:  # noqa: BLE001 - reported to the parent, traceback in the log
        traceback.print_exc()
        send(error=f"training failed: {err!r}", kind="crash")
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
