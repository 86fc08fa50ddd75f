"""A labeling session: one video, its project (labels, predictions) and a model, without a GUI.

The napari widget, Jupyter and the command line all drive the same :class:`Session`: it reads
frames, keeps the predictions of the active model version in memory for O(keypoints) access to
any frame, writes every edit through the project's label store (committed before the call
returns), and knows which frames are labeled.

Example::

    from napari_superanimal.session import Session
    s = Session.open("mouse.mp4", model="superanimal_topviewmouse")
    s.predict(frames=range(100))
    s.label(10, "nose", 101.5, 80.0)
    s.accept(10)                 # predictions above the threshold become accepted labels
    s.undo()
"""

from __future__ import annotations

import bisect
import os
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import SuperAnimalError
from .labels.project import PROJECT_SUFFIX, Project
from .labels.store import Point
from .video import open_video
from .video.video import Video
from .zoo import KEYPOINT_SETS

DEFAULT_KEYPOINTS = "superanimal_topviewmouse"


class SessionError(SuperAnimalError, ValueError):
    """An edit or request that does not fit this session (unknown keypoint, frame, ...)."""


@dataclass(frozen=True)
class FramePoint:
    """What to draw for one keypoint on one frame.

    ``kind`` is ``labeled`` (placed or moved by the user), ``accepted`` (a prediction the user
    accepted), ``hidden`` (occluded: not drawn, coordinates may be NaN), ``predicted`` or
    ``stale`` (predicted by an older model version, shown until the current one has run).
    ``score`` is the prediction's confidence (1.0 for labels).
    """

    keypoint: str
    x: float
    y: float
    kind: str
    score: float


class Session:
    """One video of a project, with its labels, predictions and (optionally) a model."""

    def __init__(
        self,
        video: Video,
        project: Project,
        model=None,
        model_version: str | None = None,
        threshold: float = 0.5,
    ):
        self.video = video
        self.project = project
        self.model = model
        self.video_key = project.add_video(video.source_path or video.store_path)
        active = project.meta.get("active_model")
        if model is None and model_version is None and active in project.trained_versions():
            model = project.load_model_version(active)  # the project's model, as left
            self.model = model
        if model is not None:
            project.check_model(model.name, model.keypoints)
        versions = project.videos.get(self.video_key, {}).get("predictions", [])
        self.model_version = model_version or (
            model.name if model is not None else (versions[-1] if versions else None)
        )
        self.threshold = float(threshold)
        self.closed = False
        self._index = {k: i for i, k in enumerate(self.keypoints)}
        self._lock = threading.Lock()  # guards the predictions cache (workers write it)
        self._pred = self._load_predictions()
        self._stale: np.ndarray | None = None  # predictions of the previous model version
        self._states = project.labels.frame_states(self.video_key)
        self._sorted = sorted(self._states)

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
    ) -> Session:
        """Open a video (converting it in the background) with its project, created on first use.

        ``model`` is a :class:`~napari_superanimal.model.inference.PoseEstimator`, a model name
        for :func:`~napari_superanimal.model.inference.load_model`, or None (labels only). The
        project defaults to ``<video>.superanimal`` beside the video; a new one takes the
        model's keypoints, else ``keypoints``, else SuperAnimal TopViewMouse's.

        ``conversion`` maps the project's own keypoints onto a SuperAnimal model's: a
        ``{project keypoint: model keypoint}`` dict, or a DeepLabCut ``config.yaml`` whose
        ``SuperAnimalConversionTables`` (and, without ``keypoints``, ``bodyparts``) are used.
        The model is re-headed for the project's keypoints (see :mod:`.model.convert`).
        """
        if not isinstance(video, Video):
            video = open_video(video)
        dataset = model if isinstance(model, str) else None
        if isinstance(model, str):
            from .model.inference import load_model

            model = load_model(
                model, weights=weights, device=device, arch=arch,
                keypoints=None if conversion is not None else keypoints, download=download,
            )  # fmt: skip
        if model is not None and conversion is not None:
            from .model.convert import convert_keypoints, read_conversion_table

            if not isinstance(conversion, dict):
                config = conversion
                name = dataset or next(
                    (d for d in KEYPOINT_SETS if model.name.startswith(d)), model.name
                )
                conversion = read_conversion_table(config, name)
                if keypoints is None:
                    import yaml

                    keypoints = yaml.safe_load(Path(config).read_text()).get("bodyparts")
            if not keypoints:
                raise SessionError("a conversion table needs the project's keypoints")
            model = convert_keypoints(model, keypoints, conversion)
        if model is not None:
            names = model.keypoints
        else:
            names = tuple(keypoints) if keypoints else KEYPOINT_SETS[DEFAULT_KEYPOINTS]
        source = video.source_path or video.store_path
        stem = Path(video.name).stem
        folder = Path(project) if project else Path(source).with_name(stem + PROJECT_SUFFIX)
        proj = Project.for_video(source, names, folder)
        try:
            return cls(video, proj, model, threshold=threshold)
        except BaseException:
            proj.close()
            raise

    def close(self) -> None:
        self.closed = True
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
            f"model {self.model_version or 'none'}, {len(self._sorted)} labeled frames>"
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

    # -- predictions ------------------------------------------------------------------------
    def _load_predictions(self) -> np.ndarray:
        stored = None
        if self.model_version is not None:
            stored = self.project.predictions(self.video_key, self.model_version)
        full = np.full((len(self.video), len(self.keypoints), 3), np.nan, np.float32)
        if stored is not None:
            n = min(len(stored), len(full))
            full[:n] = stored[:n]
        return full

    def prediction(self, frame: int) -> np.ndarray | None:
        """``(K, 3)`` x, y, score of the active model on ``frame``, or None if not predicted."""
        with self._lock:
            row = self._pred[self._frame(frame)]
            return None if np.isnan(row[:, 2]).all() else row.copy()

    def stale_prediction(self, frame: int) -> np.ndarray | None:
        """``(K, 3)`` from the model version used before the current one, if any."""
        with self._lock:
            if self._stale is None:
                return None
            row = self._stale[self._frame(frame)]
            return None if np.isnan(row[:, 2]).all() else row.copy()

    def has_prediction(self, frame: int) -> bool:
        return self.prediction(frame) is not None

    def predict(
        self,
        frames: Iterable[int] | None = None,
        batch_size: int = 8,
        progress: Callable[[int, int], None] | None = None,
        boxes=None,
        skip_done: bool = False,
    ) -> np.ndarray:
        """Predict ``frames`` (default: all) with the model; stored in the project at once.

        Safe to call from a worker thread while the GUI thread reads and edits.
        """
        if self.model is None:
            raise SessionError("no model in this session: open it with model=...")
        wanted = range(len(self)) if frames is None else frames
        indices = [self._frame(f) for f in wanted]
        if skip_done:
            indices = [f for f in indices if not self.has_prediction(f)]
        if not indices:
            return np.empty((0, len(self.keypoints), 3), np.float32)
        poses = self.model.predict_video(
            self.video, indices, batch_size=batch_size, progress=progress, boxes=boxes
        )
        self.add_predictions(indices, poses)
        return poses

    def add_predictions(self, frames: Sequence[int], poses: np.ndarray) -> None:
        """Record predictions of the active model version (from this process or elsewhere)."""
        if self.model_version is None:
            raise SessionError("predictions need a model version: open the session with a model")
        with self._lock:
            self._pred[np.asarray(frames)] = poses
        self.project.save_predictions(
            self.video_key, self.model_version, poses, frames=list(frames), n_frames=len(self)
        )

    def use_model(self, model) -> None:
        """Make ``model`` (a PoseEstimator, or a version name trained in this project) the one
        that predicts; its predictions load from the project. Rolling back is this call."""
        if isinstance(model, str):
            model = self.project.load_model_version(model)
        self.project.check_model(model.name, model.keypoints)
        fresh = None
        with self._lock:
            if model.name != self.model_version:
                # the old version's predictions stay on screen, marked stale, until refreshed
                self._stale = self._pred
                fresh = True
            self.model = model
            self.model_version = model.name
        if fresh:
            self._pred = self._load_predictions()
        self.project.set_active_model(model.name)

    def model_versions(self) -> dict[str, dict]:
        """Every model version the project knows, with what it recorded (trained ones: loss
        curve, held-out error before and after, the labels used)."""
        return {v: dict(info) for v, info in self.project.meta["models"].items()}

    def adapt(self, **settings):
        """Adapt the model to this video without labels (see :func:`~napari_superanimal.train.
        adapt.adapt`): confident predictions on sampled frames become pseudo-labels for a short
        round; the new version (``"adapted": true`` in its info) becomes the active model and
        its result is returned (None if cancelled)."""
        from .train.adapt import adapt

        result = adapt(self, **settings)
        if result is not None:
            self.use_model(result.estimator)
        return result

    def finetune(self, **settings):
        """Train one round on this session's labels (see :func:`~napari_superanimal.train.
        finetune.finetune` for the settings); the new version becomes the active model and its
        result is returned (None if cancelled). Predictions of older versions become stale."""
        from .train.finetune import finetune

        result = finetune(self, **settings)
        if result is not None:
            self.use_model(result.estimator)
        return result

    # -- labels -----------------------------------------------------------------------------
    def labels(self, frame: int) -> dict[str, Point]:
        """The user's points on ``frame`` (labeled, accepted, hidden), by keypoint."""
        return self.project.labels.frame(self.video_key, self._frame(frame))

    def points(self, frame: int) -> list[FramePoint]:
        """What the viewer shows on ``frame``: labels first-hand, predictions for the rest."""
        labels = self.labels(frame)
        pred = self.prediction(frame)
        stale = self.stale_prediction(frame) if pred is None else None
        out = []
        for i, name in enumerate(self.keypoints):
            point = labels.get(name)
            if point is not None:
                x = np.nan if point.x is None else point.x
                y = np.nan if point.y is None else point.y
                out.append(FramePoint(name, x, y, point.state, 1.0))
            elif pred is not None and np.isfinite(pred[i, :2]).all():
                x, y, score = map(float, pred[i])
                out.append(FramePoint(name, x, y, "predicted", score))
            elif pred is None and stale is not None and np.isfinite(stale[i, :2]).all():
                x, y, score = map(float, stale[i])
                out.append(FramePoint(name, x, y, "stale", score))
        return out

    def label(self, frame: int, keypoint: str, x: float, y: float) -> None:
        """Place (or move) ``keypoint`` on ``frame`` at ``x, y`` pixels; durable on return."""
        frame, keypoint = self._frame(frame), self._keypoint(keypoint)
        x, y = float(x), float(y)
        height, width = self.video.shape[1:3]
        # pixel centres at c (napari) or c + 0.5 (DeepLabCut's decoding): accept both
        inside = -0.5 <= x <= width and -0.5 <= y <= height
        if not (np.isfinite([x, y]).all() and inside):
            raise SessionError(
                f"{keypoint} at ({x:.1f}, {y:.1f}) is outside the {width}x{height} frame"
            )
        old = self.labels(frame).get(keypoint)
        version = old.model_version if old else None
        if version is None and self.prediction(frame) is not None:
            version = self.model_version  # a moved prediction remembers where it came from
        self._apply(frame, {keypoint: Point(keypoint, x, y, "labeled", version)})

    def accept(self, frame: int, threshold: float | None = None) -> int:
        """Accept the predictions on ``frame`` scoring at least ``threshold`` (default: the
        session's) for keypoints the user has not touched; returns how many were accepted."""
        frame = self._frame(frame)
        cut = self.threshold if threshold is None else float(threshold)
        pred = self.prediction(frame)
        if pred is None:
            return 0
        labels = self.labels(frame)
        changes = {
            name: Point(name, float(pred[i, 0]), float(pred[i, 1]), "accepted", self.model_version)
            for i, name in enumerate(self.keypoints)
            if name not in labels and np.isfinite(pred[i]).all() and pred[i, 2] >= cut
        }
        if changes:
            self._apply(frame, changes)
        return len(changes)

    def toggle_hidden(self, frame: int, keypoint: str) -> bool:
        """Hide a keypoint on ``frame`` (occluded), or un-hide it; returns True if now hidden."""
        frame, keypoint = self._frame(frame), self._keypoint(keypoint)
        old = self.labels(frame).get(keypoint)
        if old is not None and old.state == "hidden":
            restored = (
                None
                if old.x is None
                else Point(keypoint, old.x, old.y, "labeled", old.model_version)
            )
            self._apply(frame, {keypoint: restored})
            return False
        # a hidden label keeps its position (un-hiding restores it); a hidden prediction has none
        x, y, version = (old.x, old.y, old.model_version) if old else (None, None, None)
        self._apply(frame, {keypoint: Point(keypoint, x, y, "hidden", version)})
        return True

    def hide(self, frame: int, keypoint: str) -> None:
        """Mark ``keypoint`` hidden (occluded) on ``frame``."""
        old = self.labels(frame).get(keypoint)
        if old is None or old.state != "hidden":
            self.toggle_hidden(frame, keypoint)

    def delete(self, frame: int, keypoints: Iterable[str]) -> int:
        """Remove the user's points for ``keypoints`` on ``frame``; returns how many."""
        frame = self._frame(frame)
        names = [self._keypoint(k) for k in keypoints]
        present = [k for k in names if k in self.labels(frame)]
        if present:
            self._apply(frame, dict.fromkeys(present))
        return len(present)

    def undo(self) -> int | None:
        """Undo the latest edit; returns the frame it touched (None if nothing to undo)."""
        return self._history(self.project.labels.last_edit_frames(), self.project.labels.undo)

    def redo(self) -> int | None:
        """Redo the latest undone edit; returns the frame it touched (None if nothing)."""
        return self._history(self.project.labels.next_redo_frames(), self.project.labels.redo)

    def _history(self, where: tuple[str, list[int]] | None, step: Callable[[], bool]) -> int | None:
        if where is None or not step():
            return None
        video, frames = where  # one edit, or a whole import
        if video != self.video_key:
            return None
        for frame in frames:
            self._refresh_states(frame)
        return frames[0]

    # -- which frames are labeled -------------------------------------------------------------
    def labeled_frames(self) -> list[int]:
        """Frames with at least one user point (labeled, accepted or hidden), sorted."""
        return list(self._sorted)

    def next_labeled(self, frame: int) -> int | None:
        i = bisect.bisect_right(self._sorted, frame)
        return self._sorted[i] if i < len(self._sorted) else None

    def previous_labeled(self, frame: int) -> int | None:
        i = bisect.bisect_left(self._sorted, frame)
        return self._sorted[i - 1] if i > 0 else None

    def counts(self) -> dict[str, int]:
        """Frames with hand labels, with accepted predictions, with any user point."""
        states = self._states.values()
        return {
            "labeled": sum("labeled" in s for s in states),
            "accepted": sum("accepted" in s for s in states),
            "touched": len(self._states),
            "frames": len(self),
        }

    # -- which frame next ----------------------------------------------------------------------
    def all_predictions(self) -> np.ndarray:
        """``(T, K, 3)`` x, y, score of the active model on every frame (NaN: not predicted).

        A read-only view, so cheap on any length of video; it fills in as predictions arrive
        (copy it to keep a snapshot)."""
        with self._lock:
            view = self._pred.view()
        view.flags.writeable = False
        return view

    def thumbnails(self, n_samples: int = 500):
        """Grayscale thumbnails of ``n_samples`` evenly spaced frames (for the diversity of
        suggestions); read once per session, then cached."""
        from .suggest import compute_thumbnails

        cached = getattr(self, "_thumbnails", None)
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
        from .suggest import suggest_frames

        if thumbnails is None and strategy in ("combined", "diversity"):
            thumbnails = self.thumbnails()
        chosen = thumbnails or None
        frames = suggest_frames(self.all_predictions(), self._sorted, n, strategy, chosen)
        return [int(f) for f in frames]

    # -- export -----------------------------------------------------------------------------
    def export(
        self,
        path: str | os.PathLike,
        with_labels: bool = True,
        format: str = "dlc-h5",
        scorer: str | None = None,
        smooth: str | None = None,
        window: int = 5,
    ) -> Path:
        """Write the active model's predictions as a DeepLabCut ``.h5`` (``movement`` and DLC
        read it); by default the user's labeled and accepted points replace the predictions
        on their frames (likelihood 1), hidden ones become NaN. Frames never predicted are NaN.

        Other formats: ``"dlc-project"`` (``path`` is a DeepLabCut project folder: config,
        CollectedData and the labeled frames as PNGs), ``"slp"`` (labels and predictions for
        SLEAP), ``"coco"`` (labels as COCO keypoints JSON, frames as PNGs beside it); see
        :func:`~napari_superanimal.labels.io.transfer.export_session` and docs/formats.md.

        ``smooth`` (``"median"`` or ``"savgol"``, off by default) filters the confident
        predictions over ``window`` frames before the labels go in (labels are never changed;
        see :mod:`~napari_superanimal.labels.smooth`); the ``.h5`` then records it in the HDF5
        attribute ``napari_superanimal`` of its table (``read_export_metadata`` reads it)."""
        if smooth is not None and format != "dlc-h5":
            raise SessionError(f"smoothing applies to dlc-h5 exports, not {format}")
        if format != "dlc-h5":
            from .labels.io.transfer import export_session

            return export_session(self, path, format, with_labels=with_labels, scorer=scorer)
        from .labels.io.dlc import save_predictions_h5

        with self._lock:
            poses = self._pred.copy()
        metadata = None
        if smooth is not None:
            from .labels.smooth import smooth_poses, smoothing_record

            poses = smooth_poses(poses, smooth, window).astype(poses.dtype)
            metadata = {"smoothing": smoothing_record(smooth, window)}
        if with_labels:
            for frame in self._sorted:
                for name, p in self.labels(frame).items():
                    i = self._index[name]
                    if p.state == "hidden" or p.x is None:
                        poses[frame, i] = (np.nan, np.nan, 0.0)
                    else:
                        poses[frame, i] = (p.x, p.y, 1.0)
        scorer = self.model_version or "napari-superanimal"
        return save_predictions_h5(path, poses, self.keypoints, scorer=scorer, metadata=metadata)

    # -- import -----------------------------------------------------------------------------
    def import_labels(self, path: str | os.PathLike) -> int:
        """Import labels for this video from a DeepLabCut project (folder or ``config.yaml``),
        a ``labeled-data/<video>`` folder or its ``CollectedData_*.h5``/``.csv``, a SLEAP
        ``.slp`` or a COCO ``.json``; returns how many frames changed.

        Everything is checked first (keypoint set, numbers, positions inside the frame, frames
        inside the video): a bad file raises :class:`~napari_superanimal.errors.
        LabelFormatError` and imports nothing. The file decides its frames' labels (its empty
        points remove labels there); all of it is one transaction, reverted by one undo.
        DeepLabCut's ``img<N>.png`` is frame N (in a store built from images: that image).
        """
        from .labels.io.transfer import import_changes, read_for_session

        table, _source = read_for_session(self, path)
        changes = import_changes(self, table)
        if changes:
            self.project.labels.apply_frames(self.video_key, changes)
            for frame in changes:
                self._refresh_states(frame)
        if table.skeleton and not self.skeleton:
            self.project.set_skeleton(table.skeleton)
        return len(changes)

    # -- napari -----------------------------------------------------------------------------
    def show(self, viewer=None):
        """Show this session in napari (the current viewer, or a new one) with the labeling
        widget wired to it; returns the widget. From Jupyter, run ``%gui qt`` first."""
        import napari

        from ._napari.reader import WIDGET_NAME
        from ._napari.widget import LabelingWidget

        viewer = viewer or napari.current_viewer() or napari.Viewer()
        widget = LabelingWidget(viewer, session=self)
        viewer.window.add_dock_widget(widget, name=WIDGET_NAME, area="right")
        return widget

    # -- internals --------------------------------------------------------------------------
    def _apply(self, frame: int, changes: dict[str, Point | None]) -> None:
        self.project.labels.apply(self.video_key, frame, changes)
        self._refresh_states(frame)

    def _refresh_states(self, frame: int) -> None:
        states = {p.state for p in self.labels(frame).values()}
        had = frame in self._states
        if states:
            self._states[frame] = states
            if not had:
                bisect.insort(self._sorted, frame)
        elif had:
            del self._states[frame]
            self._sorted.remove(frame)

    def _frame(self, frame: int) -> int:
        f = int(frame)
        if not 0 <= f < len(self):
            raise SessionError(f"frame {frame} is outside the video (0-{len(self) - 1})")
        return f

    def _keypoint(self, keypoint: str) -> str:
        if keypoint not in self._index:
            raise SessionError(
                f"unknown keypoint {keypoint!r}; this project has {', '.join(self.keypoints)}"
            )
        return keypoint
