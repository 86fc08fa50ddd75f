"""Session events into the GUI thread.

A :class:`~napari_superanimal.session.Session` emits its psygnal events in whichever thread made
the change (a prediction worker, say); Qt widgets may only be touched from the GUI thread. A
:class:`Relay` connects to a session's events and re-emits each as a Qt signal, which Qt delivers
in the thread the relay lives in (queued when it comes from another thread).

Example::

    relay = Relay(session, parent=widget)
    relay.labels_changed.connect(widget.on_labels)      # always called in the GUI thread
    relay.disconnect_session()                           # when the session leaves the widget
"""

from __future__ import annotations

from qtpy.QtCore import QObject, Signal


class Relay(QObject):
    """Qt twins of a session's events (same names, same arguments)."""

    labels_changed = Signal(object)
    predictions_changed = Signal(object)
    model_changed = Signal(object)
    threshold_changed = Signal(float)
    closing = Signal()

    def __init__(self, session, parent: QObject | None = None):
        super().__init__(parent)
        self.session = session
        events = session.events
        # psygnal keeps weak references to bound methods: these live as long as the relay
        events.labels_changed.connect(self._labels)
        events.predictions_changed.connect(self._predictions)
        events.model_changed.connect(self._model)
        events.threshold_changed.connect(self._threshold)
        events.closing.connect(self._closing)

    def _labels(self, frames) -> None:
        self.labels_changed.emit(frames)

    def _predictions(self, frames) -> None:
        self.predictions_changed.emit(frames)

    def _model(self, version) -> None:
        self.model_changed.emit(version)

    def _threshold(self, value) -> None:
        self.threshold_changed.emit(float(value))

    def _closing(self) -> None:
        self.closing.emit()

    def disconnect_session(self) -> None:
        """Stop listening to the session (it is closing or leaving the viewer)."""
        events = self.session.events
        events.labels_changed.disconnect(self._labels)
        events.predictions_changed.disconnect(self._predictions)
        events.model_changed.disconnect(self._model)
        events.threshold_changed.disconnect(self._threshold)
        events.closing.disconnect(self._closing)
