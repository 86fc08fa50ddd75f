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
from ..model import LabelTable, check_unique


@dataclass
class SlpTables:
    """One video's labels and predictions from an ``.slp`` file."""

    labels: LabelTable
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
    video of the file. Frames with two user instances are refused (single animal only).

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
    user: dict[int, np.ndarray] = {}
    hidden: dict[int, np.ndarray] = {}
    pred: dict[int, np.ndarray] = {}
    for lf in labels.labeled_frames:
        if lf.video is not target:
            continue
        frame = int(lf.frame_idx)
        if len(lf.user_instances) > 1:
            raise LabelFormatError(
                f"{path}: frame {frame} has {len(lf.user_instances)} labeled animals; "
                "multi-animal files are not supported yet"
            )
        for inst in lf.user_instances:
            # an invisible point with coordinates is hidden (occluded) and keeps its position;
            # one without coordinates was never placed
            user[frame] = inst.numpy(invisible_as_nan=False).astype(np.float64)
            visible = np.asarray(inst.points["visible"], bool)
            hidden[frame] = ~visible & np.isfinite(user[frame]).all(-1)
        if lf.predicted_instances:
            best = max(lf.predicted_instances, key=lambda p: np.nan_to_num(p.score, nan=-1))
            pred[frame] = best.numpy(scores=True).astype(np.float64)
    frames = sorted(user)
    table = LabelTable.empty(names, frames)
    for row, frame in enumerate(frames):
        table.xy[row] = user[frame]
        table.hidden[row] = hidden[frame]
    table.skeleton, table.video = edges, _video_name(target)
    table = table.check(path)
    predictions = None
    if pred:
        pframes = sorted(pred)
        predictions = LabelTable.empty(names, pframes)
        predictions.scores = np.full((len(pframes), len(names)), np.nan)
        for row, frame in enumerate(pframes):
            predictions.xy[row] = pred[frame][:, :2]
            predictions.scores[row] = pred[frame][:, 2]
        predictions.skeleton, predictions.video = edges, table.video
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


def _video_name(video) -> str:
    filename = video.filename
    if isinstance(filename, list):  # an image sequence: name it by its folder
        return Path(filename[0]).parent.name if filename else ""
    return Path(filename).name


def save_slp(
    path: str | os.PathLike,
    labels: LabelTable | None,
    predictions: LabelTable | None = None,
    *,
    video: str | os.PathLike | Sequence[str],
    skeleton: Sequence[tuple[str, str]] = (),
    shape: tuple[int, int, int, int] | None = None,
) -> Path:
    """Write labels (user instances) and predictions (predicted instances with per-point
    scores; the instance score is their mean) of one video as an ``.slp``.

    ``video`` is the video file SLEAP should open (or a list of image files, one per frame);
    ``shape`` ``(frames, height, width, channels)`` is recorded for when it cannot.

    Example::

        save_slp("mouse.slp", labels, predictions, video="mouse.mp4")
        sleap_io.load_slp("mouse.slp")
    """
    sio = _sleap_io()
    path = Path(path)
    tables = [t for t in (labels, predictions) if t is not None]
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
    instances: dict[int, list] = {}
    if labels is not None:
        for row, frame in enumerate(labels.frames):
            xy = labels.xy[row].copy()
            inst = sio.Instance.from_numpy(np.where(labels.hidden[row, :, None], np.nan, xy), sk)
            # hidden: invisible, with its last position when known (SLEAP keeps both)
            for k in np.flatnonzero(labels.hidden[row]):
                inst.points["xy"][k] = xy[k]
                inst.points["visible"][k] = False
            instances.setdefault(int(frame), []).append(inst)
    if predictions is not None:
        scores = predictions.scores
        if scores is None:
            raise ValueError("predictions need scores")
        for row, frame in enumerate(predictions.frames):
            xy, s = predictions.xy[row], scores[row]
            if not np.isfinite(xy).any():
                continue
            pi = sio.PredictedInstance.from_numpy(
                xy, sk, point_scores=np.nan_to_num(s, nan=0.0), score=float(np.nanmean(s))
            )
            instances.setdefault(int(frame), []).append(pi)
    frames = [
        sio.LabeledFrame(video=vid, frame_idx=f, instances=insts)
        for f, insts in sorted(instances.items())
    ]
    out = sio.Labels(labeled_frames=frames, videos=[vid], skeletons=[sk])
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
