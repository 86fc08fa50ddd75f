"""Moving labels between a :class:`~napari_superanimal.session.Session` and label files.

:func:`read_for_session` reads a DeepLabCut project (folder or ``config.yaml``), a
``labeled-data/<video>`` folder, a ``CollectedData_*.h5``/``.csv``, a SLEAP ``.slp`` or a COCO
``.json`` (chosen by suffix), maps its rows to the session's frames and checks everything
(keypoint set, numbers, positions inside the frame, frames inside the video) before anything is
written. :func:`import_changes` turns it into label-store changes: the file is the authority on
the frames it lists (its points are set, its empty points remove a label there). The session
applies them in one transaction, so one undo reverts a whole import.

:func:`export_session` writes a session's labels (and predictions, where the format has them)
as a DeepLabCut project, a SLEAP file or COCO JSON.

Example::

    with Session.open("mouse.mp4") as s:
        s.import_labels("dlc-project/")             # Session.import_labels uses this module
        s.export("mouse.slp", format="slp")
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ...errors import LabelFormatError
from ..store import Point
from .table import LabelTable

FORMATS = ("dlc-h5", "dlc-project", "slp", "coco")


def read_for_session(session, path: str | os.PathLike) -> tuple[LabelTable, Path]:
    """The labels in ``path`` for ``session``'s video, checked and in its frames and keypoint
    order; raises :class:`LabelFormatError` (naming the file) for anything unusable."""
    path = Path(path)
    table, source = read_labels(path, video_stem(session))
    if table.scores is not None:
        raise LabelFormatError(
            f"{source}: holds predictions (likelihood columns), not labels; import labels from "
            "a CollectedData file"
        )
    table = _map_frames(session, table, source)
    height, width = session.video.shape[1:3]
    table = table.check(
        source, keypoints=session.keypoints, size=(width, height), n_frames=len(session)
    )
    return table, source


def import_changes(session, table: LabelTable) -> dict[int, dict[str, Point | None]]:
    """Label-store changes that make ``table``'s frames hold exactly its labels."""
    changes: dict[int, dict[str, Point | None]] = {}
    finite = np.isfinite(table.xy).all(-1)
    for row, frame in enumerate(table.frames):
        existing = session.labels(frame)
        frame_changes: dict[str, Point | None] = {}
        for i, name in enumerate(table.keypoints):
            x, y = (float(v) for v in table.xy[row, i])
            if table.hidden[row, i]:
                pos = (x, y) if finite[row, i] else (None, None)
                frame_changes[name] = Point(name, *pos, "hidden")
            elif finite[row, i]:
                frame_changes[name] = Point(name, x, y, "labeled")
            elif name in existing:
                frame_changes[name] = None
        frame_changes = {  # points already as the file has them are left alone
            k: p for k, p in frame_changes.items() if p is None or not _same(existing.get(k), p)
        }
        if frame_changes:
            changes[int(frame)] = frame_changes
    return changes


def _same(old: Point | None, new: Point) -> bool:
    return old is not None and (old.x, old.y, old.state) == (new.x, new.y, new.state)


def read_labels(path: str | os.PathLike, video: str = "") -> tuple[LabelTable, Path]:
    """Read any supported label file (by suffix) for the video named ``video`` (a DeepLabCut
    project's ``labeled-data/<video stem>``, a SLEAP file's video of that name); returns the
    table and the file it came from. Checked for form, not yet against a session."""
    from .dlc import CONFIG, _collected_file, load_dlc_config, load_dlc_labels, load_dlc_project

    path = Path(path)
    if not path.exists():
        raise LabelFormatError(f"{path}: no such file or folder")
    stem = Path(video).stem
    suffix = path.suffix.lower()
    if path.is_dir() and not (path / CONFIG).is_file():
        file = _collected_file(path, "")
        if file is None:
            raise LabelFormatError(
                f"{path}: neither a DeepLabCut project (config.yaml) nor a labeled-data folder "
                "(CollectedData_*.h5 or .csv)"
            )
        path, suffix = file, file.suffix
    if path.is_dir() or path.name == CONFIG:
        project = load_dlc_project(path)
        tables = project.labels
        if stem in tables:
            name = stem
        elif len(tables) == 1:
            name = next(iter(tables))
        else:
            raise LabelFormatError(
                f"{project.folder}: no labeled-data/{stem}; it has {', '.join(sorted(tables))} "
                "(import one of their CollectedData files)"
            )
        file = _collected_file(project.images_folder(name), project.config.scorer)
        return tables[name], file
    if suffix in (".h5", ".csv"):
        config = path.parent.parent.parent / CONFIG
        bodyparts = load_dlc_config(config).bodyparts if config.is_file() else None
        table = load_dlc_labels(path, bodyparts)
        if config.is_file():
            table.skeleton = list(load_dlc_config(config).skeleton)
        return table, path
    if suffix == ".slp":
        from .sleap import load_slp

        try:
            return load_slp(path, video=video or None).labels, path
        except LabelFormatError:
            return load_slp(path).labels, path  # the only video, or an error naming them
    if suffix == ".json":
        from .coco import load_coco

        return load_coco(path), path
    raise LabelFormatError(
        f"{path}: unknown label format; import a DeepLabCut project or CollectedData .h5/.csv, "
        "a SLEAP .slp or a COCO .json"
    )


def _map_frames(session, table: LabelTable, source: Path) -> LabelTable:
    """Rows -> session frames: by image name in a store built from images, else by the
    frame numbers the file gives (``imgNNN``, SLEAP frame indices, COCO ``frame_index``)."""
    from ...video.images import store_images

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
def session_labels(session) -> LabelTable:
    """The session's user points (labeled, accepted, hidden) as a table, one row per frame."""
    frames = session.labeled_frames()
    table = LabelTable.empty(session.keypoints, frames)
    index = {k: i for i, k in enumerate(session.keypoints)}
    for row, frame in enumerate(frames):
        for name, p in session.labels(frame).items():
            i = index[name]
            if p.x is not None and p.y is not None:
                table.xy[row, i] = (p.x, p.y)
            table.hidden[row, i] = p.state == "hidden"
    table.skeleton = list(session.skeleton)
    table.video = video_stem(session)
    return table


def video_stem(session) -> str:
    """The video's name without suffix; for a store built from images, the images' folder
    (DeepLabCut's labeled-data/<video stem>)."""
    from ...video.images import store_images

    if store_images(session.video.store) is not None:
        return Path(session.video.store.source["path"]).name
    return Path(session.video.name).stem


def session_predictions(session) -> LabelTable | None:
    """The active model's predictions (frames with any), with their scores; None if none."""
    if session.model_version is None:
        return None
    with session._lock:
        poses = session._pred.copy()
    frames = np.flatnonzero(np.isfinite(poses[:, :, 2]).any(-1))
    if not len(frames):
        return None
    table = LabelTable.empty(session.keypoints, frames.tolist())
    table.xy[:] = poses[frames, :, :2]
    table.scores = poses[frames, :, 2].astype(np.float64)
    return table


def export_session(
    session,
    path: str | os.PathLike,
    format: str,
    with_labels: bool = True,
    scorer: str | None = None,
    images: bool = True,
) -> Path:
    """Write ``session`` as ``format`` (see :data:`FORMATS`; "dlc-h5" is Session.export's own).

    - ``dlc-project``: ``path`` is the project folder; ``config.yaml`` (kept and extended if
      there, its bodyparts must match), ``labeled-data/<video>/CollectedData_<scorer>.h5/.csv``
      and the labeled frames as PNGs (``images``).
    - ``slp``: labels as user instances (unless not ``with_labels``) and the active model's
      predictions as predicted instances, with the video's path.
    - ``coco``: labels, with the labeled frames as PNGs beside the JSON (``images``).
    """
    path = Path(path)
    if format not in FORMATS or format == "dlc-h5":
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {format!r}")
    labels = session_labels(session)
    stem = labels.video
    store_names = _store_image_names(session)
    if format == "slp":
        from .sleap import save_slp

        predictions = session_predictions(session)
        if not len(labels) and predictions is None:
            raise LabelFormatError(f"{session.video.name}: nothing to export (no labels, no "
                                   "predictions)")  # fmt: skip
        return save_slp(
            path,
            labels if with_labels and len(labels) else None,
            predictions,
            video=_video_reference(session),
            skeleton=session.skeleton,
            shape=tuple(session.video.shape),
        )
    if not len(labels):
        raise LabelFormatError(f"{session.video.name}: no labels to export as {format}")
    height, width = session.video.shape[1:3]
    if format == "coco":
        from .coco import save_coco
        from .dlc import image_names

        names = store_names or [n.split("/")[-1] for n in image_names(stem, labels.frames,
                                                                      len(session))]  # fmt: skip
        labels.images = [f"{stem}/{names[f] if store_names else names[r]}"
                         for r, f in enumerate(labels.frames)]  # fmt: skip
        out = save_coco(path, labels, size=(width, height), n_frames=len(session))
        if images:
            for row, frame in enumerate(labels.frames):
                _write_frame(path.parent / labels.images[row], session.read_frame(frame))
        return out
    from .dlc import LABELED_DATA, DLCConfig, image_names, load_dlc_config, save_dlc_project

    config_file = path / "config.yaml"
    if config_file.is_file():
        config = load_dlc_config(config_file)
        if scorer:
            config.scorer = scorer
    else:
        config = DLCConfig.new(session.keypoints, scorer=scorer or "napari-superanimal",
                               task=stem, skeleton=session.skeleton)  # fmt: skip
    if store_names:
        labels.images = [f"{LABELED_DATA}/{stem}/{store_names[f]}" for f in labels.frames]
    else:
        labels.images = image_names(stem, labels.frames, len(session))
    source = session.video.source_path
    videos = {stem: str(source)} if source is not None and source.is_file() else {}
    readers = {stem: lambda row: session.read_frame(labels.frames[row])} if images else None
    return save_dlc_project(path, config, {stem: labels}, frames=readers, videos=videos)


def _store_image_names(session) -> list[str] | None:
    from ...video.images import store_images

    return store_images(session.video.store)


def _video_reference(session):
    """What SLEAP should open: the video file, the images a store was built from, or the
    store itself."""
    names = _store_image_names(session)
    if names is not None:
        folder = Path(session.video.store.source["path"])
        return [str(folder / n) for n in names]
    source = session.video.source_path
    if source is not None:
        return str(source)
    return str(session.video.store_path)


def _write_frame(path: Path, image: np.ndarray) -> None:
    from .dlc import _write_png

    path.parent.mkdir(parents=True, exist_ok=True)
    _write_png(path, image)
