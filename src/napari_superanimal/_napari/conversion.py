"""The dock's conversion table: a project with its own keypoints uses a SuperAnimal model.

When the model chosen predicts other keypoints than the project labels, the dock asks which of
the model's keypoints each project keypoint is (DeepLabCut's ``SuperAnimalConversionTables``):
one drop-down per project keypoint, filled from the table the project kept for that model, else
from a DeepLabCut ``config.yaml`` the user picks, else by equal names; "(none)" leaves a
keypoint to be learned from the user's labels. "Use this table" keeps it in the project
(:meth:`~napari_superanimal.session.Session.set_conversion`) and loads the model re-headed for
the project's keypoints; choosing that model again later uses the kept table at once.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from magicgui.widgets import ComboBox, Container, FileEdit
from napari.utils.notifications import show_error
from qtpy.QtWidgets import QLabel, QPushButton, QVBoxLayout, QWidget

from ..errors import SuperAnimalError
from ..zoo import KEYPOINT_SETS

NONE = "(none)"


class ConversionPanel(QWidget):
    """Map the project's keypoints onto a SuperAnimal model's (see the module docstring)."""

    def __init__(self, on_use: Callable[[str, dict[str, str]], None]):
        super().__init__()
        self._on_use = on_use
        self.dataset: str | None = None
        self.title = QLabel("")
        self.title.setWordWrap(True)
        self.config = FileEdit(label="from config.yaml", filter="*.yaml", value="")
        self.config.changed.connect(self._from_config)
        self.form = Container(labels=True)
        self.use_button = QPushButton("Use this table")
        self.use_button.clicked.connect(self.use)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addWidget(Container(widgets=[self.config], labels=True).native)
        layout.addWidget(self.form.native)
        layout.addWidget(self.use_button)
        self.setVisible(False)

    def ask(self, keypoints, dataset: str, kept: dict[str, str] | None) -> None:
        """Show one drop-down per project keypoint for ``dataset``'s model, set from ``kept``
        (the project's table) or by equal names."""
        self.dataset = dataset
        offered = KEYPOINT_SETS[dataset]
        self.title.setText(
            f"{dataset} predicts {len(offered)} other keypoints: which is each of yours?"
        )
        self.form.clear()
        for name in keypoints:
            guess = kept.get(name) if kept is not None else name
            value = guess if guess in offered else NONE
            self.form.append(ComboBox(name=name, label=name, choices=[NONE, *offered], value=value))
        self.setVisible(True)

    def table(self) -> dict[str, str]:
        """``{project keypoint: model keypoint}`` as chosen (keypoints set to none left out)."""
        return {w.name: w.value for w in self.form if w.value != NONE}

    def set_table(self, table: dict[str, str]) -> None:
        for widget in self.form:
            widget.value = table.get(widget.name, NONE)

    def use(self) -> None:
        if self.dataset is None:
            return
        table = self.table()
        if not table:
            show_error("map at least one of your keypoints onto the model's")
            return
        self.setVisible(False)
        self._on_use(self.dataset, table)

    def _from_config(self, path) -> None:
        if self.dataset is None or not str(path) or not Path(path).is_file():
            return
        from ..model.convert import read_conversion_table

        try:
            table = read_conversion_table(path, self.dataset)
        except SuperAnimalError as err:
            show_error(str(err))
            return
        mine = {w.name for w in self.form}
        unknown = sorted(set(table) - mine) + sorted(
            set(table.values()) - set(KEYPOINT_SETS[self.dataset])
        )
        if unknown:
            show_error(
                f"{path}: its table names keypoints neither you nor the model have: "
                f"{', '.join(unknown)}"
            )
            return
        self.set_table(table)
