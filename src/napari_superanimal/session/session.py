"""A labeling session: one video, its project (labels, predictions) and a model, without a GUI.

The napari widget, Jupyter and the command line all drive the same :class:`Session`: it reads
frames, keeps the active model's predictions in memory for O(keypoints) access to any frame,
writes every edit through the project's label store (committed before the call returns), and
announces every change on :attr:`Session.events` (psygnal), which views subscribe to. It is a
façade: models are resolved in :mod:`..model.resolve`, versions kept by :mod:`..model.versions`,
the project folder chosen by :func:`..labels.project.project_folder`, training run by
:mod:`..train`, files read and written by :mod:`.transfer` and :mod:`..labels.io`.

Example::

    from napari_superanimal import Session
    s = Session.open("mouse.mp4", model="superanimal_topviewmouse")
    s.events.labels_changed.connect(print)
    s.predict(frames=range(100))
    s.label(10, "nose", 101.5, 80.0)     # prints (10,)
    s.accept(10)                         # predictions above the threshold become accepted labels
    s.undo()
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from ..errors import AnimalsUnknownError, SessionError
from ..labels.model import ONE_ANIMAL, UNIQUE, FramePoint, Point, PointKind
from ..labels.predictions import in_animal_row
from ..labels.project import Project, project_folder
from ..labels.store import Key
from ..model.versions import ModelVersions
from ..video import open_video
from ..video.video import Video
from ..zoo import KEYPOINT_SETS
from ..zoo.registry import DEFAULT_DETECTOR
from .events import SessionEvents
from .labeled import LabeledFrames
from .predictions import PredictionCache

DEFAULT_KEYPOINTS = "superanimal_topviewmouse"


class Session:
    """One video of a project, with its labels, predictions and (optionally) a model."""

    def __init__(
        self,
        video: Video,
        project: Project,
        model=None,
        *,
        threshold: float = 0.5,
        restore_model: bool = True,
    ):
        self.video = video
        self.project = project
        self.versions = ModelVersions(project)
        self.events = SessionEvents()
        self.video_key = project.add_video(video.source_path or video.store_path)
        active = project.active_model
        if model is None and restore_model and active in self.versions.trained():
            model = self.versions.load(active)  # the project's model, as left
        if model is not None:
            project.check_model(model.name, model.keypoints)
        self._model = model
        stored = project.videos.get(self.video_key, {}).get("predictions", [])
        if model is not None:
            self._version = model.name
        elif active is not None and (active in stored or active in self.versions.trained()):
            self._version = active
        else:
            self._version = stored[-1] if stored else None
        self._threshold = float(threshold)
        self.closed = False
        self._index = {k: i for i, k in enumerate(self.keypoints)}
        self._pred = self._prediction_cache()
        self._labeled = LabeledFrames(project.labels.frame_states(self.video_key))
        self._thumbnails = None

    @classmethod
    def open(
        cls,
        video: str | os.PathLike | Video,
        model=None,
        *,
        weights: str | os.PathLike | None = None,
        arch: str = "hrnet_w32",
        keypoints: Sequence[str] | None = None,
        project: str | os.PathLike | None = None,
        device: str = "auto",
        download: bool = True,
        threshold: float = 0.5,
        conversion=None,
        restore_model: bool = True,
        detector: str | None = DEFAULT_DETECTOR,
        detector_weights: str | os.PathLike | None = None,
    ) -> Session:
        """Open a video (converting it in the background) with its project, created on first use.

        ``model`` is a :class:`~napari_superanimal.model.inference.PoseEstimator`, a model name
        (a SuperAnimal dataset, or a version trained in the project; see
        :func:`~napari_superanimal.model.resolve.resolve_model`), or None: then the project's
        active trained model, if any, is loaded (unless ``restore_model`` is False: the widget
        loads it in the background). The project defaults to
        :func:`~napari_superanimal.labels.project.project_folder`; a new one takes the model's
        keypoints, else ``keypoints``, else SuperAnimal TopViewMouse's.

        ``conversion`` maps the project's own keypoints onto a SuperAnimal model's: a
        ``{project keypoint: model keypoint}`` dict, or a DeepLabCut ``config.yaml`` whose
        ``SuperAnimalConversionTables`` (and, without ``keypoints``, ``bodyparts``) are used;
        by default the table the project keeps for that model (:meth:`set_conversion`).

        A SuperAnimal model predicts top-down, as DeepLabCut runs it: on a crop around the box
        its zoo ``detector`` finds (weights ``detector_weights`` or resolved like the pose
        weights); ``detector=None`` predicts whole frames.
        """
        from ..model.resolve import conversion_keypoints, resolve_model

        if not isinstance(video, Video):
            video = open_video(video)
        folder = Path(project) if project else project_folder(video)
        existing = Project.exists(folder)
        proj = Project.open(folder) if existing else None
        try:
            own = proj.keypoints if proj else None
            if own is not None and keypoints is not None and tuple(keypoints) != own:
                raise SessionError(
                    f"{folder}: this project's keypoints are {list(own)}, not "
                    f"{list(keypoints)}; open it without keypoints, or use another project"
                )
            kept = (proj.section("conversions") if proj else {}).get(str(model))
            if conversion is None and kept and own and tuple(KEYPOINT_SETS[str(model)]) != own:
                conversion = kept  # the table this project keeps for that SuperAnimal model
            if conversion is not None and keypoints is None:
                keypoints = own or conversion_keypoints(conversion)
            estimator = resolve_model(
                model,
                weights=weights,
                arch=arch,
                keypoints=keypoints,
                conversion=conversion,
                versions=ModelVersions(proj) if proj else None,
                device=device,
                download=download,
                detector=detector,
                detector_weights=detector_weights,
            )
            if proj is None:
                if estimator is not None:
                    names = estimator.keypoints
                else:
                    names = tuple(keypoints) if keypoints else KEYPOINT_SETS[DEFAULT_KEYPOINTS]
                proj = Project.for_video(video, names, folder)
            return cls(video, proj, estimator, threshold=threshold, restore_model=restore_model)
        except BaseException:
            if proj is not None:
                proj.close()
            raise

    def close(self) -> None:
        """Close the project. Views showing the session (a napari dock) are told first, so a
        prediction still running in one finishes before the label store closes."""
        if self.closed:
            return
        self.closed = True
        self.events.closing.emit()
        self.project.close()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __len__(self) -> int:
        return len(self.video)

    def __repr__(self) -> str:
        return (
            f"<Session {self.video.name}: {len(self)} frames, {len(self.keypoints)} keypoints, "
            f"model {self.model_version or 'none'}, {len(self._labeled)} labeled frames>"
        )

    # -- what there is ----------------------------------------------------------------------
    @property
    def keypoints(self) -> tuple[str, ...]:
        return self.project.keypoints

    @property
    def skeleton(self) -> list[tuple[str, str]]:
        return [tuple(pair) for pair in self.project.meta.get("skeleton", [])]

    @property
    def frames(self):
        """The video's frames as a lazy dask array ``(T, H, W, C)``."""
        return self.video.frames

    def read_frame(self, frame: int) -> np.ndarray:
        return self.video.read_frame(self._frame(frame))

    # -- the model --------------------------------------------------------------------------
    @property
    def model(self):
        """The :class:`~napari_superanimal.model.inference.PoseEstimator` that predicts, or None."""
        return self._model

    @property
    def model_version(self) -> str | None:
        """The version whose predictions are shown (the model's name, or the last one stored)."""
        return self._version

    @property
    def threshold(self) -> float:
        """Predictions scoring at least this are "sure": Accept takes them."""
        return self._threshold

    def set_threshold(self, value: float) -> None:
        value = float(value)
        if not 0 <= value <= 1:
            raise SessionError(f"a confidence threshold is between 0 and 1, not {value}")
        if value != self._threshold:
            self._threshold = value
            self.events.threshold_changed.emit(value)

    def use_model(self, model) -> None:
        """Make ``model`` the one that predicts: a PoseEstimator, a version trained in this
        project (rolling back is this call), or None (no model; labels and predictions stay).
        The version's stored predictions load; the previous ones show as stale meanwhile."""
        if isinstance(model, str):
            model = self.versions.load(model)
        if model is not None:
            self.project.check_model(model.name, model.keypoints)
        version = model.name if model is not None else self._version
        changed = version != self._version
        self._model = model
        if changed:
            self._version = version
            self._pred.replace(self._stored(), keep_stale=True)
        if model is not None:
            self.project.set_active_model(model.name)
        self.events.model_changed.emit(model.name if model is not None else None)
        if changed:
            self.events.predictions_changed.emit(())

    def conversion(self, dataset: str) -> dict[str, str] | None:
        """The ``{project keypoint: model keypoint}`` table this project keeps for the
        SuperAnimal ``dataset``'s models (see :meth:`set_conversion`), or None."""
        table = self.project.section("conversions").get(dataset)
        return dict(table) if table is not None else None

    def set_conversion(self, dataset: str, table: dict[str, str]) -> None:
        """Keep ``table`` (DeepLabCut's ``SuperAnimalConversionTables`` entry: project
        keypoint -> ``dataset`` keypoint) in the project, for the dock and :meth:`open` to use
        that model with this project's keypoints."""
        if dataset not in KEYPOINT_SETS:
            raise SessionError(f"unknown SuperAnimal dataset {dataset!r}")
        table = {str(k): str(v) for k, v in table.items()}
        mine = set(table) - set(self.keypoints)
        theirs = set(table.values()) - set(KEYPOINT_SETS[dataset])
        if mine or theirs or not table:
            raise SessionError(
                f"a conversion table maps this project's keypoints onto {dataset}'s; "
                f"unknown: {', '.join(sorted(mine | theirs)) or 'none given'}"
            )
        self.project.set_entry("conversions", dataset, table)

    def load_active_model(self):
        """The project's active trained model, loaded but not yet used (None if there is none):
        for loading it off the GUI thread, then :meth:`use_model`."""
        active = self.project.active_model
        return self.versions.load(active) if active in self.versions.trained() else None

    def model_versions(self) -> dict[str, dict]:
        """Every model version the project knows, with what it recorded (trained ones: loss
        curve, test error before and after, the labels used)."""
        return self.versions.known()

    # -- predictions ------------------------------------------------------------------------
    def _stored(self) -> np.ndarray | None:
        if self._version is None:
            return None
        return self.project.predictions(self.video_key, self._version)

    def _prediction_cache(self) -> PredictionCache:
        n = len(self.individuals)
        return PredictionCache(len(self.video), len(self.keypoints), self._stored(), n_animals=n)

    def prediction(self, frame: int, individual: str | None = None) -> np.ndarray | None:
        """``(K, 3)`` x, y, score of the active model on ``frame``, or None if not predicted.
        ``individual`` is required when the project has several animals."""
        row = self._pred.frame(self._frame(frame))
        return self._animal_row(row, individual)

    def animal_predictions(self, frame: int) -> dict[str, np.ndarray]:
        """Every animal's ``(K, 3)`` predictions on ``frame`` that the model made, by
        individual (the one animal's under ``""`` in a single-animal project)."""
        return _by_animal(self._pred.frame(self._frame(frame)), self.individuals)

    def stale_prediction(self, frame: int, individual: str | None = None) -> np.ndarray | None:
        """``(K, 3)`` from the model version used before the current one, if any."""
        row = self._pred.stale_frame(self._frame(frame))
        return self._animal_row(row, individual)

    def _animal_row(self, row: np.ndarray | None, individual: str | None) -> np.ndarray | None:
        individual = self._individual(individual)
        if row is None or not self.individuals:
            return row
        if individual == UNIQUE:  # the scene's points are the user's alone
            return None
        one = row[self.individuals.index(individual)]
        return None if np.isnan(one[:, 2]).all() else one

    def has_prediction(self, frame: int) -> bool:
        """Whether the active model predicted ``frame`` (any of its animals)."""
        return self._pred.frame(self._frame(frame)) is not None

    def all_predictions(self) -> np.ndarray:
        """x, y, score of the active model on every frame (NaN: not predicted): ``(T, K, 3)``,
        or ``(T, A, K, 3)`` in the order of :attr:`individuals` in a project with several
        animals.

        A read-only view, so cheap on any length of video; it fills in as predictions arrive
        (copy it to keep a snapshot)."""
        return self._pred.view()

    def predict(
        self,
        frames: Iterable[int] | None = None,
        batch_size: int = 8,
        progress: Callable[[int, int], None] | None = None,
        boxes=None,
        skip_done: bool = False,
        individual: str | None = None,
    ) -> np.ndarray:
        """Predict ``frames`` (default: all) with the model; stored in the project at once.

        ``boxes``: the model's own (None: a SuperAnimal model's detector, else whole frames),
        ``"frame"``, a region ``(x, y, w, h)`` the user drew, boxes drawn around the animals
        ``{frame: (A, 4)}`` (one row per animal, NaN: not drawn), or a
        :class:`~napari_superanimal.model.boxes.BoxSource`. Safe to call from a worker thread
        while the GUI thread reads and edits.

        In a project with several animals a model with a detector finds each of them (up to
        :attr:`individuals`), follows them from frame to frame and keeps each animal's identity
        from the frame before (or after) the ones predicted, where the model predicted it. A
        network trained here on the animals' crops without a detector follows each animal from
        where it is known (drawn boxes, labels, the frame before: :mod:`.seeds`). Other boxes
        find one animal, stored as ``individual``'s (default: the first). Returns what
        :meth:`all_predictions` holds for ``frames``.
        """
        model = self._model
        if model is None:
            raise SessionError("no model in this session: open it with model=...")
        wanted = range(len(self)) if frames is None else frames
        indices = [self._frame(f) for f in wanted]
        if skip_done:
            indices = [f for f in indices if not self.has_prediction(f)]
        if not indices:
            return np.empty((0, *self._pred.shape[1:]), np.float32)
        names = self.individuals
        drawn = boxes if isinstance(boxes, dict) else None
        own = boxes is None and model.top_down and bool(names or model.detector is None)
        if drawn is not None or own:
            poses = self._predict_tracked(model, indices, drawn, progress)
            if not names:
                poses = poses[:, 0]
        else:
            poses = model.predict_video(
                self.video, indices, batch_size=batch_size, progress=progress, boxes=boxes
            )
            if names:
                row = names.index(self._individual(individual or names[0]))
                poses = in_animal_row(poses, len(names), row)
        if model is self._model:  # not replaced by another model meanwhile
            self.add_predictions(indices, poses)
        return poses

    def _predict_tracked(self, model, indices, drawn, progress) -> np.ndarray:
        """``(N, A, K, 3)``: every animal followed through ``indices`` (its detector's, else
        seeded where the animals are known, :mod:`.seeds`)."""
        n = max(len(self.individuals), 1)
        if model.detector is not None:  # drawn boxes name the animals; else keep the order
            tracks = model.tracks(n, seeds=drawn)
            poses = model.predict_animals(self.video, n, indices, progress=progress, tracks=tracks)
            return poses if drawn else self._keep_identities(indices, poses)
        from .seeds import seeded_runs

        runs = seeded_runs(self, indices, drawn)
        at = {f: i for i, f in enumerate(indices)}
        poses = np.full((len(indices), n, len(self.keypoints), 3), np.nan, np.float32)
        done, total = 0, sum(len(run) for run, _ in runs)
        for run, seeds in runs:
            try:
                tracks = model.tracks(n, seeds=seeds)
            except ValueError as err:
                raise AnimalsUnknownError(str(err)) from None

            def step(k, _total, before=done):
                if progress is not None:
                    progress(before + k, total)

            found = model.predict_animals(self.video, n, run, progress=step, tracks=tracks)
            for f, pose in zip(run, found, strict=True):
                poses[at[f]] = pose
            done += len(run)
        return poses

    def _keep_identities(self, frames: list[int], poses: np.ndarray) -> np.ndarray:
        """Put ``poses`` (``(N, A, K, 3)``, the tracker's order) in the order that continues the
        active model's predictions on the frame next to them (before, else after)."""
        from ..model.identities import match_animals

        for known, row in ((frames[0] - 1, 0), (frames[-1] + 1, -1)):
            if 0 <= known < len(self) and self.has_prediction(known):
                order = match_animals(self._pred.frame(known), poses[row])
                return poses[:, order]
        return poses

    def add_predictions(
        self, frames: Sequence[int], poses: np.ndarray, model_version: str | None = None
    ) -> None:
        """Record predictions of ``frames`` (shaped as :meth:`all_predictions`' rows), made
        here or elsewhere (another process, a cluster, a file), as ``model_version``'s
        (default: the active version). A session showing no version yet shows this one from
        now on."""
        version = model_version or self._version
        if version is None:
            raise SessionError("predictions need a model version: open the session with a model")
        frames = [int(f) for f in frames]
        poses = np.asarray(poses, np.float32)
        if poses.shape[1:] != self._pred.shape[1:]:
            raise SessionError(
                f"predictions for this project are (N, {', '.join(map(str, self._pred.shape[1:]))})"
                f" (one row per animal, keypoint), not {poses.shape}"
            )
        adopted = self._version is None
        if adopted:
            self._version = version
        if version == self._version:
            self._pred.set(frames, poses)
        if not self.project.readonly:  # a read-only project shows them, keeps nothing
            self.project.save_predictions(
                self.video_key, version, poses, frames=frames, n_frames=len(self)
            )
        if version == self._version:
            self.events.predictions_changed.emit(() if adopted else tuple(frames))

    # -- training ---------------------------------------------------------------------------
    def finetune(self, **settings):
        """Train one round on this session's labels (see :func:`~napari_superanimal.train.
        finetune.finetune` for the settings); the new version becomes the active model and its
        result is returned (None if cancelled). Predictions of older versions become stale."""
        from ..train.finetune import finetune

        result = finetune(self, **settings)
        if result is not None:
            self.use_model(result.estimator)
        return result

    def adapt(self, **settings):
        """Adapt the model to this video without labels (see :func:`~napari_superanimal.train.
        adapt.adapt`); the new version (``"adapted": true`` in its info) becomes the active
        model and its result is returned (None if cancelled)."""
        from ..train.adapt import adapt

        result = adapt(self, **settings)
        if result is not None:
            self.use_model(result.estimator)
        return result

    # -- labels -----------------------------------------------------------------------------
    def check_one_animal(self, what: str) -> None:
        """Refuse in one line what works on one animal a frame so far (training, export,
        import) in a project with several animals, rather than leave animals out."""
        if self.individuals:
            raise SessionError(
                f"{what} works on one animal a frame so far, and this project labels "
                f"{', '.join(self.individuals)}"
            )

    @property
    def individuals(self) -> tuple[str, ...]:
        """The project's animals; empty for a single-animal project (see
        :meth:`set_individuals`)."""
        return self.project.individuals

    def set_individuals(self, names: Sequence[str]) -> None:
        """Name the animals of the project (see :meth:`~..labels.project.Project.
        set_individuals`: a single-animal project's labels go to the first name)."""
        self.project.set_individuals(names)
        self._pred = self._prediction_cache()  # predictions in the new animals' rows
        self._changed(self.labeled_frames())
        self.events.predictions_changed.emit(())

    @property
    def unique_keypoints(self) -> tuple[str, ...]:
        """Keypoints of the scene or of no animal (DeepLabCut's ``uniquebodyparts``): labeled
        under the individual ``"single"``, whichever animal an edit names."""
        return self.project.unique_keypoints

    def set_unique_keypoints(self, names: Sequence[str]) -> None:
        """Name the unique keypoints of a project with animals (see :meth:`~..labels.project.
        Project.set_unique_keypoints`)."""
        self.project.set_unique_keypoints(names)
        self.events.labels_changed.emit(())

    def labels(self, frame: int, individual: str | None = None) -> dict[str, Point]:
        """One animal's points on ``frame`` (labeled, accepted, hidden), by keypoint.
        ``individual`` is required when the project has several animals (``"single"``: its
        unique keypoints)."""
        individual = self._individual(individual)
        return self.project.labels.frame(self.video_key, self._frame(frame), individual)

    def animals(self, frame: int) -> dict[str, dict[str, Point]]:
        """Every animal's points on ``frame``: ``{individual: {keypoint: Point}}``."""
        return self.project.labels.animals(self.video_key, self._frame(frame))

    def swap_individuals(self, a: str, b: str, start: int = 0, stop: int | None = None) -> int:
        """Swap the labels of animals ``a`` and ``b`` on frames ``start`` up to (not including)
        ``stop`` (default: to the end): an identity switch fixed in one undoable step.
        Returns how many frames changed."""
        a, b = self._individual(a), self._individual(b)
        return 0 if a == b else self._reassign({a: b, b: a}, start, stop)

    def move_individual(
        self, source: str, target: str, start: int = 0, stop: int | None = None
    ) -> int:
        """Give ``source``'s labels on frames ``start`` up to ``stop`` to ``target``: merges
        two tracks of one animal (``target`` has no points there; refused in one line where it
        has) or splits a track (from a frame on, to an animal not labeled there). One undoable
        step; returns how many frames changed."""
        source, target = self._individual(source), self._individual(target)
        return 0 if source == target else self._reassign({source: target}, start, stop)

    def remove_animal(self, frame: int, individual: str) -> int:
        """Remove every point of ``individual`` on ``frame`` (the animal is not there);
        returns how many points went."""
        individual = self._individual(individual)
        return self.delete(frame, list(self.labels(frame, individual)), individual)

    def _reassign(self, mapping: dict[str, str], start: int, stop: int | None) -> int:
        stop = len(self) if stop is None else int(stop)
        frames = [f for f in self.labeled_frames() if int(start) <= f < stop]
        store = self.project.labels
        if not frames or store.reassign(self.video_key, mapping, frames) is None:
            return 0
        changed = store.last_edit_frames()[1]
        self._changed(changed)
        return len(changed)

    def points(self, frame: int, individual: str | None = None) -> list[FramePoint]:
        """What the viewer shows on ``frame``: the user's points first-hand, the active model's
        predictions for the rest (``uncertain`` below the threshold), and an older model's
        (``stale``) where the active one has not predicted yet. In a project with several
        animals: every animal's points, animal by animal (or only ``individual``'s)."""
        frame = self._frame(frame)
        if individual == UNIQUE:
            names = ()
        elif self.individuals:
            names = self.individuals if individual is None else (self._individual(individual),)
        else:
            names = (self._individual(individual),)
        animals = self.animals(frame)
        pred, stale = self._pred.frame(frame), None
        if pred is None:
            stale = self._pred.stale_frame(frame)
        predicted, older = _by_animal(pred, self.individuals), _by_animal(stale, self.individuals)
        out = []
        for animal in names:
            labels = animals.get(animal, {})
            out += self._one_animal(labels, predicted.get(animal), older.get(animal), animal)
        if individual is None or individual == UNIQUE:  # the scene's points, the user's only
            out += [_shown(p) for p in animals.get(UNIQUE, {}).values()]
        return out

    def _one_animal(self, labels, pred, stale, individual: str) -> list[FramePoint]:
        out = []
        for i, name in enumerate(self.keypoints):
            point = labels.get(name)
            if point is not None:
                out.append(_shown(point))
            elif pred is not None and np.isfinite(pred[i, :2]).all():
                x, y, score = map(float, pred[i])
                kind = PointKind.PREDICTED if score >= self._threshold else PointKind.UNCERTAIN
                out.append(FramePoint(name, x, y, kind, score, individual))
            elif stale is not None and np.isfinite(stale[i, :2]).all():
                x, y, score = map(float, stale[i])
                out.append(FramePoint(name, x, y, PointKind.STALE, score, individual))
        return out

    def label(
        self, frame: int, keypoint: str, x: float, y: float, individual: str | None = None
    ) -> None:
        """Place (or move) ``keypoint`` of ``individual`` on ``frame`` at ``x, y`` pixels;
        durable on return."""
        frame = self._frame(frame)
        individual, keypoint = self._key(individual, keypoint)
        x, y = float(x), float(y)
        height, width = self.video.shape[1:3]
        # pixel centres at c (napari) or c + 0.5 (DeepLabCut's decoding): accept both
        inside = -0.5 <= x <= width and -0.5 <= y <= height
        if not (np.isfinite([x, y]).all() and inside):
            raise SessionError(
                f"{keypoint} at ({x:.1f}, {y:.1f}) is outside the {width}x{height} frame"
            )
        old = self.labels(frame, individual).get(keypoint)
        version = old.model_version if old else None
        if version is None and self.prediction(frame, individual) is not None:
            version = self._version  # a moved prediction remembers where it came from
        point = Point(keypoint, x, y, PointKind.LABELED, version, individual)
        self._apply({frame: {(individual, keypoint): point}})

    def accept(
        self, frame: int, threshold: float | None = None, individual: str | None = None
    ) -> int:
        """Accept the predictions on ``frame`` scoring at least ``threshold`` (default: the
        session's) for keypoints the user has not touched, of every animal (or only
        ``individual``'s), in one undo step; returns how many were accepted."""
        frame = self._frame(frame)
        cut = self._threshold if threshold is None else float(threshold)
        predicted = self.animal_predictions(frame)
        if individual is not None or not self.individuals:
            wanted = self._individual(individual)
            predicted = {wanted: predicted[wanted]} if wanted in predicted else {}
        animals = self.animals(frame)
        changes = {
            (animal, name): Point(
                name,
                float(pred[i, 0]),
                float(pred[i, 1]),
                PointKind.ACCEPTED,
                self._version,
                animal,
            )
            for animal, pred in predicted.items()
            for i, name in enumerate(self.keypoints)
            if name not in animals.get(animal, {})
            and np.isfinite(pred[i]).all()
            and pred[i, 2] >= cut
        }
        if changes:
            self._apply({frame: changes})
        return len(changes)

    def toggle_hidden(self, frame: int, keypoint: str, individual: str | None = None) -> bool:
        """Hide a keypoint on ``frame`` (occluded), or un-hide it; returns True if now hidden."""
        frame = self._frame(frame)
        key = individual, keypoint = self._key(individual, keypoint)
        old = self.labels(frame, individual).get(keypoint)
        if old is not None and old.state == PointKind.HIDDEN:
            restored = None
            if old.x is not None:
                restored = replace(old, state=PointKind.LABELED)
            self._apply({frame: {key: restored}})
            return False
        # a hidden label keeps its position (un-hiding restores it); a hidden prediction has none
        x, y, version = (old.x, old.y, old.model_version) if old else (None, None, None)
        self._apply({frame: {key: Point(keypoint, x, y, PointKind.HIDDEN, version, individual)}})
        return True

    def hide(self, frame: int, keypoint: str, individual: str | None = None) -> None:
        """Mark ``keypoint`` hidden (occluded) on ``frame``."""
        individual, keypoint = self._key(individual, keypoint)
        old = self.labels(frame, individual).get(keypoint)
        if old is None or old.state != PointKind.HIDDEN:
            self.toggle_hidden(frame, keypoint, individual)

    def delete(self, frame: int, keypoints: Iterable[str], individual: str | None = None) -> int:
        """Remove ``individual``'s points for ``keypoints`` on ``frame``; returns how many."""
        return self.delete_points(frame, [(individual, k) for k in keypoints])

    def delete_points(self, frame: int, points: Iterable[tuple[str | None, str]]) -> int:
        """Remove the user's points ``(individual, keypoint)`` on ``frame``, several animals'
        at once, in one undo step; returns how many."""
        frame = self._frame(frame)
        keys = [self._key(a, k) for a, k in points]
        animals = self.animals(frame)
        present = [(a, k) for a, k in keys if k in animals.get(a, {})]
        if present:
            self._apply({frame: dict.fromkeys(present)})
        return len(present)

    def apply_changes(self, changes: dict[int, dict[Key, Point | None]]) -> int:
        """Apply label changes on many frames as one transaction and one undo step (an import
        does this); a None point removes that label. A change's key is a keypoint (the one
        animal's) or an ``(individual, keypoint)`` pair. Returns how many frames changed."""
        checked: dict[int, dict[Key, Point | None]] = {}
        for frame, points in changes.items():
            self._frame(frame)
            checked[frame] = {}
            for key, point in points.items():
                individual, name = (None, key) if isinstance(key, str) else key
                checked[frame][self._key(individual, name)] = point
        changes = checked
        if changes:
            self._apply(changes)
        return len(changes)

    def undo(self) -> int | None:
        """Undo the latest edit; returns the (first) frame it touched (None if nothing)."""
        store = self.project.labels
        return self._history(store.last_edit_frames(), store.undo)

    def redo(self) -> int | None:
        """Redo the latest undone edit; returns the (first) frame it touched (None if nothing)."""
        store = self.project.labels
        return self._history(store.next_redo_frames(), store.redo)

    def labeled_frames(self) -> list[int]:
        """Frames with at least one user point (labeled, accepted or hidden), sorted."""
        return self._labeled.frames()

    def next_labeled(self, frame: int) -> int | None:
        return self._labeled.next_after(frame)

    def previous_labeled(self, frame: int) -> int | None:
        return self._labeled.previous_before(frame)

    def counts(self) -> dict[str, int]:
        """Frames with hand labels, with accepted predictions, with any user point."""
        return {
            "labeled": self._labeled.count(PointKind.LABELED),
            "accepted": self._labeled.count(PointKind.ACCEPTED),
            "touched": len(self._labeled),
            "frames": len(self),
        }

    # -- which frame next -------------------------------------------------------------------
    def thumbnails(self, n_samples: int = 500):
        """Grayscale thumbnails of ``n_samples`` evenly spaced frames (for the diversity of
        suggestions); read once per session, then cached."""
        from ..suggest import compute_thumbnails

        cached = self._thumbnails
        if cached is None or cached[0] != n_samples:
            cached = self._thumbnails = (n_samples, compute_thumbnails(self.frames, n_samples))
        return cached[1]

    def suggest(self, n: int = 20, strategy: str = "combined", thumbnails=None) -> list[int]:
        """Up to ``n`` frames to label next, best first; never a labeled frame.

        ``strategy``: ``combined`` (default), ``confidence``, ``jumps``, ``diversity`` or
        ``uniform`` (see :func:`~napari_superanimal.suggest.suggest_frames`). ``diversity`` and
        ``combined`` use :meth:`thumbnails` unless ``thumbnails`` is given (False: none).
        Confidence and jumps only know the frames predicted so far: predict the whole video
        first (``napari-superanimal predict``) for them to cover it.
        """
        from ..suggest import suggest_frames

        if thumbnails is None and strategy in ("combined", "diversity"):
            thumbnails = self.thumbnails()
        chosen = thumbnails or None
        frames = suggest_frames(self.all_predictions(), self.labeled_frames(), n, strategy, chosen)
        return [int(f) for f in frames]

    # -- files ------------------------------------------------------------------------------
    def export(self, path: str | os.PathLike, format: str = "dlc-h5", **options) -> Path:
        """Write predictions and labels to a file another tool reads; see
        :func:`~napari_superanimal.session.transfer.export_session` for the formats and
        options (``with_labels``, ``scorer``, ``smooth``, ``window``)."""
        from .transfer import export_session

        return export_session(self, path, format, **options)

    def import_labels(self, path: str | os.PathLike) -> int:
        """Import labels for this video from a DeepLabCut project, CollectedData file, SLEAP
        ``.slp`` or COCO ``.json`` (all checked first; one transaction, one undo); returns how
        many frames changed. See :func:`~napari_superanimal.session.transfer.import_into`."""
        from .transfer import import_into

        return import_into(self, path)

    # -- internals --------------------------------------------------------------------------
    def _apply(self, changes: dict[int, dict[Key, Point | None]]) -> None:
        self.project.labels.apply_frames(self.video_key, changes)
        self._changed(list(changes))

    def _changed(self, frames: list[int]) -> None:
        for frame in frames:
            animals = self.animals(frame).values()
            self._labeled.update(frame, {p.state for points in animals for p in points.values()})
        self.events.labels_changed.emit(tuple(int(f) for f in frames))

    def _history(self, where: tuple[str, list[int]] | None, step: Callable[[], bool]) -> int | None:
        if where is None or not step():
            return None
        video, frames = where  # one edit, or a whole import
        if video != self.video_key:
            return None
        self._changed(frames)
        return frames[0]

    def _frame(self, frame: int) -> int:
        f = int(frame)
        if not 0 <= f < len(self):
            raise SessionError(f"frame {frame} is outside the video (0-{len(self) - 1})")
        return f

    def _key(self, individual: str | None, keypoint: str) -> tuple[str, str]:
        """``(individual, keypoint)`` checked; a unique keypoint is the scene's, whichever
        animal is named."""
        if keypoint in self.project.unique_keypoints:
            return UNIQUE, keypoint
        return self._individual(individual), self._keypoint(keypoint)

    def _individual(self, individual: str | None) -> str:
        if individual == UNIQUE and self.project.unique_keypoints:
            return UNIQUE
        names = self.individuals
        if individual is None:
            if names:
                raise SessionError(
                    f"this project labels several animals ({', '.join(names)}); "
                    "say which with individual="
                )
            return ONE_ANIMAL
        if individual not in names and not (individual == ONE_ANIMAL and not names):
            known = ", ".join(names) if names else "none: it labels one animal"
            raise SessionError(f"unknown individual {individual!r}; this project has {known}")
        return individual

    def _keypoint(self, keypoint: str) -> str:
        if keypoint not in self._index:
            names = (*self.keypoints, *self.project.unique_keypoints)
            known = ", ".join(names)
            raise SessionError(f"unknown keypoint {keypoint!r}; this project has {known}")
        return keypoint


def _by_animal(row: np.ndarray | None, individuals: Sequence[str]) -> dict[str, np.ndarray]:
    """A frame's predictions (``(K, 3)``, or ``(A, K, 3)`` for ``individuals``) by animal,
    leaving out the animals the model did not find."""
    if row is None:
        return {}
    if not individuals:
        return {ONE_ANIMAL: row}
    return {a: r for a, r in zip(individuals, row, strict=True) if not np.isnan(r[:, 2]).all()}


def _shown(point: Point) -> FramePoint:
    """A user's point as the viewer draws it (NaN for a hidden point never placed)."""
    x = np.nan if point.x is None else point.x
    y = np.nan if point.y is None else point.y
    return FramePoint(point.keypoint, x, y, point.state, 1.0, point.individual)
