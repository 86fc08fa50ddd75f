"""A whole DeepLabCut project folder: ``config.yaml`` plus every ``labeled-data/<video>``.

Example::

    from napari_superanimal.labels.io.dlc import load_dlc_project, save_dlc_project
    project = load_dlc_project("reaching-Mackenzie-2018-08-30/")
    table = project.labels["reachingvideo1"]          # a LabelTable: xy (N, K, 2), NaN = unlabeled
    save_dlc_project("out/", project.config, project.labels)
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ....atomic import atomic_path
from ....errors import LabelFormatError
from ...model import AnimalTables, LabelTable, check_keypoints
from .config import CONFIG, DLCConfig, load_dlc_config, save_dlc_config
from .labels import LABELED_DATA, load_dlc_animals, load_dlc_labels, save_dlc_labels


@dataclass
class DLCProject:
    """A DeepLabCut project on disk: its config and labels by video (labeled-data folder)."""

    folder: Path
    config: DLCConfig
    #: by video: a table, or one per animal in a multi-animal project
    labels: dict[str, LabelTable | AnimalTables]

    def images_folder(self, video: str) -> Path:
        return self.folder / LABELED_DATA / video


def load_dlc_project(path: str | os.PathLike, check_images: bool = True) -> DLCProject:
    """Read a DeepLabCut project folder (or its ``config.yaml``): config and every
    ``labeled-data/<video>/CollectedData_<scorer>.h5`` (``.csv`` when no ``.h5``).

    Every table is checked against the config's bodyparts (and its PNGs' sizes) before this
    returns, so a bad file fails the whole load.

    Example::

        project = load_dlc_project("reaching/")
        project.config.bodyparts, sorted(project.labels)
    """
    path = Path(path)
    config = load_dlc_config(path)
    folder = config.path.parent
    labels: dict[str, LabelTable | AnimalTables] = {}
    data = folder / LABELED_DATA
    for sub in sorted(data.iterdir()) if data.is_dir() else []:
        if not sub.is_dir():
            continue
        file = collected_file(sub, config.scorer)
        if file is None:
            continue
        if config.individuals:
            animals = load_dlc_animals(
                file,
                config.bodyparts,
                config.individuals,
                check_images=check_images,
                unique=config.unique,
            )
            animals.skeleton = list(config.skeleton)
            for table in animals.tables.values():
                table.video = sub.name
            labels[sub.name] = animals
            continue
        table = load_dlc_labels(file, config.bodyparts, check_images=check_images)
        table.skeleton = list(config.skeleton)
        table.video = sub.name
        labels[sub.name] = table
    if not labels:
        raise LabelFormatError(f"{folder}: no labeled-data/*/CollectedData_*.h5 or .csv")
    return DLCProject(folder, config, labels)


def collected_file(folder: Path, scorer: str) -> Path | None:
    for suffix in (".h5", ".csv"):
        named = folder / f"CollectedData_{scorer}{suffix}"
        if named.is_file():
            return named
    for suffix in (".h5", ".csv"):
        found = sorted(folder.glob(f"CollectedData_*{suffix}"))
        if found:
            return found[0]
    return None


def save_dlc_project(
    folder: str | os.PathLike,
    config: DLCConfig,
    labels: Mapping[str, LabelTable | AnimalTables],
    frames: Mapping[str, Callable[[int], np.ndarray]] | None = None,
    videos: Mapping[str, str] | None = None,
) -> Path:
    """Write a DeepLabCut project: ``config.yaml`` and, per video, ``CollectedData_<scorer>``
    ``.h5``/``.csv`` plus (with ``frames[video]``, a row number -> ``(H, W, 3)`` image reader)
    the labeled PNGs. ``videos`` maps a labeled-data name to its video path for
    ``video_sets``. Returns the ``config.yaml`` path.

    Example::

        save_dlc_project("out/", DLCConfig.new(["nose", "tail"], scorer="me"), {"mouse": table})
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for video, table in labels.items():
        source = f"{folder} ({video})"
        individuals = table.individuals if isinstance(table, AnimalTables) else ()
        if tuple(individuals) != tuple(config.individuals):
            raise LabelFormatError(
                f"{source}: labels individuals {list(individuals) or '(one animal)'} but the "
                f"config names {list(config.individuals) or '(one animal)'}"
            )
        tables = list(table.tables.values()) if individuals else [table]
        for t in tables:
            check_keypoints(source, t.keypoints, config.bodyparts)
        tables = [t.reorder(config.bodyparts) for t in tables]
        sub = folder / LABELED_DATA / video
        sub.mkdir(parents=True, exist_ok=True)
        names = [f"{LABELED_DATA}/{video}/{p.split('/')[-1]}" for p in tables[0].images or []]
        for t in tables:
            t.images = names
        out = tables[0]
        if individuals:
            unique = table.unique
            if tuple(unique.keypoints if unique else ()) != tuple(config.unique):
                raise LabelFormatError(
                    f"{source}: unique bodyparts {list(unique.keypoints if unique else [])} but "
                    f"the config names {list(config.unique)}"
                )
            if unique is not None:
                unique = unique.reorder(config.unique)
                unique.images = names
            out = AnimalTables(
                individuals, dict(zip(individuals, tables, strict=True)), unique=unique
            )
        save_dlc_labels(sub / f"CollectedData_{config.scorer}.h5", out, config.scorer)
        size = None
        if frames is not None and video in frames:
            for row, name in enumerate(names):
                image = frames[video](row)
                size = image.shape[1], image.shape[0]
                write_png(folder / name, image)
        key = (videos or {}).get(video) or str(folder / "videos" / f"{video}.mp4")
        entry = config.video_sets.setdefault(key, {})
        if size and "crop" not in entry:
            entry["crop"] = f"0, {size[0]}, 0, {size[1]}"
    return save_dlc_config(folder / CONFIG, config)


def write_png(path: Path, image: np.ndarray) -> None:
    from PIL import Image

    image = np.asarray(image, dtype=np.uint8)
    with atomic_path(path) as tmp:
        Image.fromarray(image.squeeze()).save(tmp, format="PNG")
