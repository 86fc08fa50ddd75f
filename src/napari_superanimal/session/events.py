"""What a :class:`~.session.Session` announces, as psygnal signals (napari's event library).

Views (the labeling widget, the Suggestions dock, a notebook) subscribe to these instead of
polling the session or poking at its attributes. A signal is emitted in the thread that made the
change: predictions made in a worker thread are announced from that thread, so a Qt view
re-emits them into its own thread (see ``napari_superanimal._napari.relay``).

Example::

    session.events.labels_changed.connect(lambda frames: print("edited", frames))
    session.label(10, "nose", 101.5, 80.0)         # prints: edited (10,)
"""

from __future__ import annotations

from psygnal import Signal, SignalGroup


class SessionEvents(SignalGroup):
    """The signals of one session."""

    #: The user's points changed on these frames (an edit, undo/redo, an import).
    labels_changed = Signal(tuple)
    #: The active model's predictions changed on these frames; ``()`` means "all of them"
    #: (another model version became active).
    predictions_changed = Signal(tuple)
    #: Another model version is active (its name, or None for no model).
    model_changed = Signal(object)
    #: The confidence threshold changed (Accept and the "uncertain" display use it).
    threshold_changed = Signal(float)
    #: The session is about to close: views let their running work finish and let go of it.
    closing = Signal()
