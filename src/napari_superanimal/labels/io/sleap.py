"""SLEAP ``.slp`` files, read and written through ``sleap-io``.

A single-animal ``.slp`` holds, per labeled frame of a video, at most one user ``Instance``
(the labels: a point per skeleton node with a ``visible`` flag) and any number of
``PredictedInstance`` (the model's points with a score each, and an instance score). Here:
user instances <-> labels (an invisible point with coordinates is "hidden", one without is
unlabeled), predicted instances <-> predictions (``LabelTable.scores``), the skeleton with its
edges, and the video by file name (or the list of images a frame store was built from).

Example::

    from napari_superanimal.labels.io.sleap import load_slp, save_slp
    save_slp("mouse.slp", labels, predictions=preds, video="mouse.mp4", skeleton=[("nose", "tail")])
    loaded = load_slp("mouse.slp")      # .labels and .predictions as LabelTables, .video
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...atomic import atomic_path
from ...errors import LabelFormatError
from ..model import AnimalTables, LabelTable, check_unique


@dataclass
class SlpTables:
    """One video's labels and predictions from an ``.slp`` file."""

    labels: LabelTable | AnimalTables
    predictions: LabelTable | None
    video: str | list[str]
    videos: list[str | list[str]]


def _sleap_io():
    try:
        import sleap_io
    except ImportError as err:  # an optional dependency (the "formats" extra)
        raise LabelFormatError(
            "SLEAP files need sleap-io: pip install 'napari-superanimal[formats]'"
        ) from err
    return sleap_io


def load_slp(path: str | os.PathLike, video: str | int | None = None) -> SlpTables:
    """Read the labels and predictions of one video of an ``.slp`` file.

    ``video`` picks it by index or file name (its base name is enough); by default the only
    video of the file. User instances on tracks are several animals' labels, one
    :class:`AnimalTables` table per track; without tracks a frame with two user instances is
    refused (whose would they be?).

    Example::

        tables = load_slp("labels.v001.slp")
        tables.labels.frames, tables.labels.xy.shape, tables.predictions.scores
    """
    sio = _sleap_io()
    path = Path(path)
    if not path.is_file():
        raise LabelFormatError(f"{path}: no such file")
    try:
        labels = sio.load_slp(str(path), open_videos=False)
    except Exception as err:  # h5py and sleap-io raise many kinds for foreign files
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise LabelFormatError(f"{path}: not a readable SLEAP file ({first})") from err
    if not labels.videos:
        raise LabelFormatError(f"{path}: holds no video")
    target = _pick_video(path, labels.videos, video)
    skeletons = labels.skeletons
    if len(skeletons) != 1:
        raise LabelFormatError(f"{path}: has {len(skeletons)} skeletons; expected one")
    skeleton = skeletons[0]
    names = list(skeleton.node_names)
    check_unique(path, names, "node")
    edges = [(names[a], names[b]) for a, b in skeleton.edge_inds]
    mine = [lf for lf in labels.labeled_frames if lf.video is target]
    if any(inst.track is not None for lf in mine for inst in lf.user_instances):
        table = _tracked_labels(path, mine, labels.tracks, names, edges, _video_name(target))
    else:
        table = _one_animal_labels(path, mine, names, edges, _video_name(target))
    pred: dict[int, np.ndarray] = {}
    for lf in mine:
        if lf.predicted_instances:
            best = max(lf.predicted_instances, key=lambda p: np.nan_to_num(p.score, nan=-1))
            pred[int(lf.frame_idx)] = best.numpy(scores=True).astype(np.float64)
    video_name = _video_name(target)
    predictions = None
    if pred:
        pframes = sorted(pred)
        predictions = LabelTable.empty(names, pframes)
        predictions.scores = np.full((len(pframes), len(names)), np.nan)
        for row, frame in enumerate(pframes):
            predictions.xy[row] = pred[frame][:, :2]
            predictions.scores[row] = pred[frame][:, 2]
        predictions.skeleton, predictions.video = edges, video_name
        predictions = predictions.check(path)
    return SlpTables(table, predictions, target.filename, [v.filename for v in labels.videos])


def _pick_video(path: Path, videos, video):
    if video is None:
        if len(videos) > 1:
            raise LabelFormatError(
                f"{path}: holds {len(videos)} videos; name one "
                f"({', '.join(_video_name(v) for v in videos)})"
            )
        return videos[0]
    if isinstance(video, int):
        if not 0 <= video < len(videos):
            raise LabelFormatError(f"{path}: no video {video} (it holds {len(videos)})")
        return videos[video]
    for v in videos:
        if video in (v.filename, _video_name(v), Path(_video_name(v)).stem):
            return v
    raise LabelFormatError(
        f"{path}: no video {video!r} (has: {', '.join(_video_name(v) for v in videos)})"
    )


def _user_points(inst) -> tuple[np.ndarray, np.ndarray]:
    """A user instance's ``(K, 2)`` points and which are hidden: an invisible point with
    coordinates is hidden (occluded) and keeps its position; one without was never placed."""
    xy = inst.numpy(invisible_as_nan=False).astype(np.float64)
    visible = np.asarray(inst.points["visible"], bool)
    return xy, ~visible & np.isfinite(xy).all(-1)


def _one_animal_labels(path: Path, frames, names, edges, video: str) -> LabelTable:
    user: dict[int, tuple] = {}
    for lf in frames:
        if len(lf.user_instances) > 1:
            raise LabelFormatError(
                f"{path}: frame {int(lf.frame_idx)} has {len(lf.user_instances)} labeled "
                "animals on no tracks; give each animal a track in SLEAP to import them"
            )
        for inst in lf.user_instances:
            user[int(lf.frame_idx)] = _user_points(inst)
    table = _filled(names, user)
    table.skeleton, table.video = edges, video
    return table.check(path)


def _tracked_labels(path: Path, frames, tracks, names, edges, video: str) -> AnimalTables:
    per: dict[str, dict[int, tuple]] = {}
    for lf in frames:
        frame = int(lf.frame_idx)
        for inst in lf.user_instances:
            if inst.track is None:
                raise LabelFormatError(
                    f"{path}: frame {frame} has a labeled animal on no track, beside tracked "
                    "ones; give it a track in SLEAP"
                )
            points = per.setdefault(inst.track.name, {})
            if frame in points:
                raise LabelFormatError(
                    f"{path}: frame {frame} has two labeled animals on track {inst.track.name}"
                )
            points[frame] = _user_points(inst)
    known = [t.name for t in tracks]
    order = [n for n in known if n in per] + [n for n in per if n not in known]
    rows = sorted({f for points in per.values() for f in points})
    tables = {}
    for name in order:
        table = _filled(names, per[name], rows)
        table.skeleton, table.video = edges, video
        tables[name] = table.check(path)
    return AnimalTables(tuple(order), tables, list(edges))


def _filled(names, points: dict[int, tuple], frames=None) -> LabelTable:
    frames = sorted(points) if frames is None else frames
    table = LabelTable.empty(names, frames)
    for row, frame in enumerate(frames):
        if frame in points:
            table.xy[row], table.hidden[row] = points[frame]
    return table


def _video_name(video) -> str:
    filename = video.filename
    if isinstance(filename, list):  # an image sequence: name it by its folder
        return Path(filename[0]).parent.name if filename else ""
    return Path(filename).name


def save_slp(
    path: str | os.PathLike,
    labels: LabelTable | AnimalTables | None,
    predictions: LabelTable | dict[str, LabelTable] | None = None,
    *,
    video: str | os.PathLike | Sequence[str],
    skeleton: Sequence[tuple[str, str]] = (),
    shape: tuple[int, int, int, int] | None = None,
) -> Path:
    """Write labels (user instances) and predictions (predicted instances with per-point
    scores; the instance score is their mean) of one video as an ``.slp``. Several animals
    (``labels`` an :class:`AnimalTables`, ``predictions`` one table per individual) become
    SLEAP tracks named after the individuals, each instance on its animal's track.

    ``video`` is the video file SLEAP should open (or a list of image files, one per frame);
    ``shape`` ``(frames, height, width, channels)`` is recorded for when it cannot.

    Example::

        save_slp("mouse.slp", labels, predictions, video="mouse.mp4")
        sleap_io.load_slp("mouse.slp")
    """
    sio = _sleap_io()
    path = Path(path)
    user = _by_track(labels)
    guesses = _by_track(predictions)
    tables = [*user.values(), *guesses.values()]
    if not tables:
        raise ValueError("nothing to save: give labels, predictions or both")
    keypoints = tables[0].keypoints
    for t in tables:
        if t.keypoints != keypoints:
            raise ValueError("labels and predictions must have the same keypoints")
    sk = sio.Skeleton(list(keypoints), edges=[tuple(e) for e in skeleton])
    filename = [str(v) for v in video] if not isinstance(video, (str, os.PathLike)) else str(video)
    # the video is not opened here (it may be elsewhere); what SLEAP needs to open it later is
    # recorded as its backend metadata (an image list as sleap-io's ImageVideo)
    metadata: dict = {"shape": list(shape)} if shape else {}
    if shape:
        metadata["grayscale"] = False
    if isinstance(filename, list):
        metadata.update(type="ImageVideo", filename=filename[0], filenames=filename)
        if shape:
            metadata.update(height_=shape[1], width_=shape[2], channels_=shape[3])
    vid = sio.Video(filename=filename, backend_metadata=metadata, open_backend=False)
    names = [n for n in dict.fromkeys([*user, *guesses]) if n is not None]
    tracks = {n: sio.Track(name=n) for n in names}
    instances: dict[int, list] = {}
    for name, table in user.items():
        for row, frame in enumerate(table.frames):
            xy = table.xy[row].copy()
            if not np.isfinite(xy).any() and not table.hidden[row].any():
                continue  # this animal has no point on a frame another animal is labeled on
            inst = sio.Instance.from_numpy(
                np.where(table.hidden[row, :, None], np.nan, xy), sk, track=tracks.get(name)
            )
            # hidden: invisible, with its last position when known (SLEAP keeps both)
            for k in np.flatnonzero(table.hidden[row]):
                inst.points["xy"][k] = xy[k]
                inst.points["visible"][k] = False
            instances.setdefault(int(frame), []).append(inst)
    for name, table in guesses.items():
        scores = table.scores
        if scores is None:
            raise ValueError("predictions need scores")
        for row, frame in enumerate(table.frames):
            xy, s = table.xy[row], scores[row]
            if not np.isfinite(xy).any():
                continue
            pi = sio.PredictedInstance.from_numpy(
                xy,
                sk,
                point_scores=np.nan_to_num(s, nan=0.0),
                score=float(np.nanmean(s)),
                track=tracks.get(name),
            )
            instances.setdefault(int(frame), []).append(pi)
    frames = [
        sio.LabeledFrame(video=vid, frame_idx=f, instances=insts)
        for f, insts in sorted(instances.items())
    ]
    out = sio.Labels(
        labeled_frames=frames, videos=[vid], skeletons=[sk], tracks=list(tracks.values())
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        # sleap-io picks the format from the suffix: keep .slp on the temporary file
        slp_tmp = tmp.with_name(tmp.name + ".slp")
        try:
            sio.save_slp(out, str(slp_tmp), verbose=False)
            os.replace(slp_tmp, tmp)
        finally:
            slp_tmp.unlink(missing_ok=True)
    return path


def _by_track(tables) -> dict[str | None, LabelTable]:
    """One table per track name (None: no tracks, one animal)."""
    if tables is None:
        return {}
    if isinstance(tables, AnimalTables):
        return {a: tables.tables[a] for a in tables.individuals}
    if isinstance(tables, dict):
        return dict(tables)
    return {None: tables}
