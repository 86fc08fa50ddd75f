"""DeepLabCut ``config.yaml``: bodyparts, skeleton, videos and SuperAnimal conversion tables.

What is read and written: ``scorer``, ``bodyparts``, ``skeleton`` (pairs of names),
``video_sets`` (video path -> ``crop: "0, W, 0, H"``) and, for SuperAnimal fine-tuning,
``SuperAnimalConversionTables`` (``{superanimal name: {bodypart: SuperAnimal keypoint}}``). A
multi-animal project (``multianimalproject: true``) names its ``individuals`` and keeps its
bodyparts under ``multianimalbodyparts`` (``bodyparts`` is ``MULTI!``); ``uniquebodyparts``
(points of the scene, no animal's) are refused for now. Keys this module does not interpret are
kept as they are.

Example::

    from napari_superanimal.labels.io.dlc import load_dlc_config, save_dlc_config
    cfg = load_dlc_config("reaching/config.yaml")
    cfg.bodyparts, cfg.skeleton, cfg.conversion_tables
    save_dlc_config("out/config.yaml", cfg)
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ....atomic import atomic_path
from ....errors import LabelFormatError
from ...model import check_unique

CONFIG = "config.yaml"
#: what a multi-animal config says in place of its ``bodyparts``
MULTI = "MULTI!"


@dataclass
class DLCConfig:
    """What a DeepLabCut ``config.yaml`` says about labels; ``raw`` keeps every other key."""

    scorer: str
    bodyparts: tuple[str, ...]
    skeleton: list[tuple[str, str]] = field(default_factory=list)
    conversion_tables: dict[str, dict[str, str]] = field(default_factory=dict)
    video_sets: dict[str, dict] = field(default_factory=dict)
    raw: dict = field(default_factory=dict)
    path: Path | None = None
    #: a multi-animal project's animals (empty for a single-animal project)
    individuals: tuple[str, ...] = ()
    #: a multi-animal project's unique bodyparts: points of the scene, of no animal
    unique: tuple[str, ...] = ()

    @classmethod
    def new(
        cls,
        bodyparts: Sequence[str],
        scorer: str = "napari-superanimal",
        task: str = "superanimal",
        skeleton: Sequence[tuple[str, str]] = (),
        individuals: Sequence[str] = (),
        unique: Sequence[str] = (),
    ) -> DLCConfig:
        """A fresh config with DeepLabCut's usual defaults (multi-animal with
        ``individuals``, and ``unique`` bodyparts)."""
        raw = {
            "Task": task,
            "scorer": scorer,
            "date": pd.Timestamp.now().strftime("%b%d"),
            "multianimalproject": False,
            "identity": None,
            "project_path": "",
            "engine": "pytorch",
            "video_sets": {},
            "bodyparts": list(bodyparts),
            "start": 0,
            "stop": 1,
            "numframes2pick": 20,
            "skeleton": [list(p) for p in skeleton],
            "skeleton_color": "black",
            "pcutoff": 0.6,
            "dotsize": 12,
            "alphavalue": 0.7,
            "colormap": "rainbow",
            "TrainingFraction": [0.95],
            "iteration": 0,
            "default_net_type": "resnet_50",
            "default_augmenter": "default",
            "snapshotindex": -1,
            "batch_size": 8,
            "cropping": False,
            "x1": 0,
            "x2": 640,
            "y1": 277,
            "y2": 624,
            "corner2move2": [50, 50],
            "move2corner": True,
        }
        if individuals:
            raw["identity"] = False
        return cls(
            scorer,
            tuple(bodyparts),
            [tuple(p) for p in skeleton],
            {},
            {},
            raw,
            individuals=tuple(individuals),
            unique=tuple(unique),
        )

    def to_dict(self) -> dict:
        """The config as written: ``raw`` with the interpreted keys brought up to date."""
        out = dict(self.raw)
        out["scorer"] = self.scorer
        if self.individuals:
            out["multianimalproject"] = True
            out["individuals"] = list(self.individuals)
            out["multianimalbodyparts"] = list(self.bodyparts)
            out["uniquebodyparts"] = list(self.unique)
            out["bodyparts"] = MULTI
        else:
            out["multianimalproject"] = False
            out["bodyparts"] = list(self.bodyparts)
        out["skeleton"] = [list(p) for p in self.skeleton]
        out["video_sets"] = {k: dict(v) for k, v in self.video_sets.items()}
        if self.conversion_tables or "SuperAnimalConversionTables" in out:
            out["SuperAnimalConversionTables"] = {
                k: dict(v) for k, v in self.conversion_tables.items()
            }
        return out


def load_dlc_config(path: str | os.PathLike) -> DLCConfig:
    """Read a DeepLabCut ``config.yaml`` (or the project folder holding one).

    Example::

        cfg = load_dlc_config("reaching/config.yaml")
        cfg.bodyparts, cfg.skeleton, cfg.conversion_tables
    """
    import yaml

    path = Path(path)
    if path.is_dir():
        path = path / CONFIG
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError as err:
        raise LabelFormatError(f"{path}: no such file") from err
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise LabelFormatError(f"{path}: not a readable YAML file ({first})") from err
    if not isinstance(raw, dict):
        raise LabelFormatError(f"{path}: not a DeepLabCut config (no keys)")
    individuals: list[str] = []
    key = "bodyparts"
    if raw.get("multianimalproject"):
        key = "multianimalbodyparts"
        individuals = _names(path, raw, "individuals")
        check_unique(path, individuals, "individual")
        unique = [str(u) for u in raw.get("uniquebodyparts") or []]
    else:
        unique = []
    bodyparts = _names(path, raw, key)
    check_unique(path, bodyparts + unique, "bodypart")
    skeleton = []
    for pair in raw.get("skeleton") or []:
        if not (isinstance(pair, (list, tuple)) and len(pair) == 2):
            raise LabelFormatError(f"{path}: skeleton entry {pair!r} is not a pair of bodyparts")
        unknown = [b for b in pair if b not in bodyparts]
        if unknown:
            raise LabelFormatError(f"{path}: skeleton names unknown bodypart {unknown[0]!r}")
        skeleton.append((str(pair[0]), str(pair[1])))
    tables = {}
    for name, table in (raw.get("SuperAnimalConversionTables") or {}).items():
        table = {str(k): str(v) for k, v in (table or {}).items()}
        unknown = [k for k in table if k not in bodyparts]
        if unknown:
            raise LabelFormatError(
                f"{path}: SuperAnimalConversionTables.{name} maps unknown bodypart {unknown[0]!r}"
            )
        tables[str(name)] = table
    video_sets = {str(k): dict(v or {}) for k, v in (raw.get("video_sets") or {}).items()}
    return DLCConfig(
        scorer=str(raw.get("scorer") or "unknown"),
        bodyparts=tuple(bodyparts),
        skeleton=skeleton,
        conversion_tables=tables,
        video_sets=video_sets,
        raw=raw,
        path=path,
        individuals=tuple(individuals),
        unique=tuple(unique),
    )


def _names(path: Path, raw: dict, key: str) -> list[str]:
    names = raw.get(key)
    if not isinstance(names, list) or not all(isinstance(b, str) for b in names):
        raise LabelFormatError(f"{path}: {key!r} must be a list of names")
    return names


def save_dlc_config(path: str | os.PathLike, config: DLCConfig) -> Path:
    """Write ``config`` as a ``config.yaml`` (atomically); keys DLC reads keep their names."""
    import yaml

    path = Path(path)
    if path.is_dir() or not path.suffix:
        path = path / CONFIG
    data = config.to_dict()
    data["project_path"] = str(path.parent.resolve())
    with atomic_path(path) as tmp:
        tmp.write_text(yaml.safe_dump(data, sort_keys=False, default_flow_style=None))
    return path
