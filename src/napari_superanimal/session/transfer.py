"""Moving labels between a :class:`~.session.Session` and label files, through its public API.

:func:`import_into` reads a file with :func:`~napari_superanimal.labels.io.main.load_labels`,
maps its rows to the session's frames and checks everything (keypoint set, numbers, positions
inside the frame, frames inside the video) before anything is written; the file is the
authority on the frames it lists (its points are set, its empty points remove a label there),
and the whole import is one transaction, reverted by one undo.

:func:`export_session` writes the session's predictions and labels: a DeepLabCut pose table
(``dlc-h5``, what ``movement`` and DeepLabCut read), a DeepLabCut project, a SLEAP file or COCO
JSON (see :func:`~napari_superanimal.labels.io.main.save_labels`).

Example::

    with Session.open("mouse.mp4") as s:
        import_into(s, "dlc-project/")           # Session.import_labels calls this
        export_session(s, "mouse.slp", "slp")    # Session.export calls this
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..errors import LabelFormatError, SessionError
from ..labels.io.main import FORMATS, load_labels, save_labels
from ..labels.model import ONE_ANIMAL, UNIQUE, AnimalTables, LabelTable, Point, PointKind
from ..labels.store import Key
from ..video.images import store_images

__all__ = ["FORMATS", "export_session", "import_into", "session_labels", "video_stem"]


# -- import -----------------------------------------------------------------------------------
def import_into(session, path: str | os.PathLike) -> int:
    """Import labels for ``session``'s video from ``path``; returns how many frames changed.

    A DeepLabCut project (folder or ``config.yaml``), a ``labeled-data/<video>`` folder or its
    ``CollectedData_*.h5``/``.csv``, a SLEAP ``.slp`` or a COCO ``.json``. A bad file raises
    :class:`~napari_superanimal.errors.LabelFormatError` and imports nothing. DeepLabCut's
    ``img<N>.png`` is frame N (in a store built from images: that image).
    """
    loaded, source = load_labels(path, video_stem(session))
    animals = loaded if isinstance(loaded, AnimalTables) else None
    tables = dict(animals.tables) if animals else {None: loaded}
    _check_individuals(session, animals.individuals if animals else (), source)
    scene = animals.unique if animals is not None else None
    found = tuple(scene.keypoints) if scene is not None else ()
    mine = session.unique_keypoints
    if found and set(found) != set(mine) and (mine or session.labeled_frames()):
        raise LabelFormatError(
            f"{source}: its unique bodyparts {list(found)} are not this project's {list(mine)}"
        )
    if scene is not None:
        tables[UNIQUE] = scene
    height, width = session.video.shape[1:3]
    changes: dict[int, dict] = {}
    for individual, table in tables.items():
        if table.scores is not None:
            raise LabelFormatError(
                f"{source}: holds predictions (likelihood columns), not labels; import labels "
                "from a CollectedData file"
            )
        table = _map_frames(session, table, source)
        names = found if individual == UNIQUE else session.keypoints
        table = table.check(source, keypoints=names, size=(width, height), n_frames=len(session))
        for frame, points in import_changes(session, table, individual).items():
            changes.setdefault(frame, {}).update(points)
    if animals and not session.individuals:  # a project with no labels takes the file's animals
        session.set_individuals(animals.individuals)
    if found and not mine:
        session.set_unique_keypoints(found)
    n = session.apply_changes(changes)
    if loaded.skeleton and not session.skeleton:
        session.project.set_skeleton(loaded.skeleton)
    return n


def _check_individuals(session, found: Sequence[str], source: Path) -> None:
    """Refuse a file whose animals are not the project's, naming both (a project without
    labels yet takes the file's animals)."""
    mine = session.individuals
    if set(found) == set(mine):
        return
    if found and not mine and not session.project.labels.individual_names():
        return
    raise LabelFormatError(
        f"{source}: its individuals {_named(found)} are not this project's {_named(mine)}"
    )


def _named(individuals: Sequence[str]) -> str:
    return str(list(individuals)) if individuals else "(one animal)"


def import_changes(
    session, table: LabelTable, individual: str | None = None
) -> dict[int, dict[Key, Point | None]]:
    """Label changes that make ``table``'s frames hold exactly its labels (for ``individual``
    in a project with several animals)."""
    changes: dict[int, dict[Key, Point | None]] = {}
    finite = np.isfinite(table.xy).all(-1)
    one = individual or ONE_ANIMAL
    for row, frame in enumerate(table.frames):
        existing = session.project.labels.frame(session.video_key, frame, one)
        frame_changes: dict[str, Point | None] = {}
        for i, name in enumerate(table.keypoints):
            x, y = (float(v) for v in table.xy[row, i])
            if table.hidden[row, i]:
                pos = (x, y) if finite[row, i] else (None, None)
                frame_changes[name] = Point(name, *pos, PointKind.HIDDEN, None, one)
            elif finite[row, i]:
                frame_changes[name] = Point(name, x, y, PointKind.LABELED, None, one)
            elif name in existing:
                frame_changes[name] = None
        frame_changes = {  # points already as the file has them are left alone
            (k if individual is None else (individual, k)): p
            for k, p in frame_changes.items()
            if p is None or not _same(existing.get(k), p)
        }
        if frame_changes:
            changes[int(frame)] = frame_changes
    return changes


def _same(old: Point | None, new: Point) -> bool:
    return old is not None and (old.x, old.y, old.state) == (new.x, new.y, new.state)


def _map_frames(session, table: LabelTable, source: Path) -> LabelTable:
    """Rows -> session frames: by image name in a store built from images, else by the
    frame numbers the file gives (``imgNNN``, SLEAP frame indices, COCO ``frame_index``)."""
    images = store_images(session.video.store)
    if images is not None and table.images is not None:
        where = {name: i for i, name in enumerate(images)}
        frames = []
        for image in table.images:
            base = image.replace("\\", "/").split("/")[-1]
            if base not in where:
                raise LabelFormatError(
                    f"{source}: image {image} is not one of this session's frames "
                    f"({len(images)} images from {session.video.name})"
                )
            frames.append(where[base])
        table.frames = frames
        return table
    for row, frame in enumerate(table.frames):
        if frame < 0:
            raise LabelFormatError(
                f"{source}: {table.images[row] if table.images else row} has no frame number "
                "(DeepLabCut names frames img<number>.png)"
            )
    return table


# -- export -----------------------------------------------------------------------------------
def session_labels(session) -> LabelTable | AnimalTables:
    """The session's user points (labeled, accepted, hidden) as a table, one row per frame
    (one table per animal, on the same rows, in a project with several animals)."""
    frames = session.labeled_frames()
    names = session.individuals or (ONE_ANIMAL,)
    tables = {a: LabelTable.empty(session.keypoints, frames) for a in names}
    unique = session.unique_keypoints
    if unique:  # the scene's points (DeepLabCut's uniquebodyparts)
        tables[UNIQUE] = LabelTable.empty(unique, frames)
    for row, frame in enumerate(frames):
        for individual, points in session.animals(frame).items():
            table = tables[individual]
            for name, p in points.items():
                i = table.keypoints.index(name)
                if p.x is not None and p.y is not None:
                    table.xy[row, i] = (p.x, p.y)
                table.hidden[row, i] = p.state == PointKind.HIDDEN
    for table in tables.values():
        table.skeleton = list(session.skeleton)
        table.video = video_stem(session)
    if not session.individuals:
        return tables[ONE_ANIMAL]
    scene = tables.pop(UNIQUE, None)
    return AnimalTables(session.individuals, tables, list(session.skeleton), unique=scene)


def session_predictions(session) -> LabelTable | dict[str, LabelTable] | None:
    """The active model's predictions (frames with any), with their scores; None if none. In
    a project with several animals: one table per individual the model found."""
    if session.model_version is None:
        return None
    poses = session.all_predictions()
    if not session.individuals:
        return _prediction_table(session, poses)
    tables = {
        a: _prediction_table(session, poses[:, i])
        for a, i in zip(session.individuals, range(poses.shape[1]), strict=True)
    }
    tables = {a: t for a, t in tables.items() if t is not None}
    return tables or None


def _prediction_table(session, poses: np.ndarray) -> LabelTable | None:
    frames = np.flatnonzero(np.isfinite(poses[:, :, 2]).any(-1))
    if not len(frames):
        return None
    table = LabelTable.empty(session.keypoints, frames.tolist())
    table.xy[:] = poses[frames, :, :2]
    table.scores = poses[frames, :, 2].astype(np.float64)
    return table


def video_stem(session) -> str:
    """The video's name without suffix; for a store built from images, the images' folder
    (DeepLabCut's labeled-data/<video stem>)."""
    if store_images(session.video.store) is not None:
        return Path(session.video.store.source["path"]).name
    return Path(session.video.name).stem


def export_session(
    session,
    path: str | os.PathLike,
    format: str = "dlc-h5",
    *,
    with_labels: bool = True,
    scorer: str | None = None,
    smooth: str | None = None,
    window: int = 5,
    images: bool = True,
) -> Path:
    """Write ``session`` as ``format`` (one of :data:`FORMATS`); returns the file written.

    - ``dlc-h5`` (default): the active model's predictions as a DeepLabCut pose table
      (``movement`` and DeepLabCut read it; DeepLabCut's multi-animal layout, one individual
      per animal, in a project with several animals); with ``with_labels`` the user's labeled and
      accepted points replace the predictions on their frames (likelihood 1), hidden ones
      become NaN; frames never predicted are NaN. ``smooth`` (``"median"`` or ``"savgol"``,
      off by default) filters the confident predictions over ``window`` frames before the
      labels go in (labels never change; :mod:`~napari_superanimal.labels.smooth`), recorded in
      the file's HDF5 attribute ``napari_superanimal``.
    - ``dlc-project``: ``path`` is a DeepLabCut project folder (config, CollectedData and,
      with ``images``, the labeled frames as PNGs); ``scorer`` names the labeler.
    - ``slp``: labels (unless not ``with_labels``) and predictions for SLEAP (several animals
      on a track each).
    - ``coco``: labels as COCO keypoints JSON (an annotation per animal), frames as PNGs
      beside it (with ``images``).

    Paths inside the files (DeepLabCut's ``video_sets``, the ``.slp`` video) are absolute.
    """
    if format not in FORMATS:
        raise SessionError(f"format must be one of {', '.join(FORMATS)}, not {format!r}")
    if format != "dlc-project" and _scene_labeled(session):
        raise SessionError(
            f"the unique keypoints ({', '.join(session.unique_keypoints)}) are labeled, and "
            f"{format} has no place for them: export as dlc-project"
        )
    if smooth is not None and format != "dlc-h5":
        raise SessionError(f"smoothing applies to dlc-h5 exports, not {format}")
    if format == "dlc-h5":
        return _export_pose_table(session, path, with_labels, smooth, window)
    labels = session_labels(session)
    video = session.video
    names = store_images(video.store)
    if names is not None:
        folder = Path(video.store.source["path"])
        reference = [str(folder / n) for n in names]
    else:
        reference = video.source_path or video.store_path
    if format == "slp":
        predictions = session_predictions(session)
        if not len(labels) and predictions is None:
            raise LabelFormatError(f"{video.name}: nothing to export (no labels, no predictions)")
        table = labels if with_labels else LabelTable.empty(session.keypoints, [])
        table.skeleton = list(session.skeleton)
        return save_labels(
            path, "slp", table, predictions=predictions, video=reference, shape=tuple(video.shape)
        )
    if not len(labels):
        raise LabelFormatError(f"{video.name}: no labels to export as {format}")
    labels.images = _image_paths(
        session, labels, prefix="labeled-data" if format == "dlc-project" else None
    )
    source = video.source_path if video.source_path and video.source_path.is_file() else None
    return save_labels(
        path,
        format,
        labels,
        frame=session.read_frame if images else None,
        video=source,
        shape=tuple(video.shape),
        scorer=scorer,
    )


def _scene_labeled(session) -> bool:
    return bool(session.unique_keypoints) and UNIQUE in session.project.labels.individual_names(
        session.video_key
    )


def _image_paths(session, labels: LabelTable, prefix: str | None) -> list[str]:
    """Each labeled frame's image: the store's own image names, else DeepLabCut's
    ``img<NNN>.png``; under ``<prefix>/<video stem>/`` (or ``<video stem>/``)."""
    from ..labels.io.dlc import image_names

    stem = labels.video
    names = store_images(session.video.store)
    if names is not None:
        files = [names[f] for f in labels.frames]
    else:
        files = [p.split("/")[-1] for p in image_names(stem, labels.frames, len(session))]
    folder = f"{prefix}/{stem}" if prefix else stem
    return [f"{folder}/{f}" for f in files]


def _export_pose_table(session, path, with_labels: bool, smooth: str | None, window: int) -> Path:
    from ..labels.io.dlc import save_dlc_predictions

    poses = session.all_predictions().copy()  # (T, K, 3), or (T, A, K, 3) for several animals
    metadata = None
    if smooth is not None:
        from ..labels.smooth import smooth_poses, smoothing_record

        flat = poses.reshape(len(poses), -1, 3)  # every animal's keypoint filtered on its own
        poses = smooth_poses(flat, smooth, window).astype(poses.dtype).reshape(poses.shape)
        metadata = {"smoothing": smoothing_record(smooth, window)}
    if with_labels:
        index = {k: i for i, k in enumerate(session.keypoints)}
        rows = {a: i for i, a in enumerate(session.individuals)}
        for frame in session.labeled_frames():
            for animal, points in session.animals(frame).items():
                target = poses[frame, rows[animal]] if rows else poses[frame]
                for name, p in points.items():
                    i = index[name]
                    if p.state == PointKind.HIDDEN or p.x is None:
                        target[i] = (np.nan, np.nan, 0.0)
                    else:
                        target[i] = (p.x, p.y, 1.0)
    scorer = session.model_version or "napari-superanimal"
    return save_dlc_predictions(
        path,
        poses,
        session.keypoints,
        scorer=scorer,
        individuals=session.individuals or None,
        metadata=metadata,
    )
