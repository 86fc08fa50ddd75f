"""The dock's animals: which one a click labels, and fixing an identity switch.

Shown only for a project with several animals (:meth:`~..session.Session.set_individuals`):
the animals in their rim colours (the next click labels the chosen one; ``I`` cycles them),
"Swap" to exchange the chosen animal's labels with another's from the frame in view on, "Give"
to hand the chosen animal's labels from the frame in view on to the other (merging two tracks
of one animal, or splitting a track in two), and "Remove" to take the chosen animal off the
frame in view (each one undo step; what cannot be done is a notification, and changes nothing).
"""

from __future__ import annotations

from collections.abc import Callable

from napari.utils.notifications import show_error
from qtpy.QtGui import QColor, QIcon, QPixmap
from qtpy.QtWidgets import QComboBox, QGridLayout, QLabel, QPushButton, QWidget

from ..errors import SuperAnimalError
from ..session import Session


class AnimalPanel(QWidget):
    """Pick the animal to label, cycle animals, swap two animals' labels from a frame on."""

    def __init__(self, on_chosen: Callable[[str], None], frame: Callable[[], int]):
        super().__init__()
        self.session: Session | None = None
        self._on_chosen = on_chosen
        self._frame = frame
        self.choice = QComboBox()
        self.choice.currentIndexChanged.connect(self._chosen)
        self.other = QComboBox()
        self.swap_button = QPushButton("Swap from this frame on")
        self.swap_button.setToolTip(
            "exchange the two animals' labels on this frame and every later one (one undo step)"
        )
        self.swap_button.clicked.connect(self.swap)
        self.give_button = QPushButton("Give to it from this frame on")
        self.give_button.setToolTip(
            "the chosen animal's labels on this frame and every later one become the other's: "
            "merges two tracks of one animal, or splits a track (refused where the other "
            "already has points; one undo step)"
        )
        self.give_button.clicked.connect(self.give)
        self.remove_button = QPushButton("Remove from this frame")
        self.remove_button.setToolTip("the chosen animal is not on this frame: remove its points")
        self.remove_button.clicked.connect(self.remove)
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.addWidget(QLabel("Animal (I: next)"), 0, 0)
        grid.addWidget(self.choice, 0, 1)
        grid.addWidget(QLabel("with"), 1, 0)
        grid.addWidget(self.other, 1, 1)
        grid.addWidget(self.swap_button, 2, 0, 1, 2)
        grid.addWidget(self.give_button, 3, 0, 1, 2)
        grid.addWidget(self.remove_button, 4, 0, 1, 2)
        self.setVisible(False)

    def set_session(self, session: Session | None, colors: dict) -> None:
        """Show ``session``'s animals (``colors``: name -> RGBA), or hide for one animal."""
        self.session = session
        names = session.individuals if session is not None else ()
        for box in (self.choice, self.other):
            box.blockSignals(True)
            box.clear()
            for name in names:
                pixmap = QPixmap(12, 12)
                pixmap.fill(QColor.fromRgbF(*map(float, colors[name][:3])))
                box.addItem(QIcon(pixmap), name)
            box.blockSignals(False)
        if len(names) > 1:
            self.other.setCurrentIndex(1)
        self.setVisible(bool(names))

    @property
    def chosen(self) -> str | None:
        return self.choice.currentText() or None

    def cycle(self) -> None:
        """Choose the next animal (``I``)."""
        n = self.choice.count()
        if n:
            self.choice.setCurrentIndex((self.choice.currentIndex() + 1) % n)

    def swap(self) -> int:
        """Swap the chosen animal's labels with the other's from the frame in view on; returns
        how many frames changed."""
        return self._between(lambda s, a, b: s.swap_individuals(a, b, start=self._frame()))

    def give(self) -> int:
        """Give the chosen animal's labels from the frame in view on to the other (a merge,
        or a split); returns how many frames changed (0, and a notification, if refused)."""
        return self._between(lambda s, a, b: s.move_individual(a, b, start=self._frame()))

    def _between(self, edit) -> int:
        a, b = self.chosen, self.other.currentText()
        if self.session is None or not a or not b or a == b:
            return 0
        try:
            return edit(self.session, a, b)
        except SuperAnimalError as err:
            show_error(str(err))
            return 0

    def remove(self) -> int:
        """Remove the chosen animal's points from the frame in view; returns how many."""
        if self.session is None or not self.chosen:
            return 0
        return self.session.remove_animal(self._frame(), self.chosen)

    def _chosen(self, _index: int) -> None:
        if self.chosen is not None:
            self._on_chosen(self.chosen)
