"""Pick the format by file: one place that knows which module reads and writes what.

:func:`load_labels` reads any supported label file (a DeepLabCut project folder or its
``config.yaml``, a ``labeled-data/<video>`` folder, a ``CollectedData_*.h5``/``.csv``, a SLEAP
``.slp``, a COCO ``.json``); :func:`save_labels` writes labels (and predictions, where the format
holds them) in one of :data:`FORMATS`. Both work on :class:`~..model.LabelTable` only: moving
labels between a table and a :class:`~napari_superanimal.session.Session` is the session's job.

Example::

    from napari_superanimal.labels.io.main import load_labels, save_labels
    table, source = load_labels("reaching/", video="reachingvideo1")
    save_labels("out.slp", "slp", table, video="reachingvideo1.mp4")
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ...errors import LabelFormatError
from ..model import AnimalTables, LabelTable

#: Export formats: a DeepLabCut pose table, a DeepLabCut project, SLEAP, COCO keypoints.
FORMATS = ("dlc-h5", "dlc-project", "slp", "coco")


def load_labels(path: str | os.PathLike, video: str = "") -> tuple[LabelTable | AnimalTables, Path]:
    """Read any supported label file (by suffix) for the video named ``video`` (a DeepLabCut
    project's ``labeled-data/<video stem>``, a SLEAP file's video of that name); returns the
    table (one per animal for a DeepLabCut multi-animal file) and the file it came from.
    Checked for form, not yet against a project.

    Example::

        table, file = load_labels("dlc-project/config.yaml", "mouse.mp4")
    """
    from .dlc import (
        CONFIG,
        collected_file,
        file_individuals,
        load_dlc_animals,
        load_dlc_config,
        load_dlc_labels,
        load_dlc_project,
    )

    path = Path(path)
    if not path.exists():
        raise LabelFormatError(f"{path}: no such file or folder")
    stem = Path(video).stem
    suffix = path.suffix.lower()
    if path.is_dir() and not (path / CONFIG).is_file():
        file = collected_file(path, "")
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
        file = collected_file(project.images_folder(name), project.config.scorer)
        return tables[name], file
    if suffix in (".h5", ".csv"):
        config_file = path.parent.parent.parent / CONFIG
        config = load_dlc_config(config_file) if config_file.is_file() else None
        bodyparts = config.bodyparts if config else None
        if len(file_individuals(path)) > 1:
            individuals = (config.individuals or None) if config else None
            unique = config.unique if config else None
            table = load_dlc_animals(path, bodyparts, individuals, unique=unique)
        else:
            table = load_dlc_labels(path, bodyparts)
        if config:
            table.skeleton = list(config.skeleton)
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


def save_labels(
    path: str | os.PathLike,
    format: str,
    labels: LabelTable | AnimalTables,
    *,
    predictions: LabelTable | dict[str, LabelTable] | None = None,
    frame: Callable[[int], np.ndarray] | None = None,
    video: str | os.PathLike | list[str] | None = None,
    shape: tuple[int, int, int, int] | None = None,
    scorer: str | None = None,
) -> Path:
    """Write ``labels`` (one video's) as ``format`` (one of :data:`FORMATS` but ``dlc-h5``,
    which is a pose table: :func:`~.dlc.save_dlc_predictions`).

    - ``dlc-project``: ``path`` is the project folder; ``config.yaml`` (kept and extended if
      there; its bodyparts must match), ``labeled-data/<video>/CollectedData_<scorer>.h5/.csv``
      and, with ``frame`` (a frame number -> ``(H, W, 3)`` image), the labeled frames as PNGs;
      ``video`` (the video file) goes into ``video_sets`` as an absolute path, as DeepLabCut
      writes it.
    - ``slp``: labels as user instances and ``predictions`` as predicted instances, with the
      video SLEAP should open (``video``: a file, or the images a store was built from),
      stored as an absolute path; several animals (``labels`` an :class:`AnimalTables`,
      ``predictions`` a table per individual) on one SLEAP track each.
    - ``coco``: the labels (one annotation per animal), with the labeled frames as PNGs
      beside the JSON (with ``frame``).

    ``labels.images`` names each row's image (``labeled-data/<video>/imgNNN.png`` style);
    ``shape`` is the video's ``(frames, height, width, channels)``.

    Example::

        save_labels("project-dlc/", "dlc-project", table, frame=video.read_frame,
                    video="/data/mouse.mp4", shape=video.shape)
    """
    path = Path(path)
    if format not in FORMATS or format == "dlc-h5":
        raise ValueError(f"format must be one of {', '.join(FORMATS[1:])}, not {format!r}")
    scene = labels.unique if isinstance(labels, AnimalTables) else None
    if (
        format != "dlc-project"
        and scene is not None
        and (np.isfinite(scene.xy).any() or scene.hidden.any())
    ):
        raise LabelFormatError(
            f"{path}: {format} has no place for unique keypoints ({', '.join(scene.keypoints)}); "
            "export them in a DeepLabCut project"
        )
    if format == "slp":
        from .sleap import save_slp

        reference = _absolute(video) if video is not None else None
        if reference is None:
            raise ValueError("a .slp file names its video: pass video=")
        has_labels = labels is not None and len(labels)
        return save_slp(
            path,
            labels if has_labels else None,
            predictions,
            video=reference,
            skeleton=labels.skeleton,
            shape=shape,
        )
    if not len(labels):
        raise LabelFormatError(f"{labels.video}: no labels to export as {format}")
    height, width = (shape[1], shape[2]) if shape is not None else (None, None)
    if format == "coco":
        from .coco import save_coco
        from .dlc import write_png

        out = save_coco(
            path,
            labels,
            size=(width, height) if shape else None,
            n_frames=shape[0] if shape else None,
        )
        if frame is not None:
            for row, f in enumerate(labels.frames):
                image = path.parent / labels.images[row]
                image.parent.mkdir(parents=True, exist_ok=True)
                write_png(image, frame(f))
        return out
    from .dlc import CONFIG, DLCConfig, load_dlc_config, save_dlc_project

    config_file = path / CONFIG
    if config_file.is_file():
        config = load_dlc_config(config_file)
        if scorer:
            config.scorer = scorer
    else:
        config = DLCConfig.new(
            labels.keypoints,
            scorer=scorer or "napari-superanimal",
            task=labels.video or "superanimal",
            skeleton=labels.skeleton,
            individuals=labels.individuals if isinstance(labels, AnimalTables) else (),
            unique=_unique_keypoints(labels),
        )
    stem = labels.video or "video"
    videos = {stem: str(_absolute(video))} if isinstance(video, (str, os.PathLike)) else {}
    readers = {stem: lambda row: frame(labels.frames[row])} if frame is not None else None
    return save_dlc_project(path, config, {stem: labels}, frames=readers, videos=videos)


def _unique_keypoints(labels) -> tuple[str, ...]:
    unique = labels.unique if isinstance(labels, AnimalTables) else None
    return tuple(unique.keypoints) if unique is not None else ()


def _absolute(reference):
    """A video path (or list of image paths) made absolute, so it resolves from anywhere."""
    if isinstance(reference, (list, tuple)):
        return [str(Path(r).resolve()) for r in reference]
    return str(Path(reference).resolve())
