"""A labeling project: one folder with the keypoint set, videos, labels, predictions, models.

Layout::

    project.json        format, version, keypoints, skeleton, videos, model versions
    labels.sqlite       the user's labels (:class:`~.store.LabelStore`), never written by models
    predictions.zarr/   one (T, K, 3) float32 array (x, y, score) per video and model version
    models/             fine-tuned model versions

A video opened on its own gets a project beside it (``<video stem>.superanimal/``). Predictions
live apart from labels, so a prediction can never overwrite a label.

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
import zarr

from ..atomic import atomic_path
from ..errors import SuperAnimalError
from .store import LabelStore

FORMAT = "napari-superanimal.project"
VERSION = 1
PROJECT_FILE = "project.json"
PROJECT_SUFFIX = ".superanimal"
_CHUNK_FRAMES = 1024


class ProjectError(SuperAnimalError):
    """A project folder is missing, foreign, newer than this code, or does not fit a model."""


class Project:
    """A project folder (see the module docstring); ``labels`` is its open label store."""

    def __init__(self, folder: Path, meta: dict, labels: LabelStore):
        self.folder = folder
        self.meta = meta
        self.labels = labels

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
        meta = {
            "format": FORMAT,
            "version": VERSION,
            "keypoints": list(keypoints),
            "skeleton": [list(p) for p in skeleton],
            "videos": {},
            "models": {},
        }
        _write_json(folder / PROJECT_FILE, meta)
        return cls(folder, meta, LabelStore.open(folder / "labels.sqlite"))

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
        return cls(folder, meta, LabelStore.open(folder / "labels.sqlite", readonly=readonly))

    @classmethod
    def for_video(
        cls,
        video_path: str | os.PathLike,
        keypoints: Sequence[str],
        folder: str | os.PathLike | None = None,
    ) -> Project:
        """The project beside ``video_path`` (or in ``folder``), created on first use."""
        video = video_path
        video_path = Path(video_path)
        folder = Path(folder) if folder else video_path.with_name(video_path.stem + PROJECT_SUFFIX)
        project = (
            cls.open(folder) if (folder / PROJECT_FILE).exists() else cls.create(folder, keypoints)
        )
        project.add_video(video)
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
        from ..video.location import is_url, name_of

        if is_url(path):  # a frame store at an fsspec URL: recorded as given
            key, recorded = name_of(str(path)), str(path)
        else:
            key, recorded = Path(path).name, str(Path(path).resolve())
        known = self.meta["videos"].get(key)
        if known and Path(known["path"]) != Path(recorded):
            raise ProjectError(f"{self.folder}: already has a different video named {key}")
        if not known:
            self.meta["videos"][key] = {"path": recorded}
            _write_json(self.folder / PROJECT_FILE, self.meta)
        return key

    def set_skeleton(self, skeleton: Sequence[tuple[str, str]]) -> None:
        """Record which keypoints are joined (drawn, and written to SLEAP/COCO/DLC files)."""
        unknown = {a for pair in skeleton for a in pair} - set(self.keypoints)
        if unknown:
            raise ProjectError(f"{self.folder}: skeleton names unknown keypoints {sorted(unknown)}")
        self.meta["skeleton"] = [list(p) for p in skeleton]
        _write_json(self.folder / PROJECT_FILE, self.meta)

    def check_model(self, model_name: str, model_keypoints: Sequence[str]) -> None:
        """Refuse a model whose keypoints are not this project's (no conversion table yet)."""
        if tuple(model_keypoints) != self.keypoints:
            raise ProjectError(
                f"model {model_name} predicts {len(model_keypoints)} keypoints "
                f"({', '.join(list(model_keypoints)[:3])}, ...) but this project labels "
                f"{len(self.keypoints)} ({', '.join(self.keypoints[:3])}, ...); they must match"
            )

    # -- model versions ---------------------------------------------------------------------
    def trained_versions(self) -> list[str]:
        """Model versions trained in this project, oldest first."""
        return [v for v, info in self.meta["models"].items() if info.get("snapshot")]

    def next_model_version(self, arch: str) -> str:
        n = len(self.trained_versions()) + 1
        return f"{arch}-r{n}"

    def save_model_version(self, version: str, network, info: dict) -> Path:
        """Write a trained network as ``models/<version>/snapshot.pt`` and record its info."""
        from ..model.checkpoint import save_snapshot

        if self.meta["models"].get(version, {}).get("snapshot"):
            raise ProjectError(f"{self.folder}: model version {version} already exists")
        path = save_snapshot(self.folder / "models" / version / "snapshot.pt", network,
                             metadata={"version": version})  # fmt: skip
        self.meta["models"][version] = {**info, "snapshot": f"models/{version}/snapshot.pt"}
        _write_json(self.folder / PROJECT_FILE, self.meta)
        return path

    def set_active_model(self, version: str) -> None:
        """Remember which model version predicts (reopening the project restores it)."""
        if self.meta.get("active_model") != version:
            self.meta["active_model"] = version
            _write_json(self.folder / PROJECT_FILE, self.meta)

    def model_info(self, version: str) -> dict:
        if version not in self.meta["models"]:
            raise ProjectError(f"{self.folder}: no model version {version!r}")
        return dict(self.meta["models"][version])

    def load_model_version(self, version: str, device: str = "auto"):
        """A :class:`~napari_superanimal.model.inference.PoseEstimator` for a trained version."""
        from ..model.checkpoint import load_snapshot
        from ..model.inference import PoseEstimator
        from ..model.networks import build_network

        info = self.model_info(version)
        if not info.get("snapshot"):
            raise ProjectError(f"{self.folder}: model version {version!r} has no weights here")
        network = build_network(info["arch"], len(info["keypoints"]))
        path = self.folder / info["snapshot"]
        load_snapshot(path, network)
        scale = info.get("input_scale", 1.0)
        return PoseEstimator(network, info["keypoints"], device, version, weights=path,
                             input_scale=scale)  # fmt: skip

    # -- predictions ------------------------------------------------------------------------
    def _predictions_group(self, mode: str = "a") -> zarr.Group:
        return zarr.open_group(self.folder / "predictions.zarr", mode=mode, zarr_format=3)

    def save_predictions(
        self,
        video: str,
        model_version: str,
        poses: np.ndarray,
        frames: Sequence[int] | None = None,
        n_frames: int | None = None,
    ) -> None:
        """Store ``(N, K, 3)`` predictions of ``model_version`` for ``frames`` (default: all)."""
        poses = np.asarray(poses, dtype=np.float32)
        if poses.ndim != 3 or poses.shape[1:] != (len(self.keypoints), 3):
            raise ProjectError(
                f"predictions must be (N, {len(self.keypoints)}, 3), got {poses.shape}"
            )
        total = n_frames or (len(poses) if frames is None else max(frames) + 1)
        group = self._predictions_group()
        name = f"{video}/{model_version}"
        if name in group:
            array = group[name]
        else:
            array = group.create_array(
                name,
                shape=(total, len(self.keypoints), 3),
                chunks=(_CHUNK_FRAMES, len(self.keypoints), 3),
                dtype="float32",
                fill_value=np.nan,
            )
            array.attrs["model_version"] = model_version
        if frames is None:
            array[: len(poses)] = poses
        else:
            array.set_orthogonal_selection((np.asarray(frames),), poses)
        versions = self.meta["videos"].setdefault(video, {}).setdefault("predictions", [])
        if model_version not in versions or model_version not in self.meta["models"]:
            self.meta["models"].setdefault(model_version, {})
            if model_version not in versions:
                versions.append(model_version)
            _write_json(self.folder / PROJECT_FILE, self.meta)

    def predictions(self, video: str, model_version: str) -> np.ndarray | None:
        """All ``(T, K, 3)`` predictions of ``model_version`` for ``video`` (NaN: not made)."""
        if model_version not in self.meta["videos"].get(video, {}).get("predictions", []):
            return None
        return np.asarray(self._predictions_group("r")[f"{video}/{model_version}"][:])

    def frame_predictions(
        self, video: str, frame: int, model_version: str | None = None
    ) -> np.ndarray | None:
        """``(K, 3)`` predictions for one frame (newest model version by default), or None."""
        versions = self.meta["videos"].get(video, {}).get("predictions", [])
        if not versions:
            return None
        version = model_version or versions[-1]
        array = self._predictions_group("r")[f"{video}/{version}"]
        if frame >= array.shape[0]:
            return None
        values = np.asarray(array[frame])
        return None if np.isnan(values).all() else values


_META_LOCK = threading.Lock()  # project.json is written from the GUI thread and workers


def _write_json(path: Path, data: dict) -> None:
    with _META_LOCK, atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2))
