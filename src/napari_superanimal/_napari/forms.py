"""The dock's forms, built with magicgui (the settings a user types or picks).

Each form is a magicgui :class:`~magicgui.widgets.Container`; ``.native`` is its Qt widget.
Hand-written Qt stays where magicgui cannot serve (the keypoint list, the plots).

Example::

    form = fine_tune_form()
    form.steps.value = 500
    form.native                      # to put in a Qt layout
"""

from __future__ import annotations

from magicgui.widgets import CheckBox, ComboBox, Container, FileEdit, FloatSpinBox, SpinBox

from ..labels.io.main import FORMATS
from ..suggest import STRATEGIES
from ..zoo import KEYPOINT_SETS
from ..zoo.registry import DETECTORS

NO_MODEL = "none"
#: SuperAnimal models the dock offers (trained versions of the project are added to these).
ZOO_CHOICES = [f"{name} (hrnet_w32)" for name in KEYPOINT_SETS]
DRAWN_BOX = "a box I draw"
WHOLE_FRAME = "the whole frame"
#: where a SuperAnimal model looks for the animal: its zoo detector's box (DeepLabCut's
#: top-down pipeline, the default), a box the user draws, or the whole frame
BOX_CHOICES = [f"detector {name}" for name in DETECTORS] + [DRAWN_BOX, WHOLE_FRAME]


def detector_of(boxes: str) -> str | None:
    """The zoo detector a ``boxes`` choice names, or None."""
    name = boxes.removeprefix("detector ")
    return name if name in DETECTORS else None


def model_form() -> Container:
    """``model``: which model predicts (none, a SuperAnimal model, a version trained here);
    ``boxes``: where it looks for the animal."""
    return Container(
        widgets=[
            ComboBox(name="model", label="Model", choices=[NO_MODEL, *ZOO_CHOICES]),
            ComboBox(name="boxes", label="Animal from", choices=BOX_CHOICES),
        ],
        labels=True,
    )


def fine_tune_form() -> Container:
    """Steps, time limit and learning rate of a round."""
    return Container(
        widgets=[
            SpinBox(name="steps", label="Steps", value=300, min=10, max=100_000),
            SpinBox(name="minutes", label="Time limit (min, 0: none)", value=0, min=0, max=24 * 60),
            FloatSpinBox(
                name="lr", label="Learning rate", value=1e-3, min=1e-5, max=1e-1, step=1e-5
            ),
        ],
        labels=True,
    )


def suggest_form() -> Container:
    """How many frames to suggest, and by which strategy."""
    return Container(
        widgets=[
            SpinBox(name="how_many", label="Suggest", value=20, min=1, max=1000),
            ComboBox(
                name="strategy", label="frames by", choices=list(STRATEGIES), value="combined"
            ),
        ],
        layout="horizontal",
        labels=True,
    )


def export_form() -> Container:
    """Where and how to export: format, file, with the user's labels or the model's alone."""
    return Container(
        widgets=[
            ComboBox(name="format", label="Format", choices=list(FORMATS), value="dlc-h5"),
            FileEdit(name="path", label="To", mode="w", value=""),
            CheckBox(name="with_labels", label="with my labels", value=True),
        ],
        labels=True,
    )
