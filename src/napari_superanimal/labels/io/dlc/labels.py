"""DeepLabCut labeled data: ``labeled-data/<video stem>/CollectedData_<scorer>.h5`` and ``.csv``.

The file is a pandas DataFrame under the HDF5 key ``df_with_missing``; its columns are a
MultiIndex ``scorer / bodyparts / coords`` (``x``, ``y``), NaN where a bodypart is not labeled;
one row per extracted frame, indexed by the image path ``labeled-data/<video stem>/img<frame,
zero-padded>.png``, either as one string (DeepLabCut before 2.3) or as a three-level MultiIndex
of its parts (2.3 and later). A ``.csv`` copy sits beside it; it is read when there is no ``.h5``.

Example::

    from napari_superanimal.labels.io.dlc import load_dlc_labels, save_dlc_labels
    table = load_dlc_labels("labeled-data/reachingvideo1/CollectedData_Mackenzie.h5")
    save_dlc_labels("CollectedData_Mackenzie.h5", table, scorer="Mackenzie")
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ....atomic import atomic_path
from ....errors import LabelFormatError
from ...model import (
    UNIQUE,
    AnimalTables,
    LabelTable,
    check_keypoints,
    check_unique,
    frame_number,
)

H5_KEY = "df_with_missing"
LABELED_DATA = "labeled-data"


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
    table = table_from_frame(path, df)
    table.meta["index_style"] = index_style
    if bodyparts is not None:
        check_keypoints(path, table.keypoints, bodyparts)
    sizes = _image_sizes(path.parent, table.images) if check_images else None
    table.check(path, sizes=sizes)
    return table


def load_dlc_animals(
    path: str | os.PathLike,
    bodyparts: Sequence[str] | None = None,
    individuals: Sequence[str] | None = None,
    check_images: bool = True,
    unique: Sequence[str] | None = None,
) -> AnimalTables:
    """Read a multi-animal ``CollectedData_<scorer>.h5`` (or ``.csv``; columns ``scorer /
    individuals / bodyparts / coords``) into one checked table per individual.
    ``individuals`` (the config's) must be the file's set; its unique bodyparts (individual
    ``single``) become ``unique`` (the config's ``uniquebodyparts``, when given, must be their
    set).

    Example::

        animals = load_dlc_animals("labeled-data/mice/CollectedData_me.h5")
        animals.individuals, animals.tables["mouse1"].xy.shape
    """
    path = Path(path)
    df, index_style = _read_collected(path)
    found = file_individuals(path, df)
    if not found:
        raise LabelFormatError(f"{path}: no 'individuals' column level: a single-animal file")
    scene = UNIQUE in found
    found = [a for a in found if a != UNIQUE]
    if individuals is not None and set(individuals) != set(found):
        raise LabelFormatError(
            f"{path}: labels individuals {found}, but its config names {list(individuals)}"
        )
    sizes = None
    tables = {}
    for individual in found:
        table = table_from_frame(path, df.xs(individual, level="individuals", axis=1))
        table.meta["index_style"] = index_style
        if bodyparts is not None:
            check_keypoints(path, table.keypoints, bodyparts)
        if sizes is None and check_images:
            sizes = _image_sizes(path.parent, table.images)
        tables[individual] = table.check(path, sizes=sizes)
    kept = None
    if scene:
        kept = table_from_frame(path, df.xs(UNIQUE, level="individuals", axis=1))
        kept.meta["index_style"] = index_style
        if unique is not None:
            check_keypoints(path, kept.keypoints, unique)
        kept = kept.check(path, sizes=sizes)
    elif unique:
        kept = LabelTable.empty(unique, tables[found[0]].frames, tables[found[0]].images)
    return AnimalTables(tuple(found), tables, unique=kept)


def file_individuals(path: Path, df: pd.DataFrame | None = None) -> list[str]:
    """The ``individuals`` column level of a CollectedData file, in its order (empty when the
    file has none: a single-animal file)."""
    if df is None:
        df, _ = _read_collected(path)
    if not isinstance(df.columns, pd.MultiIndex) or "individuals" not in df.columns.names:
        return []
    return [str(i) for i in dict.fromkeys(df.columns.get_level_values("individuals"))]


def _read_collected(path: Path) -> tuple[pd.DataFrame, str]:
    if not path.is_file():
        raise LabelFormatError(f"{path}: no such file")
    df = _read_csv(path) if path.suffix == ".csv" else read_h5(path)
    if isinstance(df.index, pd.MultiIndex):
        style = "multi"
        images = ["/".join(str(p) for p in row) for row in df.index]
    else:
        style = "path"
        images = [str(p).replace("\\", "/") for p in df.index]
    df = df.copy()
    df.index = pd.Index(images, dtype=object)
    return df, style


def read_h5(path: Path) -> pd.DataFrame:
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


COORDS = ("x", "y", "likelihood")


def table_from_frame(path: Path, df: pd.DataFrame) -> LabelTable:
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
                f"{path}: labels for {len(individuals)} animals; read it with load_dlc_animals"
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
        coord = str(col[c])
        if coord not in COORDS:
            # pandas renames a repeated CSV column "x" to "x.1": a bodypart written twice
            base = coord.split(".")[0]
            if base in COORDS:
                raise LabelFormatError(f"{path}: bodypart {col[b]!r} appears twice ({base} column)")
            raise LabelFormatError(
                f"{path}: bodypart {col[b]!r} has a column {coord!r}; expected x, y, likelihood"
            )
        coords_of[col[b]].append(coord)
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


def dlc_animals_frame(
    animals: AnimalTables, scorer: str, index_style: str = "multi"
) -> pd.DataFrame:
    """Several animals' tables as a multi-animal CollectedData DataFrame: columns ``scorer /
    individuals / bodyparts / coords``, the individuals in ``animals``' order, then the unique
    bodyparts under ``single``."""
    parts = [dlc_labels_frame(animals.tables[a], scorer, index_style) for a in animals.individuals]
    keys = list(animals.individuals)
    if animals.unique is not None and animals.unique.keypoints:
        parts.append(dlc_labels_frame(animals.unique, scorer, index_style))
        keys.append(UNIQUE)
    df = pd.concat(parts, axis=1, keys=keys, names=["individuals"])
    return df.reorder_levels(["scorer", "individuals", "bodyparts", "coords"], axis=1)


def save_dlc_labels(
    path: str | os.PathLike,
    table: LabelTable | AnimalTables,
    scorer: str | None = None,
    index_style: str | None = None,
    csv: bool = True,
) -> Path:
    """Write ``CollectedData_<scorer>.h5`` (key ``df_with_missing``) and its ``.csv`` (with an
    ``individuals`` column level for :class:`AnimalTables`, as DeepLabCut's multi-animal
    projects have).

    ``scorer`` defaults to the one the table was read with; ``index_style`` to the file's it
    was read from, else DeepLabCut 2.3's MultiIndex of path parts.

    Example::

        save_dlc_labels("labeled-data/mouse/CollectedData_me.h5", table, scorer="me")
        pd.read_hdf("labeled-data/mouse/CollectedData_me.h5", "df_with_missing")
    """
    path = Path(path)
    scorer = scorer or table.meta.get("scorer") or "napari-superanimal"
    style = index_style or table.meta.get("index_style", "multi")
    if isinstance(table, AnimalTables):
        df = dlc_animals_frame(table, scorer, style)
    else:
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
