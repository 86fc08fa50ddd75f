"""The labeling dock widget: a view on a :class:`~napari_superanimal.session.Session`.

It shows the project, keypoint set and model, a keypoint list with colours (choose one, then
click the canvas to place it), a confidence slider, counts of labeled and accepted frames, the
Fine-tune panel, an export form and the shortcuts. It keeps the ``keypoints`` Points layer on
the frame in view, and predicts the frame in view (and prefetches the next ones) in a napari
thread worker so the viewer never waits for the model.

It follows the session through its events (:mod:`.relay`) and changes it only through its
methods. Opening is light: the dock appears with the video's labels at once; the model (and the
training code) load in a worker after the frame is on screen, so PyTorch is never imported in
the path of napari's open call.
"""

from __future__ import annotations

from napari.qt.threading import create_worker
from napari.utils.notifications import show_error, show_info
from qtpy.QtCore import Qt, QThreadPool, QTimer
from qtpy.QtGui import QColor, QIcon, QPixmap
from qtpy.QtWidgets import (
    QCheckBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ..errors import AnimalsUnknownError, SuperAnimalError
from ..labels.model import UNIQUE
from ..session import Session
from ..zoo import KEYPOINT_SETS
from .animals import AnimalPanel
from .boxes import BOX_LAYER, AnimalBoxes, zoo_dataset
from .conversion import ConversionPanel
from .forms import DRAWN_BOX, NO_MODEL, WHOLE_FRAME, ZOO_CHOICES, export_form, model_form
from .overlay import KeypointsOverlay
from .reader import VIDEO_KEY
from .relay import Relay
from .timeline import SuggestionTimeline
from .training import TrainingPanel

PREFETCH = 8  # frames after the one in view predicted in the background
WAIT_MS = 120_000  # longest wait for a running worker when the video leaves the viewer

SHORTCUTS = [
    ("click a keypoint, then the image", "place that keypoint"),
    ("drag a point", "move it: it becomes a label"),
    ("A", "accept the frame's predictions above the slider"),
    ("H", "hide / show the selected keypoint (occluded)"),
    ("Delete", "remove the selected labels"),
    ("Ctrl+Z / Ctrl+Shift+Z", "undo / redo"),
    ("Right / Left", "next / previous frame"),
    ("Shift+Right / Shift+Left", "next / previous labeled frame"),
    ("N / Shift+N", "next / previous suggested frame (Suggestions dock)"),
    ("J", "jump to a frame (type it, Enter)"),
    ("I", "next animal (a project with several)"),
]


class LabelingWidget(QWidget):
    """Dock widget for labeling keypoints on a video layer (opened from the Plugins menu)."""

    def __init__(self, napari_viewer, session: Session | None = None):
        super().__init__()
        self.viewer = napari_viewer
        self.session: Session | None = None
        self.overlay: KeypointsOverlay | None = None
        self.timeline: SuggestionTimeline | None = None  # the Suggestions dock
        self.relay: Relay | None = None
        self.video_layer = None
        self._owns_session = False  # opened from a layer here (closed here), or handed in
        self.worker = None  # the prediction worker
        self._asked_for_animals = False  # told once how to show a detector-less model animals
        self._user_boxes: str | None = None  # "Animal from" as the user left it, while shown
        # as "the whole frame" for a model trained on whole frames
        self.loader = None  # the worker loading a model
        self.warmer = None  # the worker importing the model and training code once
        self._wanted: int | None = None  # a frame to predict once the running worker is done
        self._wanted_again = False  # ... even if it has a prediction (new model or boxes)
        self._refresh: list[int] = []  # suggested frames to re-predict after a round, in order
        self._build_ui()
        self.viewer.dims.events.current_step.connect(self._on_step)
        self.viewer.layers.events.inserted.connect(self._on_layer_inserted)
        self.viewer.layers.events.removed.connect(self._on_layer_removed)
        if session is not None:
            self.set_session(session)
        else:
            for layer in self.viewer.layers:
                if VIDEO_KEY in layer.metadata:
                    self._open_layer(layer)
                    break

    # -- building ---------------------------------------------------------------------------
    def _build_ui(self) -> None:
        self.project_label = QLabel("open a video to start")
        self.project_label.setWordWrap(True)
        self.keypoint_set_label = QLabel("-")
        self.model_choice = model_form()  # magicgui: which model predicts
        self.model_choice.model.changed.connect(self._on_model_chosen)
        self.animal = AnimalBoxes(self.viewer, self.model_choice.boxes)
        self.animal.drawn_changed = lambda: self.request_prediction(self.frame, force=True)
        self.animal.active_individual = lambda: (
            None if self.overlay is None else self.overlay.active_individual
        )
        self.animal.current_frame = lambda: self.frame
        self.model_choice.boxes.changed.connect(self._on_boxes_chosen)
        self.model_status = QLabel("")
        self.conversion = ConversionPanel(self._use_conversion)
        form = QFormLayout()
        form.addRow("Project", self.project_label)
        form.addRow("Keypoints", self.keypoint_set_label)

        self.keypoint_list = QListWidget()
        self.keypoint_list.itemClicked.connect(self._on_keypoint_clicked)
        self.animals = AnimalPanel(self._on_animal_chosen, lambda: self.frame)

        self.threshold_slider = QSlider(Qt.Orientation.Horizontal)
        self.threshold_slider.setRange(0, 100)
        self.threshold_slider.setValue(50)
        self.threshold_label = QLabel("0.50")
        self.threshold_slider.valueChanged.connect(self._on_threshold)
        slider_row = QHBoxLayout()
        slider_row.addWidget(self.threshold_slider)
        slider_row.addWidget(self.threshold_label)

        self.names_box = QCheckBox("show names")
        self.names_box.toggled.connect(self._on_names)
        self.counts_label = QLabel("")

        self.frame_box = QSpinBox()
        self.frame_box.setKeyboardTracking(False)
        self.frame_box.valueChanged.connect(self.go_to)
        buttons = QHBoxLayout()
        self.predict_button = QPushButton("Predict frame")
        self.predict_button.clicked.connect(lambda: self.request_prediction(self.frame, True))
        self.accept_button = QPushButton("Accept frame (A)")
        self.accept_button.clicked.connect(self.accept)
        buttons.addWidget(self.predict_button)
        buttons.addWidget(self.accept_button)

        export_box = QGroupBox("Export")
        self.export_settings = export_form()  # magicgui: format, file, with labels
        self.export_button = QPushButton("Export")
        self.export_button.clicked.connect(self.export)
        export_layout = QVBoxLayout(export_box)
        export_layout.addWidget(self.export_settings.native)
        export_layout.addWidget(self.export_button)

        help_box = QGroupBox("Shortcuts")
        help_layout = QVBoxLayout(help_box)
        self.help_label = QLabel("<br>".join(f"<b>{key}</b>: {what}" for key, what in SHORTCUTS))
        self.help_label.setWordWrap(True)
        help_layout.addWidget(self.help_label)

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.model_choice.native)
        layout.addWidget(self.model_status)
        layout.addWidget(self.conversion)
        layout.addWidget(self.animals)
        layout.addWidget(QLabel("Keypoints (click one, then the image):"))
        layout.addWidget(self.keypoint_list, stretch=1)
        layout.addWidget(QLabel("Confidence threshold"))
        layout.addLayout(slider_row)
        layout.addWidget(self.names_box)
        frame_row = QHBoxLayout()
        frame_row.addWidget(QLabel("Frame"))
        frame_row.addWidget(self.frame_box, stretch=1)
        layout.addLayout(frame_row)
        layout.addLayout(buttons)
        layout.addWidget(self.counts_label)
        self.training = TrainingPanel(self)
        layout.addWidget(self.training)
        layout.addWidget(export_box)
        layout.addWidget(help_box)

    def _bind_keys(self) -> None:
        bindings = {
            "a": self.accept,
            "h": self.toggle_hidden,
            "Delete": self.delete_selected,
            "Backspace": self.delete_selected,
            "Control-z": self.undo,
            "Control-Shift-z": self.redo,
            "Control-y": self.redo,
            "Right": lambda: self.go_to(self.frame + 1),
            "Left": lambda: self.go_to(self.frame - 1),
            "Shift-Right": self.next_labeled,
            "Shift-Left": self.previous_labeled,
            "n": self.next_suggestion,
            "Shift-n": self.previous_suggestion,
            "j": self.focus_frame_box,
            "i": self.animals.cycle,
        }
        for key, action in bindings.items():
            # on the viewer, and on our layer (whose own bindings would win while it is active)
            for target in (self.viewer, self.overlay.layer):
                target.bind_key(key, _ignore_argument(action), overwrite=True)

    # -- sessions ---------------------------------------------------------------------------
    def _on_layer_inserted(self, event) -> None:
        layer = event.value
        if self.session is None and VIDEO_KEY in getattr(layer, "metadata", {}):
            self._open_layer(layer)

    def _open_layer(self, layer) -> None:
        try:  # labels and predictions only: the model loads after the frame is on screen
            session = Session.open(layer.metadata[VIDEO_KEY], restore_model=False)
        except SuperAnimalError as err:
            show_error(str(err))
            return
        self.set_session(session, video_layer=layer)
        self._owns_session = True
        if session.project.active_model is not None:
            QTimer.singleShot(0, self._load_active_model)

    def _on_layer_removed(self, event) -> None:
        if self.video_layer is not None and event.value is self.video_layer:
            self.detach()

    def _on_session_closing(self) -> None:
        if self.session is not None:
            self.detach()

    def detach(self) -> None:
        """Stop showing the session (its video layer left the viewer, or the viewer closes):
        cancel a training round, let running workers finish, drop the keypoints layer.
        Nothing is lost: every label is on disk already."""
        self.training.abort()
        worker, self.worker, self._wanted, self._refresh = self.worker, None, None, []
        self._wanted_again = False
        for w in (worker, self.loader):
            if w is not None:
                w.returned.disconnect()
                w.errored.disconnect()
        self.loader = None
        if self._owns_session and self.session is not None:
            self.session.video.stop_conversion()  # it resumes when the video is opened again
        QThreadPool.globalInstance().waitForDone(WAIT_MS)  # ours, and the dock's thumbnails
        if self.relay is not None:
            self.relay.disconnect_session()
            self.relay.deleteLater()
            self.relay = None
        if self.overlay is not None and self.overlay.layer in self.viewer.layers:
            self.viewer.layers.remove(self.overlay.layer)
        session, self.session, self.overlay, self.video_layer = self.session, None, None, None
        if self.timeline is not None:
            self.timeline.set_session(None)
        if self._owns_session and session is not None:
            session.close()
        self._owns_session = False
        self.project_label.setText("open a video to start")
        self.keypoint_list.clear()
        self.animals.set_session(None, {})
        self.counts_label.setText("")

    def set_session(self, session: Session, video_layer=None) -> None:
        """Show ``session`` in this widget (adds the video layer if it is not there yet)."""
        if self.session is not None:
            self.detach()
        self.session = session
        if video_layer is None:
            video_layer = next(
                (lay for lay in self.viewer.layers if lay.metadata.get(VIDEO_KEY) is session.video),
                None,
            )
        if video_layer is None:
            from .reader import layer_kwargs

            video_layer = self.viewer.add_image(session.frames, **layer_kwargs(session.video))
            self.viewer.reset_view()
        self.video_layer = video_layer
        self.relay = Relay(session, parent=self)
        self.relay.labels_changed.connect(self._on_labels_changed)
        self.relay.predictions_changed.connect(self._on_predictions_changed)
        self.relay.model_changed.connect(self._on_model_changed)
        self.relay.threshold_changed.connect(self._on_threshold_changed)
        # closed from a notebook in the GUI thread: detach before the label store closes
        self.relay.closing.connect(self._on_session_closing)
        if self.timeline is None:
            self.timeline = SuggestionTimeline(self)
            self.viewer.window.add_dock_widget(self.timeline, name="Suggestions", area="bottom")
        self.timeline.set_session(session)
        self.overlay = KeypointsOverlay(self.viewer, session, on_edit=self._refresh_panel)
        self.overlay.add_to(self.viewer)
        self.animals.set_session(session, self.overlay.animal_color)
        self.viewer.layers.selection.active = self.overlay.layer
        self._bind_keys()
        self.project_label.setText(str(session.project.folder))
        unique = f" + {len(session.unique_keypoints)} unique" if session.unique_keypoints else ""
        self.keypoint_set_label.setText(f"{len(session.keypoints)} keypoints{unique}")
        self._show_model_choices()
        self._show_boxes_choice()
        self.threshold_slider.setValue(round(session.threshold * 100))
        self.frame_box.setRange(0, len(session) - 1)
        self.keypoint_list.clear()
        for name, color in self.overlay.color_of.items():
            pixmap = QPixmap(12, 12)
            pixmap.fill(QColor.fromRgbF(*map(float, color[:3])))
            item = QListWidgetItem(QIcon(pixmap), name)
            item.setData(Qt.ItemDataRole.UserRole, name)
            self.keypoint_list.addItem(item)
        self._on_step()
        if self.warmer is None:  # after this frame is drawn: the first click is not the import
            QTimer.singleShot(0, self._warm_up)

    def _warm_up(self) -> None:
        """Import PyTorch and the training code in a worker, so that neither the first
        prediction nor the first Fine-tune click waits for them on the GUI thread."""
        self.warmer = create_worker(_import_model_and_training_code, _start_thread=False)
        self.warmer.finished.connect(self.training.ensure_plot)
        self.warmer.start()

    def _frame_in_view(self) -> int | None:
        """The video frame on screen, or None when the video is not (or no longer) shown.

        Read through the video layer's own transform, not off the slider: other layers may
        stretch the time axis below 0 (index != frame) or add axes in front of it (napari
        aligns layers on their last axes)."""
        layer = self.video_layer
        if layer is None or self.viewer.dims.ndim < layer.ndim or layer not in self.viewer.layers:
            return None
        frame = int(round(layer.world_to_data(self.viewer.dims.point)[0]))
        return frame if 0 <= frame < len(self.session) else None

    @property
    def frame(self) -> int:
        frame = self._frame_in_view()
        if frame is None:
            return self.overlay.frame if self.overlay is not None else 0
        return frame

    # -- the session's events ----------------------------------------------------------------
    def _on_labels_changed(self, frames) -> None:
        if self.session is not None and self.frame in frames:
            self._redraw()
        elif self.session is not None:
            self._refresh_panel()  # the counts

    def _on_predictions_changed(self, frames) -> None:
        if self.session is None:
            return
        if not frames or self.frame in frames:
            self._redraw()

    def _on_model_changed(self, version) -> None:
        if self.session is None:
            return
        self._show_model_choices()
        self._show_boxes_choice()
        if version is not None and not self.session.has_prediction(self.frame):
            self.request_prediction(self.frame)

    def _on_threshold_changed(self, value: float) -> None:
        if self.threshold_slider.value() != round(value * 100):
            self.threshold_slider.setValue(round(value * 100))
        if self.overlay is not None:
            self.overlay.show(self.frame)

    # -- models ------------------------------------------------------------------------------
    def _show_model_choices(self) -> None:
        """The model form lists none, the SuperAnimal models and this project's versions, and
        shows the session's model (without acting on it)."""
        combo = self.model_choice.model
        session = self.session
        trained = session.versions.trained() if session is not None else []
        current = session.model_version if session is not None and session.model else NO_MODEL
        choices = [NO_MODEL, *ZOO_CHOICES, *trained]
        if current not in choices:
            choices.append(current)
        with combo.changed.blocked():
            combo.choices = choices
            combo.value = current

    def _show_boxes_choice(self) -> None:
        """The "Animal from" choice shows where the session's model looks: its detector, or the
        whole frame for a model that has none and was trained on whole frames (a drawn box
        stays)."""
        model = self.session.model if self.session is not None else None
        if model is None or self.animal.wants_drawn_box:
            return
        if model.detector is not None:
            value = f"detector {model.detector.variant}"
        elif not model.top_down:
            value = WHOLE_FRAME
        else:  # trained on crops, no detector: its boxes come from labels or drawn boxes
            return
        combo = self.model_choice.boxes
        if value == WHOLE_FRAME and combo.value != WHOLE_FRAME:
            self._user_boxes = combo.value  # a SuperAnimal model chosen next takes it again
        with combo.changed.blocked():
            combo.value = value

    def _restore_user_boxes(self) -> None:
        """Before a SuperAnimal model loads: "Animal from" as the user last chose it."""
        if self._user_boxes is not None:
            with self.model_choice.boxes.changed.blocked():
                self.model_choice.boxes.value = self._user_boxes
            self._user_boxes = None

    def _on_model_chosen(self, choice: str) -> None:
        session = self.session
        if session is None or choice == (session.model_version if session.model else NO_MODEL):
            return
        if choice == NO_MODEL:
            session.use_model(None)
            return
        self.conversion.setVisible(False)
        if choice in session.versions.trained():
            self._load_model(lambda: session.versions.load(choice), choice)
            return
        self._restore_user_boxes()
        name, detector = choice.split(" ")[0], self.animal.detector
        table = None
        if tuple(KEYPOINT_SETS.get(name, ())) != session.keypoints:
            table = session.conversion(name)
            if table is None:  # the project's own keypoints: which of the model's are they?
                self.conversion.ask(session.keypoints, name, None)
                show_info(f"map your keypoints onto {name}'s, then 'Use this table'")
                return
        keypoints = session.keypoints
        self._load_model(lambda: _load_zoo_model(name, detector, keypoints, table), choice)

    def _use_conversion(self, dataset: str, table: dict[str, str]) -> None:
        """The conversion panel's table: kept in the project, then the model loads with it."""
        session = self.session
        if session is None:
            return
        try:
            session.set_conversion(dataset, table)
        except SuperAnimalError as err:
            show_error(str(err))
            return
        name, detector, keypoints = dataset, self.animal.detector, session.keypoints
        label = self.model_choice.model.value
        self._load_model(lambda: _load_zoo_model(name, detector, keypoints, table), label)

    def _on_boxes_chosen(self, _choice: str) -> None:
        """A SuperAnimal model takes the detector chosen (or none); the frame in view is
        predicted again with the new boxes."""
        self._user_boxes = None
        if self.animal.wants_drawn_box and self.animal.drawn() is None:
            self.animal.ask_for_box()
            show_info(f"draw a rectangle around the animal in the '{BOX_LAYER}' layer")
            return
        session = self.session
        if session is None or session.model is None:
            return
        model = session.model
        dataset, detector = zoo_dataset(model), self.animal.detector
        if dataset is None and detector is not None and not model.top_down:
            show_info(f"{model.name} was trained on whole frames and has no detector")
            self._show_boxes_choice()
            return
        if dataset is None or detector == (model.detector.variant if model.top_down else None):
            self.request_prediction(self.frame, force=True)
            return

        def swap():  # resolving the weights may download them: off the GUI thread
            from ..model.detector import DetectorRef

            model.detector = None if detector is None else DetectorRef.resolve(dataset, detector)

        self.loader = create_worker(swap, _start_thread=False, _ignore_errors=True)
        self.loader.returned.connect(lambda _: self._boxes_swapped())
        self.loader.errored.connect(self._model_failed)
        self.loader.start()

    def _boxes_swapped(self) -> None:
        self.loader = None
        self.request_prediction(self.frame, force=True)

    def _load_active_model(self) -> None:
        session = self.session
        if session is None or session.model is not None:
            return
        self._load_model(session.load_active_model, session.project.active_model)

    def _load_model(self, load, label: str) -> None:
        """Load a model in a worker (weights, PyTorch on first use), then make it the one that
        predicts; the dock stays usable meanwhile."""
        session = self.session
        self.model_status.setText(f"loading {label}...")

        def done(model) -> None:
            self.loader = None
            self.model_status.setText("")
            if model is not None and self.session is session:
                try:
                    session.use_model(model)
                except SuperAnimalError as err:
                    self._model_failed(err)

        self.loader = create_worker(load, _start_thread=False, _ignore_errors=True)
        self.loader.returned.connect(done)
        self.loader.errored.connect(self._model_failed)
        self.loader.start()

    def _model_failed(self, err: Exception) -> None:
        self.loader = None
        self.model_status.setText("")
        show_error(str(err) if isinstance(err, SuperAnimalError) else f"loading failed: {err!r}")
        self._show_model_choices()

    def model_round_done(self) -> None:
        """A round made a new active model: re-predict the frame in view at once, then its
        neighbours, then the suggested frames; older predictions show as stale meanwhile."""
        self._refresh = list(self.timeline.suggestions) if self.timeline is not None else []
        self.request_prediction(self.frame, force=True)

    # -- frame changes ----------------------------------------------------------------------
    def _on_step(self, event=None) -> None:
        if self.session is None or self.overlay is None or self.session.closed:
            return
        frame = self._frame_in_view()
        if frame is None:
            return
        self.overlay.show(frame)
        self._refresh_panel()
        if self.session.model is not None and not self.session.has_prediction(frame):
            self.request_prediction(frame)

    def go_to(self, frame: int) -> None:
        if self.session is None:
            return
        frame = max(0, min(int(frame), len(self.session) - 1))
        layer = self.video_layer
        if frame != self.frame and layer is not None and layer in self.viewer.layers:
            axis = self.viewer.dims.ndim - layer.ndim
            world = layer.data_to_world([frame] + [0] * (layer.ndim - 1))[0]
            self.viewer.dims.set_point(axis, world)

    def next_labeled(self) -> None:
        target = self.session.next_labeled(self.frame) if self.session else None
        if target is not None:
            self.go_to(target)

    def previous_labeled(self) -> None:
        target = self.session.previous_labeled(self.frame) if self.session else None
        if target is not None:
            self.go_to(target)

    def next_suggestion(self) -> None:
        """Go to the next suggested frame in time (N); Shift+N goes back."""
        self._go_to_suggestion(+1)

    def previous_suggestion(self) -> None:
        self._go_to_suggestion(-1)

    def _go_to_suggestion(self, direction: int) -> None:
        target = self.timeline.step(self.frame, direction) if self.timeline else None
        if target is None:
            show_info("no suggestions yet")
        else:
            self.go_to(target)

    def focus_frame_box(self) -> None:
        self.frame_box.setFocus()
        self.frame_box.selectAll()

    def _refresh_panel(self) -> None:
        session = self.session
        if session is None:
            return
        animal = self.overlay.active_individual
        labels = session.labels(self.frame, animal)
        if session.unique_keypoints:  # the scene's points, listed after the animal's
            labels = {**labels, **session.labels(self.frame, UNIQUE)}
        pred = session.prediction(self.frame, animal)
        for i in range(self.keypoint_list.count()):
            item = self.keypoint_list.item(i)
            name = item.data(Qt.ItemDataRole.UserRole)
            point = labels.get(name)
            if point is not None:
                status = point.state.value
            elif pred is not None and i < len(pred) and pred[i, 2] == pred[i, 2]:
                status = f"predicted {pred[i, 2]:.2f}"
            else:
                status = "-"
            text = f"{name}  ({status})"
            if item.text() != text:
                item.setText(text)
        counts = session.counts()
        self.counts_label.setText(
            f"frame {self.frame} / {counts['frames'] - 1} · labeled frames: {counts['labeled']}"
            f" · accepted frames: {counts['accepted']}"
        )
        if self.frame_box.value() != self.frame:
            self.frame_box.blockSignals(True)
            self.frame_box.setValue(self.frame)
            self.frame_box.blockSignals(False)

    def _redraw(self) -> None:
        if self.overlay is None:
            return
        self.overlay.refresh(self.frame)
        self._refresh_panel()

    # -- actions (buttons and keys): the session announces what changed -------------------------
    def accept(self) -> None:
        if self.session is None:
            return
        n = self.session.accept(self.frame)  # every animal's
        if n == 0 and not self.session.has_prediction(self.frame):
            show_info("no predictions on this frame yet")

    def _chosen_points(self) -> list[tuple[str | None, str]]:
        """``(individual, keypoint)`` of the selected points, else of the keypoint chosen in
        the list (for the animal chosen in the dock)."""
        chosen = [(p.individual, p.keypoint) for p in self.overlay.selected_points()]
        if not chosen and self.keypoint_list.currentItem() is not None:
            name = self.keypoint_list.currentItem().data(Qt.ItemDataRole.UserRole)
            chosen = [(self.overlay.active_individual, name)]
        return chosen

    def toggle_hidden(self) -> None:
        if self.session is None:
            return
        for animal, name in self._chosen_points():
            self.session.toggle_hidden(self.frame, name, animal)

    def delete_selected(self) -> None:
        if self.session is None:
            return
        self.session.delete_points(self.frame, self._chosen_points())

    def undo(self) -> None:
        self._history(self.session.undo if self.session else None)

    def redo(self) -> None:
        self._history(self.session.redo if self.session else None)

    def _history(self, step) -> None:
        if step is None:
            return
        frame = step()
        if frame is not None and frame != self.frame:
            self.go_to(frame)  # show the user what changed

    def export(self) -> None:
        """Export with the form's settings (default file: in the project folder)."""
        session = self.session
        if session is None:
            return
        form = self.export_settings
        fmt = form.format.value
        path = str(form.path.value or "")
        if path in ("", "."):
            from ..session.transfer import video_stem

            stem = video_stem(session)
            name = {
                "dlc-h5": f"{stem}_{session.model_version or 'labels'}.h5",
                "dlc-project": f"{stem}-dlc",
                "slp": f"{stem}.slp",
                "coco": f"coco/{stem}.json",
            }[fmt]
            path = session.project.folder / name
        try:
            written = session.export(path, format=fmt, with_labels=form.with_labels.value)
        except SuperAnimalError as err:
            show_error(str(err))
            return
        show_info(f"exported {written}")

    def choose_keypoint(self, name: str) -> None:
        """Arm the layer: the next click on the image places ``name``."""
        self.overlay.active_keypoint = name
        self.viewer.layers.selection.active = self.overlay.layer
        self.overlay.layer.mode = "add"

    def _on_animal_chosen(self, name: str) -> None:
        """The next click labels ``name``; the keypoint list shows its points."""
        if self.overlay is not None:
            self.overlay.active_individual = name
            self._refresh_panel()

    def _on_keypoint_clicked(self, item: QListWidgetItem) -> None:
        self.choose_keypoint(item.data(Qt.ItemDataRole.UserRole))

    def _on_threshold(self, value: int) -> None:
        self.threshold_label.setText(f"{value / 100:.2f}")
        if self.session is not None:
            self.session.set_threshold(value / 100)

    def _on_names(self, on: bool) -> None:
        if self.overlay is not None:
            self.overlay.show_names = on
            self.overlay.show(self.frame)

    # -- predictions in the background ------------------------------------------------------
    def request_prediction(self, frame: int, force: bool = False) -> None:
        """Predict ``frame`` and the next few in a worker; the session announces them."""
        session = self.session
        if session is None or session.model is None:
            if force:
                show_info("choose a model first")
            return
        if self.worker is not None:
            self._wanted, self._wanted_again = frame, force or self._wanted_again
            return
        boxes = self.animal.boxes()
        if self.animal.wants_drawn_box and session.individuals:  # a box per animal drawn
            boxes = self.animal.drawn_animals(session.individuals)
        if self.animal.wants_drawn_box and boxes is None:
            if force:
                self.animal.ask_for_box()
                show_info(f"draw a rectangle around the animal in the '{BOX_LAYER}' layer")
            return
        frames = [f for f in range(frame, min(frame + 1 + PREFETCH, len(session)))]
        if not force:
            frames = [f for f in frames if not session.has_prediction(f)]
        if not frames:
            return

        animal = self.overlay.active_individual if self.overlay is not None else None

        def run():  # a drawn box holds the animal chosen in the dock
            return session.predict(frames, batch_size=len(frames), boxes=boxes, individual=animal)

        self.worker = create_worker(run, _start_thread=False, _ignore_errors=True)
        self.worker.returned.connect(lambda _: self._prediction_done(frames))
        self.worker.errored.connect(self._prediction_failed)
        self.worker.start()

    def _prediction_done(self, frames: list[int]) -> None:
        self.worker = None
        wanted, again = self._wanted, self._wanted_again
        self._wanted, self._wanted_again = None, False
        if wanted is not None and (again or wanted != frames[0]):
            self.request_prediction(wanted, force=again)
        while self.worker is None and self._refresh and self.session is not None:
            frame = self._refresh.pop(0)  # stale suggested frames, one batch at a time
            if not self.session.has_prediction(frame):
                self.request_prediction(frame)

    def _prediction_failed(self, err: Exception) -> None:
        self.worker = None
        wanted, again = self._wanted, self._wanted_again
        self._wanted, self._wanted_again = None, False
        self._refresh = []
        if isinstance(err, AnimalsUnknownError):  # not a fault: the user has to show them
            if not self._asked_for_animals:
                show_info(f"{err}: choose 'Animal from: {DRAWN_BOX}'")
                self._asked_for_animals = True
        else:
            show_error(
                str(err) if isinstance(err, SuperAnimalError) else f"prediction failed: {err!r}"
            )
        if wanted is not None and again:  # asked for since (a box drawn): not lost
            self.request_prediction(wanted, force=True)


def _import_model_and_training_code() -> None:
    import importlib

    for module in ("model.inference", "train.process", "train.adapt"):
        importlib.import_module(f"napari_superanimal.{module}")
    for module in ("matplotlib.figure", "matplotlib.backends.backend_qtagg"):  # the loss plot
        importlib.import_module(module)


def _load_zoo_model(name: str, detector: str | None, keypoints=None, table=None):
    """A SuperAnimal model (downloaded on first use), re-headed for ``keypoints`` by the
    conversion ``table`` when the project has keypoints of its own."""
    from ..model.inference import load_model

    model = load_model(name, download=True, detector=detector)
    if table is None:
        return model
    from ..model.convert import convert_keypoints

    return convert_keypoints(model, keypoints, table)


def _ignore_argument(action):
    def handler(_viewer_or_layer):
        action()

    return handler
