"""Where the model looks for the animal, chosen in the dock: its detector, a drawn box, or the
whole frame.

SuperAnimal models run top-down as DeepLabCut runs them: on a crop around the box their zoo
detector finds (``detector fasterrcnn_resnet50_fpn_v2`` by default, the MobileNet one is
faster). ``a box I draw`` crops around the first rectangle of the ``animal box`` Shapes layer
on every frame (for species without a detector, or when the detector misses); ``the whole
frame`` feeds the network whole frames. Versions trained in the project on whole frames have
no detector: the choice shows ``the whole frame`` for them, unless a box is drawn.

In a project with several animals each rectangle belongs to the animal chosen in the dock when
it was drawn (its name is written beside it): the animals drawn start there and are followed
from frame to frame (:meth:`Session.predict <napari_superanimal.session.Session.predict>`'s
drawn boxes), the others from their labels.
"""

from __future__ import annotations

import re

import numpy as np

from ..zoo import KEYPOINT_SETS
from ..zoo.registry import POSE_MODELS
from .forms import DRAWN_BOX, WHOLE_FRAME, detector_of

BOX_LAYER = "animal box"
_ZOO_NAME = re.compile(rf"({'|'.join(KEYPOINT_SETS)})_({'|'.join(POSE_MODELS)})(-as-\d+kp)?")


def zoo_dataset(model) -> str | None:
    """The SuperAnimal dataset of a zoo model (as loaded, or re-headed for the project's
    keypoints), whose detector fits it; None for versions trained here."""
    if model.detector is not None:
        return model.detector.dataset
    match = _ZOO_NAME.fullmatch(model.name)
    return match.group(1) if match else None


class AnimalBoxes:
    """The dock's ``Animal from`` choice, read as :meth:`Session.predict`'s ``boxes``."""

    def __init__(self, viewer, combo):
        self.viewer = viewer
        self.combo = combo
        self.drawn_changed = None  # called when the user draws, moves or deletes the box
        self.active_individual = lambda: None  # the animal chosen in the dock (set by it)
        self.current_frame = lambda: 0  # the frame in view (set by the dock)
        self._watched = None

    @property
    def detector(self) -> str | None:
        """The zoo detector chosen, or None (a drawn box or whole frames need none)."""
        return detector_of(self.combo.value)

    @property
    def wants_drawn_box(self) -> bool:
        return self.combo.value == DRAWN_BOX

    def boxes(self):
        """``None`` (the model's own), ``"frame"``, or the drawn ``(x, y, w, h)`` region
        (None as well while no box is drawn: check :meth:`drawn` first)."""
        if self.combo.value == WHOLE_FRAME:
            return "frame"
        if self.wants_drawn_box:
            return self.drawn()
        return None

    def drawn(self) -> tuple[float, float, float, float] | None:
        """The first rectangle of the ``animal box`` layer as ``x, y, w, h`` frame pixels."""
        layer = self.layer()
        if layer is None or not len(layer.data):
            return None
        return _box(layer.data[0])

    def drawn_animals(self, names) -> dict[int, np.ndarray] | None:
        """``{frame: (len(names), 4)}``: the rectangles drawn around animals, by the frame they
        were drawn on (NaN rows: animals not drawn there); None when none names an animal."""
        layer = self.layer()
        if layer is None or not len(layer.data) or "individual" not in layer.features:
            return None
        seeds: dict[int, np.ndarray] = {}
        features = layer.features
        for shape, owner, frame in zip(
            layer.data, features["individual"], features["frame"], strict=True
        ):
            box = _box(shape)
            if owner in names and box is not None:
                rows = seeds.setdefault(int(frame), np.full((len(names), 4), np.nan))
                rows[list(names).index(owner)] = box
        return seeds or None

    def layer(self):
        """The ``animal box`` Shapes layer (made here or by the user), watched for edits."""
        layer = next((la for la in self.viewer.layers if la.name == BOX_LAYER), None)
        if layer is not None and layer is not self._watched:
            layer.events.data.connect(self._on_data)
            self._watched = layer
        return layer

    def ask_for_box(self):
        """The ``animal box`` layer, made and selected in rectangle mode if it is not there."""
        layer = self.layer()
        if layer is None:
            self.viewer.add_shapes(
                ndim=2,
                name=BOX_LAYER,
                edge_color="yellow",
                face_color="transparent",
                edge_width=2,
            )
            layer = self.layer()
        self.viewer.layers.selection.active = layer
        layer.mode = "add_rectangle"
        return layer

    def _on_data(self, event=None) -> None:
        self._name_new_boxes()
        if self.wants_drawn_box and self.drawn_changed is not None:
            self.drawn_changed()

    def _name_new_boxes(self) -> None:
        """Rectangles drawn without an animal take the one chosen in the dock, and the frame
        in view: they say where that animal is on that frame."""
        layer, animal = self._watched, self.active_individual()
        if layer is None or animal is None or not len(layer.data):
            return
        features = layer.features
        n = len(layer.data)
        owners = features["individual"].tolist() if "individual" in features else [None] * n
        frames = features["frame"].tolist() if "frame" in features else [None] * n
        new = [i for i in range(n) if not isinstance(owners[i], str) or not owners[i]]
        if not new:
            return
        for i in new:
            owners[i], frames[i] = animal, self.current_frame()
        layer.features = {"individual": owners, "frame": frames}
        layer.text = {"string": "{individual}", "color": "yellow", "anchor": "upper_left"}


def _box(shape) -> tuple[float, float, float, float] | None:
    corners = np.asarray(shape)[:, -2:]  # (row, column) of each vertex
    (y0, x0), (y1, x1) = corners.min(axis=0), corners.max(axis=0)
    if x1 - x0 < 1 or y1 - y0 < 1:
        return None
    return float(x0), float(y0), float(x1 - x0), float(y1 - y0)
