"""DeepLabCut files: project ``config.yaml``, ``CollectedData_<scorer>.h5`` / ``.csv`` labels,
and pose tables (predictions) that DeepLabCut, SLEAP and ``movement`` read.

What DeepLabCut writes, and what is read and written here:

- ``config.yaml``: ``scorer``, ``bodyparts``, ``skeleton`` (pairs of names), ``video_sets``
  (video path -> ``crop: "0, W, 0, H"``) and, for SuperAnimal fine-tuning,
  ``SuperAnimalConversionTables`` (``{superanimal name: {bodypart: SuperAnimal keypoint}}``).
  Keys this module does not interpret are kept as they are.
- ``labeled-data/<video stem>/CollectedData_<scorer>.h5``: a pandas DataFrame under the HDF5
  key ``df_with_missing``; columns a MultiIndex ``scorer / bodyparts / coords`` (``x``, ``y``),
  NaN where a bodypart is not labeled; one row per extracted frame, indexed by the image path
  ``labeled-data/<video stem>/img<frame, zero-padded>.png``, either as one string (DeepLabCut
  before 2.3) or as a three-level MultiIndex of its parts (2.3 and later). A ``.csv`` copy sits
  beside it; it is read when there is no ``.h5``.
- Predictions (``<video>DLC_<scorer>.h5``): columns ``scorer / individuals / bodyparts /
  coords`` with coords ``x, y, likelihood``, one row per video frame.

Every reader validates what it reads (see :mod:`.table`); every writer writes atomically.

Example::

    from napari_superanimal.labels.io.dlc import load_dlc_project, save_dlc_labels
    project = load_dlc_project("reaching-Mackenzie-2018-08-30/")
    table = project.labels["reachingvideo1"]          # a LabelTable: xy (N, K, 2), NaN = unlabeled
    save_dlc_labels("CollectedData_Mackenzie.h5", table, scorer="Mackenzie")
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ...atomic import atomic_path
from ...errors import LabelFormatError
from .table import LabelTable, check_keypoints, check_unique, frame_number

H5_KEY = "df_with_missing"
LABELED_DATA = "labeled-data"
CONFIG = "config.yaml"


# -- predictions ------------------------------------------------------------------------------
def predictions_frame(
    poses: np.ndarray, keypoints: Sequence[str], scorer: str, individual: str = "animal0"
) -> pd.DataFrame:
    """``(T, K, 3)`` x, y, likelihood -> DeepLabCut's multi-index DataFrame."""
    poses = np.asarray(poses, dtype=np.float64)
    if poses.ndim != 3 or poses.shape[1:] != (len(keypoints), 3):
        raise ValueError(f"poses must be (T, {len(keypoints)}, 3), got {poses.shape}")
    columns = pd.MultiIndex.from_product(
        [[scorer], [individual], list(keypoints), ["x", "y", "likelihood"]],
        names=["scorer", "individuals", "bodyparts", "coords"],
    )
    return pd.DataFrame(poses.reshape(len(poses), -1), columns=columns)


def save_predictions_h5(
    path: str | os.PathLike,
    poses: np.ndarray,
    keypoints: Sequence[str],
    scorer: str,
    individual: str = "animal0",
    metadata: dict | None = None,
) -> Path:
    """Write predictions as a DeepLabCut ``.h5`` (atomically: temp file + rename).

    ``metadata`` (JSON-able, e.g. the smoothing applied) goes into the HDF5 attribute
    ``napari_superanimal`` of the table, as JSON text (:func:`read_export_metadata`); DLC and
    ``movement`` ignore it.

    Example::

        save_predictions_h5("mouseDLC_superanimal.h5", poses, ["nose", "tail_base"], "sa")
        movement.io.load_poses.from_dlc_file("mouseDLC_superanimal.h5")
    """
    path = Path(path)
    frame = predictions_frame(poses, keypoints, scorer, individual)
    with atomic_path(path) as tmp:
        frame.to_hdf(tmp, key=H5_KEY, mode="w", format="table")
        if metadata:
            with pd.HDFStore(tmp, mode="a") as store:
                store.get_storer(H5_KEY).attrs.napari_superanimal = json.dumps(metadata)
    return path


def read_export_metadata(path: str | os.PathLike) -> dict:
    """What :func:`save_predictions_h5` recorded as ``metadata`` ({} if nothing)."""
    with pd.HDFStore(path, mode="r") as store:
        text = getattr(store.get_storer(H5_KEY).attrs, "napari_superanimal", None)
    return json.loads(text) if text else {}


# -- config.yaml ------------------------------------------------------------------------------
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

    @classmethod
    def new(
        cls,
        bodyparts: Sequence[str],
        scorer: str = "napari-superanimal",
        task: str = "superanimal",
        skeleton: Sequence[tuple[str, str]] = (),
    ) -> DLCConfig:
        """A fresh single-animal config with DeepLabCut's usual defaults."""
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
        return cls(scorer, tuple(bodyparts), [tuple(p) for p in skeleton], {}, {}, raw)

    def to_dict(self) -> dict:
        """The config as written: ``raw`` with the interpreted keys brought up to date."""
        out = dict(self.raw)
        out["scorer"] = self.scorer
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
    if raw.get("multianimalproject"):
        raise LabelFormatError(f"{path}: multi-animal DeepLabCut projects are not supported yet")
    bodyparts = raw.get("bodyparts")
    if not isinstance(bodyparts, list) or not all(isinstance(b, str) for b in bodyparts):
        raise LabelFormatError(f"{path}: 'bodyparts' must be a list of names")
    check_unique(path, bodyparts, "bodypart")
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
    )


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


# -- CollectedData ----------------------------------------------------------------------------
def load_dlc_labels(
    path: str | os.PathLike, bodyparts: Sequence[str] | None = None, check_images: bool = True
) -> LabelTable:
    """Read ``CollectedData_<scorer>.h5`` (or ``.csv``) into a :class:`LabelTable`.

    Rows keep the file's order and image paths; frames come from the image names
    (``img0042.png`` -> 42). ``bodyparts`` (the config's) must match the file's set. With
    ``check_images``, labels outside their PNG (when the PNG is there) are refused.

    Example::

        table = load_dlc_labels("labeled-data/reachingvideo1/CollectedData_Mackenzie.h5")
        table.keypoints, table.images[0], table.xy.shape
    """
    path = Path(path)
    df, index_style = _read_collected(path)
    table = _table_from_frame(path, df)
    table.meta["index_style"] = index_style
    if bodyparts is not None:
        check_keypoints(path, table.keypoints, bodyparts)
    sizes = _image_sizes(path.parent, table.images) if check_images else None
    table.check(path, sizes=sizes)
    return table


def _read_collected(path: Path) -> tuple[pd.DataFrame, str]:
    if not path.is_file():
        raise LabelFormatError(f"{path}: no such file")
    df = _read_csv(path) if path.suffix == ".csv" else _read_h5(path)
    if isinstance(df.index, pd.MultiIndex):
        style = "multi"
        images = ["/".join(str(p) for p in row) for row in df.index]
    else:
        style = "path"
        images = [str(p).replace("\\", "/") for p in df.index]
    df = df.copy()
    df.index = pd.Index(images, dtype=object)
    return df, style


def _read_h5(path: Path) -> pd.DataFrame:
    try:
        with pd.HDFStore(path, mode="r") as store:
            keys = [k.lstrip("/") for k in store.keys()]  # noqa: SIM118 (HDFStore's own list)
            key = H5_KEY if H5_KEY in keys else (keys[0] if len(keys) == 1 else None)
            if key is None:
                raise LabelFormatError(
                    f"{path}: no '{H5_KEY}' table (has: {', '.join(keys) or 'nothing'})"
                )
            df = store[key]
    except LabelFormatError:
        raise
    except Exception as err:  # tables raises many kinds for foreign or truncated files
        raise LabelFormatError(f"{path}: not a readable pandas HDF5 file ({err})") from err
    if not isinstance(df, pd.DataFrame):
        raise LabelFormatError(f"{path}: holds a {type(df).__name__}, not a label table")
    return df


def _read_csv(path: Path) -> pd.DataFrame:
    try:
        with path.open() as fh:
            head = [next(fh, "") for _ in range(5)]
    except (OSError, UnicodeDecodeError) as err:
        raise LabelFormatError(f"{path}: cannot be read ({err})") from err
    n_header = 4 if head[1].startswith("individuals") else 3
    first = head[n_header].split(",")[0] if len(head) > n_header else ""
    index_col = [0, 1, 2] if first == LABELED_DATA else 0
    try:
        df = pd.read_csv(path, index_col=index_col, header=list(range(n_header)))
    except (ValueError, IndexError, pd.errors.ParserError) as err:
        first_line = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise LabelFormatError(f"{path}: not a DeepLabCut label CSV ({first_line})") from err
    return df


def _table_from_frame(path: Path, df: pd.DataFrame) -> LabelTable:
    columns = df.columns
    if not isinstance(columns, pd.MultiIndex) or columns.nlevels not in (3, 4):
        raise LabelFormatError(
            f"{path}: columns must be scorer / bodyparts / coords, got {columns.nlevels} level(s)"
        )
    names = list(columns.names)
    if columns.nlevels == 4:
        if "individuals" not in names:
            raise LabelFormatError(f"{path}: 4 column levels but no 'individuals' level")
        individuals = columns.get_level_values("individuals").unique()
        if len(individuals) > 1:
            raise LabelFormatError(
                f"{path}: labels for {len(individuals)} animals; multi-animal files are not "
                "supported yet"
            )
        df = df.droplevel("individuals", axis=1)
        columns = df.columns
        names = [n for n in names if n != "individuals"]
    # levels by name when named (pandas, DLC), else by position
    level = {n: i for i, n in enumerate(names) if n}
    s, b, c = level.get("scorer", 0), level.get("bodyparts", 1), level.get("coords", 2)
    scorers = columns.get_level_values(s).unique()
    if len(scorers) != 1:
        raise LabelFormatError(f"{path}: labels from {len(scorers)} scorers; expected one")
    if columns.duplicated().any():
        dup = columns[columns.duplicated()][0]
        raise LabelFormatError(f"{path}: bodypart {dup[b]!r} appears twice ({dup[c]} column)")
    bodyparts = list(dict.fromkeys(columns.get_level_values(b)))
    check_unique(path, bodyparts, "bodypart")
    coords_of = {bp: [] for bp in bodyparts}
    for col in columns:
        coords_of[col[b]].append(col[c])
    for bp, coords in coords_of.items():
        for need in ("x", "y"):
            if need not in coords:
                raise LabelFormatError(f"{path}: bodypart {bp!r} has no {need!r} column")
    try:
        values = df.apply(pd.to_numeric, errors="raise")
    except (ValueError, TypeError) as err:
        raise LabelFormatError(f"{path}: a coordinate is not a number ({err})") from err
    n, k = len(df), len(bodyparts)
    xy = np.empty((n, k, 2))
    scorer = scorers[0]
    scores = None
    for i, bp in enumerate(bodyparts):
        for j, coord in enumerate(("x", "y")):
            key = [None, None, None]
            key[s], key[b], key[c] = scorer, bp, coord
            xy[:, i, j] = values[tuple(key)].to_numpy(dtype=np.float64)
        if "likelihood" in coords_of[bp]:
            key = [None, None, None]
            key[s], key[b], key[c] = scorer, bp, "likelihood"
            if scores is None:
                scores = np.full((n, k), np.nan)
            scores[:, i] = values[tuple(key)].to_numpy(dtype=np.float64)
    images = [str(p) for p in df.index]
    parts = images[0].split("/") if images else []
    video = parts[-2] if len(parts) >= 2 else path.parent.name
    table = LabelTable(
        keypoints=tuple(bodyparts),
        frames=[frame_number(p) for p in images],
        xy=xy,
        hidden=np.zeros((n, k), bool),
        images=images,
        video=video,
        scores=scores,
    )
    table.meta["scorer"] = str(scorer)
    return table


def _image_sizes(folder: Path, images: Sequence[str] | None) -> list[tuple[int, int] | None]:
    """(width, height) of each row's PNG beside the labels, None where it is absent."""
    from PIL import Image

    sizes: list[tuple[int, int] | None] = []
    for name in images or []:
        file = folder / name.split("/")[-1]
        try:
            with Image.open(file) as im:
                sizes.append(im.size)
        except (OSError, ValueError):
            sizes.append(None)
    return sizes


def dlc_labels_frame(
    table: LabelTable, scorer: str, index_style: str = "multi", video: str | None = None
) -> pd.DataFrame:
    """A :class:`LabelTable` as DeepLabCut's CollectedData DataFrame (hidden points -> NaN:
    DeepLabCut has no "occluded" mark). ``index_style`` "multi" (DLC >= 2.3) or "path"."""
    if table.images is None:
        raise ValueError("the table needs image paths (see image_names)")
    columns = pd.MultiIndex.from_product(
        [[scorer], list(table.keypoints), ["x", "y"]], names=["scorer", "bodyparts", "coords"]
    )
    xy = np.where(table.hidden[..., None], np.nan, table.xy)
    images = list(table.images)
    if video is not None:
        images = [f"{LABELED_DATA}/{video}/{p.split('/')[-1]}" for p in images]
    if index_style == "multi":
        index = pd.MultiIndex.from_tuples([tuple(p.split("/")) for p in images])
    elif index_style == "path":
        index = pd.Index(images, dtype=object)
    else:
        raise ValueError(f"index_style is 'multi' or 'path', not {index_style!r}")
    return pd.DataFrame(xy.reshape(len(table), -1), index=index, columns=columns)


def save_dlc_labels(
    path: str | os.PathLike,
    table: LabelTable,
    scorer: str | None = None,
    index_style: str | None = None,
    csv: bool = True,
) -> Path:
    """Write ``CollectedData_<scorer>.h5`` (key ``df_with_missing``) and its ``.csv``.

    ``scorer`` defaults to the one the table was read with; ``index_style`` to the file's it
    was read from, else DeepLabCut 2.3's MultiIndex of path parts.

    Example::

        save_dlc_labels("labeled-data/mouse/CollectedData_me.h5", table, scorer="me")
        pd.read_hdf("labeled-data/mouse/CollectedData_me.h5", "df_with_missing")
    """
    path = Path(path)
    scorer = scorer or table.meta.get("scorer") or "napari-superanimal"
    style = index_style or table.meta.get("index_style", "multi")
    df = dlc_labels_frame(table, scorer, style)
    path.parent.mkdir(parents=True, exist_ok=True)
    # pandas' "table" format cannot hold MultiIndex rows and columns together: DeepLabCut
    # writes those in the default "fixed" format (and string-indexed ones as "table")
    fmt = "fixed" if style == "multi" else "table"
    with atomic_path(path.with_suffix(".h5")) as tmp:
        df.to_hdf(tmp, key=H5_KEY, mode="w", format=fmt)
    if csv:
        with atomic_path(path.with_suffix(".csv")) as tmp:
            df.to_csv(tmp)
    return path.with_suffix(".h5")


def image_names(video: str, frames: Sequence[int], n_frames: int) -> list[str]:
    """DeepLabCut's image paths for video frames: ``labeled-data/<video>/img<NNN>.png``, the
    number zero-padded to ``ceil(log10(n_frames))`` digits as its frame extraction does."""
    width = max(1, math.ceil(math.log10(max(n_frames, 1))))
    return [f"{LABELED_DATA}/{video}/img{int(f):0{width}d}.png" for f in frames]


# -- whole projects ---------------------------------------------------------------------------
@dataclass
class DLCProject:
    """A DeepLabCut project on disk: its config and labels by video (labeled-data folder)."""

    folder: Path
    config: DLCConfig
    labels: dict[str, LabelTable]

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
    labels: dict[str, LabelTable] = {}
    data = folder / LABELED_DATA
    for sub in sorted(data.iterdir()) if data.is_dir() else []:
        if not sub.is_dir():
            continue
        file = _collected_file(sub, config.scorer)
        if file is None:
            continue
        table = load_dlc_labels(file, config.bodyparts, check_images=check_images)
        table.skeleton = list(config.skeleton)
        table.video = sub.name
        labels[sub.name] = table
    if not labels:
        raise LabelFormatError(f"{folder}: no labeled-data/*/CollectedData_*.h5 or .csv")
    return DLCProject(folder, config, labels)


def _collected_file(folder: Path, scorer: str) -> Path | None:
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
    labels: Mapping[str, LabelTable],
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
        check_keypoints(f"{folder} ({video})", table.keypoints, config.bodyparts)
        table = table.reorder(config.bodyparts)
        sub = folder / LABELED_DATA / video
        sub.mkdir(parents=True, exist_ok=True)
        names = [f"{LABELED_DATA}/{video}/{p.split('/')[-1]}" for p in table.images or []]
        table.images = names
        save_dlc_labels(sub / f"CollectedData_{config.scorer}.h5", table, config.scorer)
        size = None
        if frames is not None and video in frames:
            for row, name in enumerate(names):
                image = frames[video](row)
                size = image.shape[1], image.shape[0]
                _write_png(folder / name, image)
        key = (videos or {}).get(video) or str(folder / "videos" / f"{video}.mp4")
        entry = config.video_sets.setdefault(key, {})
        if size and "crop" not in entry:
            entry["crop"] = f"0, {size[0]}, 0, {size[1]}"
    return save_dlc_config(folder / CONFIG, config)


def _write_png(path: Path, image: np.ndarray) -> None:
    from PIL import Image

    image = np.asarray(image, dtype=np.uint8)
    with atomic_path(path) as tmp:
        Image.fromarray(image.squeeze()).save(tmp, format="PNG")
