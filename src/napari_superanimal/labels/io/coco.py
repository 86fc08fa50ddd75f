"""COCO keypoints JSON, the format most pose toolkits (mmpose, detectron2, DLC 3) train from.

One file holds ``images`` (``id``, ``file_name``, ``width``, ``height``), ``annotations`` (one
per animal: ``image_id``, ``category_id``, ``keypoints`` as flat ``[x, y, v]`` triples,
``num_keypoints``, ``bbox`` ``[x, y, w, h]``, ``area``, ``iscrowd``) and ``categories`` (``id``,
``name``, ``keypoints`` names, ``skeleton`` as 1-based index pairs). Visibility ``v``: 0 not
labeled (x = y = 0), 1 labeled but not visible (hidden here; x = y = 0 when no position is
known), 2 labeled and visible. Coordinates are written as stored, without a half-pixel shift.

The frame of an image is its ``frame_index`` when present (written here), else the number in
its file name (``img0042.png`` -> 42).

Example::

    from napari_superanimal.labels.io.coco import load_coco, save_coco
    save_coco("train.json", table, size=(640, 480))
    table = load_coco("train.json")
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ...atomic import atomic_path
from ...errors import LabelFormatError
from ..model import AnimalTables, LabelTable, check_unique, frame_number


def load_coco(path: str | os.PathLike, category: str | None = None) -> LabelTable | AnimalTables:
    """Read a COCO keypoints file: one annotation per image, or several animals' when each
    annotation names its ``individual`` (as :func:`save_coco` writes them; one table each).

    ``category`` names the category to read when the file has several. Every image becomes a
    row, in file order (images without an annotation are unlabeled rows).

    Example::

        table = load_coco("annotations/person_keypoints_val.json", category="mouse")
        table.keypoints, table.images, table.skeleton
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError as err:
        raise LabelFormatError(f"{path}: no such file") from err
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise LabelFormatError(f"{path}: not a readable JSON file ({err})") from err
    if not isinstance(data, dict):
        raise LabelFormatError(f"{path}: not a COCO file (top level is not an object)")
    for key in ("images", "annotations", "categories"):
        if not isinstance(data.get(key), list):
            raise LabelFormatError(f"{path}: missing {key!r} list")
    cat = _pick_category(path, data["categories"], category)
    names = cat["keypoints"]
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise LabelFormatError(f"{path}: category {cat.get('name')!r} keypoints must be names")
    check_unique(path, names, "keypoint")
    k = len(names)
    skeleton = []
    for pair in cat.get("skeleton") or []:
        if not (
            isinstance(pair, list)
            and len(pair) == 2
            and all(isinstance(i, int) and 1 <= i <= k for i in pair)
        ):
            raise LabelFormatError(
                f"{path}: skeleton entry {pair!r} is not a pair of 1-based keypoint indices (1-{k})"
            )
        skeleton.append((names[pair[0] - 1], names[pair[1] - 1]))
    rows: dict[object, int] = {}
    images, frames, sizes = [], [], []
    for im in data["images"]:
        if not isinstance(im, dict) or "id" not in im or "file_name" not in im:
            raise LabelFormatError(f"{path}: an image has no 'id' or 'file_name' ({im!r:.80})")
        if im["id"] in rows:
            raise LabelFormatError(f"{path}: image id {im['id']} appears twice")
        rows[im["id"]] = len(images)
        images.append(str(im["file_name"]))
        frame = im.get("frame_index")
        frames.append(int(frame) if isinstance(frame, int) else frame_number(im["file_name"]))
        w, h = im.get("width"), im.get("height")
        sizes.append((w, h) if isinstance(w, int) and isinstance(h, int) else None)
    tables: dict[str | None, LabelTable] = {}
    done: set[tuple] = set()
    for ann in data["annotations"]:
        if not isinstance(ann, dict):
            raise LabelFormatError(f"{path}: an annotation is not an object")
        if ann.get("category_id") != cat["id"]:
            continue
        where = f"annotation {ann.get('id', '?')}"
        for key in ("image_id", "keypoints"):
            if key not in ann:
                raise LabelFormatError(f"{path}: {where} has no {key!r}")
        if ann["image_id"] not in rows:
            raise LabelFormatError(f"{path}: {where} names image {ann['image_id']}, not listed")
        row = rows[ann["image_id"]]
        individual = ann.get("individual")
        if (row, individual) in done:
            whose = individual or "no named animal (name each in 'individual' to import several)"
            raise LabelFormatError(f"{path}: image {images[row]} has two annotations of {whose}")
        done.add((row, individual))
        if individual not in tables:
            tables[individual] = LabelTable.empty(names, frames, images)
            tables[individual].skeleton = skeleton
            tables[individual].meta["category"] = cat.get("name")
        _fill_row(path, where, tables[individual], row, ann["keypoints"])
    if None in tables and len(tables) > 1:
        raise LabelFormatError(f"{path}: some annotations name their individual, others do not")
    if None in tables or not tables:  # one animal
        table = tables.get(None) or LabelTable.empty(names, frames, images)
        table.skeleton, table.meta["category"] = skeleton, cat.get("name")
        return table.check(path, sizes=sizes)
    checked = {a: t.check(path, sizes=sizes) for a, t in tables.items()}
    return AnimalTables(tuple(checked), checked, list(skeleton))


def _pick_category(path: Path, categories: list, name: str | None) -> dict:
    usable = [c for c in categories if isinstance(c, dict) and "keypoints" in c and "id" in c]
    if name is not None:
        usable = [c for c in usable if c.get("name") == name]
        if not usable:
            raise LabelFormatError(f"{path}: no category {name!r} with keypoints")
    if not usable:
        raise LabelFormatError(f"{path}: no category with 'id' and 'keypoints'")
    if len(usable) > 1:
        raise LabelFormatError(
            f"{path}: {len(usable)} keypoint categories; name one "
            f"({', '.join(str(c.get('name')) for c in usable)})"
        )
    return usable[0]


def _fill_row(path: Path, where: str, table: LabelTable, row: int, flat) -> None:
    k = len(table.keypoints)
    if not isinstance(flat, list) or len(flat) != 3 * k:
        size = len(flat) if isinstance(flat, list) else type(flat).__name__
        raise LabelFormatError(
            f"{path}: {where} has {size} keypoint values; expected {3 * k} ({k} x, y, v triples)"
        )
    for i, name in enumerate(table.keypoints):
        x, y, v = flat[3 * i : 3 * i + 3]
        if v not in (0, 1, 2):
            raise LabelFormatError(f"{path}: {where}: {name} has visibility {v!r}, not 0, 1 or 2")
        if v == 0:
            continue
        if not all(isinstance(c, (int, float)) and math.isfinite(c) for c in (x, y)):
            raise LabelFormatError(
                f"{path}: {where}: {name} is labeled (v={v}) but its position is {x!r}, {y!r}"
            )
        if v == 2:
            table.xy[row, i] = (x, y)
        else:  # labeled, not visible: hidden, at (0, 0) when no position was known
            table.hidden[row, i] = True
            if (x, y) != (0, 0):
                table.xy[row, i] = (x, y)


def save_coco(
    path: str | os.PathLike,
    table: LabelTable | AnimalTables,
    *,
    size: tuple[int, int] | None = None,
    sizes: Sequence[tuple[int, int]] | None = None,
    n_frames: int | None = None,
    category: str = "animal",
) -> Path:
    """Write ``table`` as COCO keypoints JSON (atomically); returns the path. Several
    animals' labels (:class:`AnimalTables`) give one annotation per animal on each image,
    with the animal's name as ``individual`` (a key COCO readers ignore).

    Image file names are the table's, else ``<video>/img<frame>.png`` (zero-padded to the
    digits of ``n_frames``). ``size`` (width, height) or per-row ``sizes`` fill each image's
    width and height. Each image records its ``frame_index``.

    Example::

        save_coco("mouse_coco.json", table, size=(640, 480), n_frames=2330)
        sleap_io.load_coco("mouse_coco.json")
    """
    path = Path(path)
    animals = table if isinstance(table, AnimalTables) else None
    tables = {a: animals.tables[a] for a in animals.individuals} if animals else {None: table}
    table = animals.first if animals else table
    names = list(table.keypoints)
    if table.images is not None:
        files = list(table.images)
    else:
        width = max(1, math.ceil(math.log10(max(n_frames or max(table.frames) + 1, 1))))
        video = Path(table.video or "frames").stem
        files = [f"{video}/img{int(f):0{width}d}.png" for f in table.frames]
    if sizes is None:
        sizes = [size] * len(table)
    index = {n: i + 1 for i, n in enumerate(names)}
    images, annotations = [], []
    for row, frame in enumerate(table.frames):
        image = {"id": row + 1, "file_name": files[row]}
        if sizes[row] is not None:
            image["width"], image["height"] = int(sizes[row][0]), int(sizes[row][1])
        if frame >= 0:
            image["frame_index"] = int(frame)
        images.append(image)
        for individual, animal in tables.items():
            annotation = _annotation(animal, row)
            if annotation is None:
                continue
            annotation.update(id=len(annotations) + 1, image_id=row + 1)
            if individual is not None:
                annotation["individual"] = individual
            annotations.append(annotation)
    data = {
        "info": {
            "description": "keypoint labels",
            "version": "1.0",
            "contributor": "napari-superanimal",
        },
        "images": images,
        "annotations": annotations,
        "categories": [
            {
                "id": 1,
                "name": table.meta.get("category") or category,
                "supercategory": "animal",
                "keypoints": names,
                "skeleton": [[index[a], index[b]] for a, b in table.skeleton],
            }
        ],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=1))
    return path


def _annotation(table: LabelTable, row: int) -> dict | None:
    """One animal's COCO annotation on one image (None if it has no point there)."""
    flat, seen = [], []
    for i in range(len(table.keypoints)):
        x, y = table.xy[row, i]
        known = bool(np.isfinite([x, y]).all())
        if table.hidden[row, i]:
            flat += [float(x), float(y), 1] if known else [0.0, 0.0, 1]
        elif known:
            flat += [float(x), float(y), 2]
            seen.append((x, y))
        else:
            flat += [0.0, 0.0, 0]
    n_labeled = sum(1 for v in flat[2::3] if v > 0)
    if not n_labeled:
        return None
    if seen:
        lo, hi = np.min(seen, axis=0), np.max(seen, axis=0)
        bbox = [float(lo[0]), float(lo[1]), float(hi[0] - lo[0]), float(hi[1] - lo[1])]
    else:
        bbox = [0.0, 0.0, 0.0, 0.0]
    return {
        "category_id": 1,
        "keypoints": flat,
        "num_keypoints": n_labeled,
        "bbox": bbox,
        "area": bbox[2] * bbox[3],
        "iscrowd": 0,
    }
