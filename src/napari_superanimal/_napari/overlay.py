"""The keypoints of the frame in view, as one napari Points layer kept in sync with a Session.

The layer holds the current frame's points only (so changing frame costs O(keypoints)):
predictions as discs faded by their confidence (a cross below the confidence threshold; grey
rings for an older model version's, until the current one has predicted the frame), the
user's labels in full colour as diamonds (accepted predictions as squares); hidden keypoints are
not drawn. In a project with several animals every animal's points are drawn, each label
rimmed in its animal's colour, and the skeleton joins each animal's own points. Dragging a point
makes it a label (of the animal it belongs to); a point added in "add" mode labels the keypoint
chosen in the widget, for the animal chosen there. Every edit goes through the Session, so it is
committed before the layer shows it.
"""

from __future__ import annotations

import colorsys
from collections.abc import Callable

import numpy as np
import pandas as pd
from napari.layers import Points, Shapes
from qtpy.QtCore import QTimer

from ..labels.model import FramePoint, PointKind
from ..session import Session

LAYER_NAME = "keypoints"
SYMBOLS = {
    PointKind.PREDICTED: "disc",
    PointKind.UNCERTAIN: "cross",
    PointKind.STALE: "ring",
    PointKind.LABELED: "diamond",
    PointKind.ACCEPTED: "square",
}
GUESSES = (PointKind.PREDICTED, PointKind.UNCERTAIN, PointKind.STALE)


def keypoint_colors(n: int) -> np.ndarray:
    """``(n, 4)`` distinct RGBA colours, evenly spaced in hue."""
    return np.array(
        [(*colorsys.hsv_to_rgb(i / max(n, 1), 0.85, 1.0), 1.0) for i in range(n)], np.float32
    )


def animal_colors(n: int) -> np.ndarray:
    """``(n, 4)`` RGBA colours for animals' rims: paler than the keypoints' faces, hues a
    golden-ratio step apart (so a few animals never share the keypoints' evenly spaced ones)."""
    hues = [(0.1 + 0.618034 * i) % 1.0 for i in range(n)]
    return np.array([(*colorsys.hsv_to_rgb(h, 0.45, 1.0), 1.0) for h in hues], np.float32)


class KeypointsOverlay:
    """Owns the Points layer (and an optional skeleton Shapes layer) for one Session."""

    def __init__(self, viewer, session: Session, on_edit: Callable[[], None] | None = None):
        self.viewer = viewer
        self.session = session
        self.on_edit = on_edit or (lambda: None)
        names = (*session.keypoints, *session.unique_keypoints)  # animals', then the scene's
        self.colors = keypoint_colors(len(names))
        self.color_of = dict(zip(names, self.colors, strict=True))
        self.frame = 0
        self.shown: list[FramePoint] = []  # what each row of the layer is, in order
        self.active_keypoint: str | None = None  # the one a click in "add" mode places
        self.individuals = session.individuals
        self.animal_color = dict(
            zip(self.individuals, animal_colors(len(self.individuals)), strict=True)
        )
        #: the animal a click in "add" mode labels (None: a single-animal project)
        self.active_individual: str | None = self.individuals[0] if self.individuals else None
        self.show_names = False
        self._updating = False
        self._in_layer_event = False  # inside napari's data event: redraw after it
        self._pending = False
        self._last_shape: tuple | None = None
        height, width = session.video.shape[1:3]
        self.point_size = float(max(4.0, min(height, width) / 60))
        self.layer = Points(
            np.empty((0, 2)),
            name=LAYER_NAME,
            ndim=2,
            size=self.point_size,
            border_width=0.3 if session.individuals else 0.15,  # the animal shows in the rim
            border_width_is_relative=True,
            features=pd.DataFrame({"keypoint": pd.Series([], dtype=str)}),
            text={
                "string": "{keypoint}",
                "visible": False,
                "color": "white",
                "size": 9,
                "anchor": "upper_left",
                "translation": [-4, 4],
            },
        )
        self.layer.events.data.connect(self._on_data)
        self.skeleton: Shapes | None = None
        if session.skeleton:
            self.skeleton = Shapes(
                name="skeleton", ndim=2, edge_width=1.5, edge_color="white", opacity=0.6
            )

    def add_to(self, viewer) -> None:
        if self.skeleton is not None:
            viewer.add_layer(self.skeleton)
        viewer.add_layer(self.layer)
        self.layer.mode = "select"

    # -- session -> layer -------------------------------------------------------------------
    def refresh(self, frame: int) -> None:
        """Redraw ``frame`` now, or, while napari is still applying a change to the layer (a
        point being removed), once it has."""
        self.frame = int(frame)
        if self._in_layer_event or self._updating:
            if not self._pending:
                self._pending = True
                QTimer.singleShot(0, self._flush)
            return
        self.show(self.frame)

    def _flush(self) -> None:
        if self._pending:
            self._pending = False
            self.show(self.frame)
            self.on_edit()

    def show(self, frame: int) -> None:
        """Draw ``frame``'s points (O(keypoints))."""
        self.frame = int(frame)
        points = [p for p in self.session.points(self.frame) if p.kind != PointKind.HIDDEN]
        self.shown = points
        n = len(points)
        coords = np.array([[p.y, p.x] for p in points], np.float64).reshape(n, 2)
        colors = np.array([self.color_of[p.keypoint] for p in points], np.float32).reshape(n, 4)
        kinds = [p.kind for p in points]
        predicted = np.array([k in GUESSES for k in kinds], bool)
        stale = np.array([k == PointKind.STALE for k in kinds], bool)
        colors[stale] = (0.6, 0.6, 0.6, 1.0)  # an older model's guess: grey until refreshed
        # borders depend on keypoint and kind only (not on the score), so they are set rarely
        rims = np.array([self._rim(p) for p in points], np.float32).reshape(n, 4)
        borders = np.where(predicted[:, None], colors, rims)
        scores = np.array([p.score for p in points], np.float32)
        colors[predicted, 3] = 0.25 + 0.75 * np.clip(scores[predicted], 0, 1)
        colors[stale, 3] = 0.5
        # what is drawn where changes rarely from one frame to the next: set only what changed
        # (each napari property setter costs milliseconds), then refresh once
        names = [(p.individual, p.keypoint) for p in points]
        last_names, last_kinds = self._last_shape or (None, None)
        self._updating = True
        try:
            layer = self.layer
            with layer.events.blocker_all():
                if layer.selected_data:
                    layer.selected_data = set()
                layer.data = coords
                if names != last_names:
                    features = {"keypoint": [k for _, k in names]}
                    if self.individuals:
                        features["individual"] = [a for a, _ in names]
                    layer.features = pd.DataFrame(features)
                    layer.size = self.point_size
                if names != last_names or kinds != last_kinds:
                    layer.border_color = borders if n else "white"
                    layer.symbol = [SYMBOLS[k] for k in kinds] if n else "disc"
                layer.face_color = colors if n else "white"
                if layer.text.visible != self.show_names:
                    layer.text.visible = self.show_names
            self._last_shape = (names, kinds)
            layer.refresh()
            if self.skeleton is not None:
                self._draw_skeleton(points)
        finally:
            self._updating = False

    def _rim(self, point: FramePoint) -> tuple:
        """A label's rim: its animal's colour, or white in a single-animal project."""
        return tuple(self.animal_color.get(point.individual, (1.0, 1.0, 1.0, 1.0)))

    def _draw_skeleton(self, points: list[FramePoint]) -> None:
        at = {(p.individual, p.keypoint): (p.y, p.x) for p in points}
        lines = [
            np.array([at[(animal, a)], at[(animal, b)]])
            for animal in dict.fromkeys(p.individual for p in points)
            for a, b in self.session.skeleton
            if (animal, a) in at and (animal, b) in at
        ]
        with self.skeleton.events.blocker_all():
            self.skeleton.data = []
            if lines:
                self.skeleton.add_lines(lines, edge_color="white", edge_width=1.5)
        self.skeleton.refresh()

    # -- layer -> session -------------------------------------------------------------------
    def selected_keypoints(self) -> list[str]:
        return [p.keypoint for p in self.selected_points()]

    def selected_points(self) -> list[FramePoint]:
        return [self.shown[i] for i in sorted(self.layer.selected_data) if i < len(self.shown)]

    def _on_data(self, event) -> None:
        if self._updating:
            return
        action = str(getattr(event, "action", ""))
        indices = [int(i) for i in getattr(event, "data_indices", ())]
        self._in_layer_event = True
        try:
            if action == "changed":
                for i in indices:
                    y, x = self.layer.data[i][-2:]
                    point = self.shown[i]
                    self.session.label(self.frame, point.keypoint, x, y, point.individual)
            elif action == "added":
                y, x = self.layer.data[-1][-2:]
                name = self.active_keypoint
                if name is None:
                    raise ValueError("choose a keypoint in the list first, then click to place it")
                self.session.label(self.frame, name, x, y, self.active_individual)
                self.active_keypoint = None
                self.layer.mode = "select"
            elif action == "removing":
                gone = [self.shown[i] for i in indices if 0 <= i < len(self.shown)]
                self.session.delete_points(self.frame, [(p.individual, p.keypoint) for p in gone])
            else:
                return
        except Exception as err:  # noqa: BLE001 - tell the user, redraw what the store holds
            from napari.utils.notifications import show_error

            show_error(str(err))
        finally:
            self._in_layer_event = False
        if action in ("changed", "added"):  # napari is done with the layer: redraw now
            self._pending = False
            self.show(self.frame)
            self.on_edit()
        elif not self._pending:  # "removing": napari removes the points after this event
            self._pending = True
            QTimer.singleShot(0, self._flush)
