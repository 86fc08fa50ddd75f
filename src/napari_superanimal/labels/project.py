"""A labeling project: one folder with the keypoint set, videos, labels, predictions, models.

Layout::

    project.json        format, version, keypoints, skeleton, individuals, videos, models
    labels.sqlite       the user's labels (:class:`~.store.LabelStore`), never written by models
    predictions.zarr/   one (T, K, 3) float32 array (x, y, score) per video and model version,
                        (T, A, K, 3) with several animals (:mod:`.predictions`)
    models/             fine-tuned model versions (see :mod:`napari_superanimal.model.versions`)

A video opened on its own gets a project beside it (:func:`project_folder`). Predictions live
apart from labels, so a prediction can never overwrite a label. This module knows nothing of
networks: model versions are recorded in ``project.json`` by :mod:`..model.versions`.

Example::

    from napari_superanimal.labels.project import Project
    project = Project.create("mouse.superanimal", keypoints=["nose", "tail_base"])
    project.save_predictions("mouse.mp4", "v1", poses)
    project.frame_predictions("mouse.mp4", 10)        # (K, 3) from the newest model version
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..atomic import atomic_path
from ..errors import ProjectError
from ..video import Video
from ..video.location import STORE_SUFFIX, is_url, name_of
from .model import ONE_ANIMAL, UNIQUE
from .predictions import PredictionArrays
from .store import LabelStore

FORMAT = "napari-superanimal.project"
VERSION = 1
PROJECT_FILE = "project.json"
PROJECT_SUFFIX = ".superanimal"


class Project:
    """A project folder (see the module docstring); ``labels`` is its open label store."""

    def __init__(self, folder: Path, meta: dict, labels: LabelStore):
        self.folder = folder
        self.meta = meta
        self.labels = labels
        #: opened read-only (asked for, or on media this process cannot write): everything
        #: reads, every change is refused in one line
        self.readonly = labels.readonly
        self._arrays = PredictionArrays(folder / "predictions.zarr", len(self.keypoints))

    def _save_meta(self) -> None:
        self.check_writable()
        _write_json(self.folder / PROJECT_FILE, self.meta)

    def check_writable(self) -> None:
        """Raise :class:`ProjectError` when the project is read-only."""
        if self.readonly:
            raise ProjectError(
                f"{self.folder}: read-only (read-only media, or opened so); copy the project "
                "to a folder you can write to change it"
            )

    # -- creating and opening -------------------------------------------------------------
    @classmethod
    def create(
        cls,
        folder: str | os.PathLike,
        keypoints: Sequence[str],
        skeleton: Sequence[tuple[str, str]] = (),
    ) -> Project:
        """Make a new project (refuses a folder that already holds one)."""
        folder = Path(folder)
        if (folder / PROJECT_FILE).exists():
            raise ProjectError(f"{folder}: already holds a project; open it instead")
        if len(set(keypoints)) != len(keypoints) or not keypoints:
            raise ProjectError(f"{folder}: keypoint names must be unique and non-empty")
        unknown = {a for pair in skeleton for a in pair} - set(keypoints)
        if unknown:
            raise ProjectError(f"{folder}: skeleton names unknown keypoints {sorted(unknown)}")
        folder.mkdir(parents=True, exist_ok=True)
        labels = LabelStore.open(folder / "labels.sqlite")
        try:  # a project.json lost beside its labels: never re-created with other keypoints
            stray = labels.keypoint_names() - set(keypoints)
            if stray:
                raise ProjectError(
                    f"{folder}: {PROJECT_FILE} is missing but labels.sqlite holds keypoints "
                    f"{sorted(stray)} that {list(keypoints)} lacks; restore {PROJECT_FILE} "
                    "or open with keypoints that include them"
                )
        except BaseException:
            labels.close()
            raise
        meta = {
            "format": FORMAT,
            "version": VERSION,
            "keypoints": list(keypoints),
            "skeleton": [list(p) for p in skeleton],
            "videos": {},
            "models": {},
        }
        try:
            _write_json(folder / PROJECT_FILE, meta)
        except BaseException:
            labels.close()
            raise
        return cls(folder, meta, labels)

    @classmethod
    def open(cls, folder: str | os.PathLike, readonly: bool = False) -> Project:
        """Open an existing project; foreign or newer folders get a one-line error."""
        folder = Path(folder)
        file = folder / PROJECT_FILE
        if not file.is_file():
            raise ProjectError(f"{folder}: no {PROJECT_FILE}: not a napari-superanimal project")
        try:
            meta = json.loads(file.read_text())
        except (OSError, ValueError) as err:
            raise ProjectError(f"{file}: unreadable project file ({err})") from err
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise ProjectError(f"{file}: not a napari-superanimal project file")
        if int(meta.get("version", 0)) > VERSION:
            raise ProjectError(
                f"{file}: project format v{meta['version']} is newer than this "
                f"napari-superanimal understands (v{VERSION}); upgrade it"
            )
        project = cls(folder, meta, LabelStore.open(folder / "labels.sqlite", readonly=readonly))
        try:
            project._settle_individuals()
        except BaseException:
            project.close()
            raise
        return project

    @staticmethod
    def exists(folder: str | os.PathLike) -> bool:
        """True when ``folder`` holds a project (a ``project.json``)."""
        return (Path(folder) / PROJECT_FILE).is_file()

    @classmethod
    def for_video(
        cls,
        video: Video | str | os.PathLike,
        keypoints: Sequence[str],
        folder: str | os.PathLike | None = None,
    ) -> Project:
        """The project of ``video`` (in ``folder``, default :func:`project_folder`), created
        with ``keypoints`` on first use; the video is registered in it."""
        folder = Path(folder) if folder else project_folder(video)
        project = cls.open(folder) if cls.exists(folder) else cls.create(folder, keypoints)
        try:
            project.add_video(video_reference(video))
        except BaseException:
            project.close()
            raise
        return project

    def close(self) -> None:
        self.labels.close()

    def __enter__(self) -> Project:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- contents ---------------------------------------------------------------------------
    @property
    def keypoints(self) -> tuple[str, ...]:
        return tuple(self.meta["keypoints"])

    @property
    def videos(self) -> dict[str, dict]:
        return dict(self.meta["videos"])

    def add_video(self, path: str | os.PathLike) -> str:
        """Register a video; returns its key (its file name) used by labels and predictions."""
        if is_url(path):  # a frame store at an fsspec URL: recorded as given
            key, recorded = name_of(str(path)), str(path)
        else:
            key, recorded = Path(path).name, str(Path(path).resolve())
        known = self.meta["videos"].get(key)
        if known and Path(known["path"]) != Path(recorded):
            if is_url(known["path"]) or not _same_or_gone(Path(known["path"]), Path(recorded)):
                raise ProjectError(f"{self.folder}: already has a different video named {key}")
            # the project moved with its video (another mount point, a copied share)
            if not self.readonly:
                self.meta["videos"][key] = {**known, "path": recorded}
                self._save_meta()
        if not known:
            self.meta["videos"][key] = {"path": recorded}
            self._save_meta()
        return key

    def set_skeleton(self, skeleton: Sequence[tuple[str, str]]) -> None:
        """Record which keypoints are joined (drawn, and written to SLEAP/COCO/DLC files)."""
        unknown = {a for pair in skeleton for a in pair} - set(self.keypoints)
        if unknown:
            raise ProjectError(f"{self.folder}: skeleton names unknown keypoints {sorted(unknown)}")
        self.meta["skeleton"] = [list(p) for p in skeleton]
        self._save_meta()

    @property
    def individuals(self) -> tuple[str, ...]:
        """The animals the project labels; empty for a single-animal project, whose points all
        belong to :data:`~.model.ONE_ANIMAL`."""
        return tuple(self.meta.get("individuals") or ())

    def set_individuals(self, names: Sequence[str]) -> None:
        """Name the animals the project labels (DeepLabCut's ``individuals``). A single-animal
        project's labels become the first animal's; an animal that has labels cannot be left
        out (move them first: :meth:`~.store.LabelStore.reassign`)."""
        names = [str(n) for n in names]
        if len(set(names)) != len(names) or ONE_ANIMAL in names:
            raise ProjectError(f"{self.folder}: individual names must be unique and non-empty")
        if UNIQUE in names:
            raise ProjectError(
                f"{self.folder}: {UNIQUE!r} is DeepLabCut's name for unique keypoints, not "
                "an animal's"
            )
        if not names and self.unique_keypoints:
            raise ProjectError(f"{self.folder}: it has unique keypoints; it stays multi-animal")
        dropped = self.labels.individual_names() - set(names) - {ONE_ANIMAL, UNIQUE}
        if dropped:
            raise ProjectError(
                f"{self.folder}: {', '.join(sorted(dropped))} still have labels; move or "
                "delete them before leaving them out"
            )
        if not names and self.individuals and self.labels.individual_names():
            raise ProjectError(f"{self.folder}: its animals have labels; it stays multi-animal")
        self.meta["individuals"] = names
        self._save_meta()
        self._settle_individuals()

    @property
    def unique_keypoints(self) -> tuple[str, ...]:
        """Keypoints of the scene or of no animal (DeepLabCut's ``uniquebodyparts``), labeled
        under the individual :data:`~.model.UNIQUE`; empty unless set."""
        return tuple(self.meta.get("unique_keypoints") or ())

    def set_unique_keypoints(self, names: Sequence[str]) -> None:
        """Name the unique keypoints of a project with animals (DeepLabCut's
        ``uniquebodyparts``). Names must differ from the animals' keypoints; while unique
        points are labeled, none can be left out."""
        names = [str(n) for n in names]
        if names and not self.individuals:
            raise ProjectError(
                f"{self.folder}: unique keypoints belong to projects with animals; name its "
                "animals first (set_individuals)"
            )
        clash = sorted(set(names) & set(self.keypoints))
        if clash or len(set(names)) != len(names) or "" in names:
            raise ProjectError(
                f"{self.folder}: unique keypoints must be new, distinct names"
                + (f" ({', '.join(clash)} are the animals')" if clash else "")
            )
        dropped = set(self.unique_keypoints) - set(names)
        if dropped and UNIQUE in self.labels.individual_names():
            raise ProjectError(
                f"{self.folder}: unique keypoints are labeled; delete those labels before "
                f"leaving out {', '.join(sorted(dropped))}"
            )
        self.meta["unique_keypoints"] = names
        self._save_meta()

    def _settle_individuals(self) -> None:
        """Give the one animal's labels to the first individual, once a project has
        individuals (also finishes that move if it was cut off)."""
        if not self.individuals or self.readonly:
            return
        for video in self.labels.videos_with(ONE_ANIMAL):
            self.labels.reassign(video, {ONE_ANIMAL: self.individuals[0]})

    def check_model(self, model_name: str, model_keypoints: Sequence[str]) -> None:
        """Refuse a model whose keypoints are not this project's (no conversion table yet)."""
        if tuple(model_keypoints) != self.keypoints:
            raise ProjectError(
                f"model {model_name} predicts {len(model_keypoints)} keypoints "
                f"({', '.join(list(model_keypoints)[:3])}, ...) but this project labels "
                f"{len(self.keypoints)} ({', '.join(self.keypoints[:3])}, ...); they must match"
            )

    # -- sections of project.json ------------------------------------------------------------
    def section(self, name: str) -> dict:
        """A copy of one top-level section of ``project.json`` (``models``, ...)."""
        return dict(self.meta.get(name) or {})

    def set_entry(self, section: str, key: str, value) -> None:
        """Set ``project.json``'s ``section[key]`` and write the file (atomically)."""
        self.meta.setdefault(section, {})[key] = value
        self._save_meta()

    @property
    def active_model(self) -> str | None:
        """The model version that predicts when the project is opened again."""
        return self.meta.get("active_model")

    def set_active_model(self, version: str | None) -> None:
        """Remember which model version predicts (reopening the project restores it)."""
        if self.meta.get("active_model") != version:
            self.meta["active_model"] = version
            self._save_meta()

    # -- predictions ------------------------------------------------------------------------
    def save_predictions(
        self,
        video: str,
        model_version: str,
        poses: np.ndarray,
        frames: Sequence[int] | None = None,
        n_frames: int | None = None,
    ) -> None:
        """Store predictions of ``model_version`` for ``frames`` (default: all): ``(N, K, 3)``,
        or ``(N, A, K, 3)`` with a row per individual in a project with several animals."""
        self.check_writable()
        self._arrays.save(video, model_version, poses, self.individuals, frames, n_frames)
        versions = self.meta["videos"].setdefault(video, {}).setdefault("predictions", [])
        if model_version not in versions or model_version not in self.meta["models"]:
            self.meta["models"].setdefault(model_version, {})
            if model_version not in versions:
                versions.append(model_version)
            self._save_meta()

    def predictions(self, video: str, model_version: str) -> np.ndarray | None:
        """All predictions of ``model_version`` for ``video``, ``(T, K, 3)`` or ``(T, A, K,
        3)`` (see :meth:`save_predictions`; NaN: not made), or None if it made none."""
        if model_version not in self.meta["videos"].get(video, {}).get("predictions", []):
            return None
        return self._arrays.read(video, model_version, self.individuals)

    def frame_predictions(
        self, video: str, frame: int, model_version: str | None = None
    ) -> np.ndarray | None:
        """One frame's predictions, ``(K, 3)`` or ``(A, K, 3)`` (newest model version by
        default), or None."""
        versions = self.meta["videos"].get(video, {}).get("predictions", [])
        if not versions:
            return None
        version = model_version or versions[-1]
        return self._arrays.frame(video, version, frame, self.individuals)


def video_reference(video: Video | str | os.PathLike) -> str | Path:
    """What a project records for a video: its source file, else its frame store."""
    if isinstance(video, Video):
        return video.source_path or video.store_path
    return video


def project_folder(video: Video | str | os.PathLike) -> Path:
    """Where a video's project lives unless the user names one: the one rule everything uses.

    ``<name>.superanimal`` beside the source video; for a video known only by its frame store
    (a store built from images, or opened by itself), beside the store, named after it without
    ``.frames.zarr``; for a store at a URL, in the working directory.

    Example::

        project_folder(open_video("data/mouse.mp4"))       # data/mouse.superanimal
        project_folder("data/frames/mouse.frames.zarr")    # data/frames/mouse.superanimal
    """
    reference = video_reference(video)
    if is_url(reference):
        return Path.cwd() / (_stem(name_of(str(reference))) + PROJECT_SUFFIX)
    path = Path(reference).resolve()
    return path.with_name(_stem(path.name) + PROJECT_SUFFIX)


def _same_or_gone(known: Path, now: Path) -> bool:
    """``now`` is the video ``known`` named: the same file (seen through another mount), or
    ``known`` is gone (the folder moved)."""
    try:
        return not known.exists() or os.path.samefile(known, now)
    except OSError:
        return False


def _stem(name: str) -> str:
    if name.endswith(STORE_SUFFIX):
        return name[: -len(STORE_SUFFIX)]
    return Path(name).stem


_META_LOCK = threading.Lock()  # project.json is written from the GUI thread and workers


def _write_json(path: Path, data: dict) -> None:
    with _META_LOCK, atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2))
