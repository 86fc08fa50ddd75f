"""``napari-superanimal predict VIDEO...``: keypoints on every frame, as a DeepLabCut ``.h5``.

``--model`` is a SuperAnimal dataset (weights from ``--weights``, the caches or the hub) or a
model version trained in the video's project (``light_resnet18-r2``). A SuperAnimal model runs
top-down as DeepLabCut runs it, on a crop around the box its zoo detector finds
(``--detector``, ``fasterrcnn_resnet50_fpn_v2`` by default), the animal followed from frame to
frame between detector runs (every ``--detect-every`` frames, 1 for every frame as DeepLabCut,
and whenever the animal is lost), or around a region (``--roi``, optionally ``--track``ed);
``--full-frame`` feeds it whole frames.
Versions trained here predict whole frames. One video runs here; several videos, or
``--scheduler``, run on a dask cluster, with the same detector. This process alone writes the
projects and files.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
from pathlib import Path

from ..zoo.registry import DETECT_EVERY
from ._common import add_quiet, add_store_options, frame_bar, stores_for

HELP = "predict keypoints on every frame; write a DLC .h5"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("video", nargs="+", help="one or more videos")
    p.add_argument(
        "--model",
        default="superanimal_topviewmouse",
        help="superanimal_topviewmouse (default), superanimal_quadruped, or a model version "
        "trained in the project (e.g. light_resnet18-r2)",
    )
    p.add_argument("--arch", default="hrnet_w32", help="pose architecture (default hrnet_w32)")
    p.add_argument("--weights", help="a snapshot file (default: local caches, then download)")
    add_store_options(p)
    p.add_argument(
        "--out",
        help="output .h5, a local file (default: <video>_<model>.h5 beside the store, "
        "or beside the video when the store is at a URL)",
    )
    p.add_argument("--project", help="project folder (default: <video>.superanimal beside it)")
    p.add_argument(
        "--detector",
        help="the SuperAnimal detector whose box each frame is cropped around: "
        "fasterrcnn_resnet50_fpn_v2 (default) or fasterrcnn_mobilenet_v3_large_fpn",
    )
    p.add_argument("--detector-weights", help="the detector's snapshot file")
    p.add_argument(
        "--detect-every",
        type=int,
        default=DETECT_EVERY,
        help=f"run the detector every N frames (default {DETECT_EVERY}) and whenever the animal "
        "is lost; between, its box follows the animal. 1: every frame, as DeepLabCut",
    )
    p.add_argument("--roi", help="crop every frame around this region X,Y,W,H (no detector)")
    p.add_argument(
        "--full-frame",
        action="store_true",
        help="feed the SuperAnimal model whole frames (no detector)",
    )
    p.add_argument(
        "--track",
        action="store_true",
        help="with --roi: crop around the previous frame's confident keypoints (the region "
        "again whenever the animal is lost)",
    )
    p.add_argument(
        "--individuals",
        type=int,
        help="animals to follow at once (default: the project's animals, else 1): each keeps "
        "its row from frame to frame; several write DeepLabCut's multi-animal .h5 (the "
        "project's individuals, else animal0, animal1, ...)",
    )
    p.add_argument(
        "--scheduler",
        help="a dask.distributed scheduler address (default for several videos: a local cluster)",
    )
    p.add_argument("--workers", type=int, help="local cluster size (default 2)")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--device", default="auto", help="auto (CUDA if present), cpu, cuda:0, ...")
    p.add_argument("--offline", action="store_true", help="never download weights")
    add_quiet(p)


def run(args: argparse.Namespace) -> int:
    from ..video import open_video

    if len(args.video) > 1 or args.scheduler or args.workers:
        return _predict_on_cluster(args)
    _check_box_options(args)
    video = open_video(args.video[0], store=stores_for(args)[args.video[0]])
    with project_and_model(args, video) as (project, model):
        n_animals = _animals(args, project)
        if n_animals > 1 or (project.individuals and not (args.roi or args.full_frame)):
            return _predict_animals(args, project, video, model, n_animals)
        boxes = _box_source(args, model)
        with frame_bar(len(video), f"predict {video.name}", args.quiet) as bar:
            poses = model.predict_video(
                video,
                batch_size=args.batch_size,
                progress=lambda done, total: bar.update(done - bar.n),
                boxes=boxes,
            )
        _save(args, project, video, model, poses)
    return 0


@contextlib.contextmanager
def project_and_model(args: argparse.Namespace, video):
    """The video's project, held open while predicting (no other process writes it
    meanwhile), and the model ``--model`` names in it; a keypoint mismatch fails before any
    work."""
    from ..labels.project import Project, project_folder
    from ..model.resolve import resolve_model
    from ..model.versions import ModelVersions
    from ..zoo.registry import DEFAULT_DETECTOR

    folder = Path(args.project) if args.project else project_folder(video)
    project = Project.open(folder) if Project.exists(folder) else None
    try:
        model = resolve_model(
            args.model,
            weights=args.weights,
            arch=args.arch,
            device=args.device,
            download=not args.offline,
            versions=ModelVersions(project) if project else None,
            detector=None if args.full_frame or args.roi else args.detector or DEFAULT_DETECTOR,
            detector_weights=args.detector_weights,
        )
    except BaseException:
        if project is not None:
            project.close()
        raise
    if project is not None:
        project.close()
    if model.top_down:
        model.detector = dataclasses.replace(model.detector, every=args.detect_every)
    with project_for(args, video, model) as project:
        yield project, model


@contextlib.contextmanager
def project_for(args: argparse.Namespace, video, model):
    """The project that receives ``video``'s predictions by ``model`` (created with the
    model's keypoints on first use), held open meanwhile; refuses other keypoints."""
    from ..labels.project import Project, project_folder

    folder = Path(args.project) if args.project else project_folder(video)
    project = Project.for_video(video, model.keypoints, folder)
    try:
        project.check_model(model.name, model.keypoints)
        yield project
    finally:
        project.close()


def _save(args, project, video, model, poses) -> None:
    from ..labels.io.dlc import save_dlc_predictions
    from ..labels.project import video_reference

    key = project.add_video(video_reference(video))
    named = project.individuals
    if named and poses.ndim == 3:  # one animal (a region, whole frames): the first one's
        from ..labels.predictions import in_animal_row

        poses = in_animal_row(poses, len(named), 0)
    if not named and poses.ndim == 4:
        _say_kept_in_file(poses.shape[1])
    else:
        project.save_predictions(key, model.name, poses)
    stem = Path(video.name).stem
    out = Path(args.out) if args.out else video.local_folder / f"{stem}_{model.name}.h5"
    individuals = (named or None) if poses.ndim == 4 else None
    save_dlc_predictions(out, poses, model.keypoints, scorer=model.name, individuals=individuals)
    print(out)


def _animals(args: argparse.Namespace, project) -> int:
    """How many animals to follow: ``--individuals``, else the project's (else 1); a number
    that is not the project's is refused."""
    named = project.individuals
    n = args.individuals or len(named) or 1
    if named and n != len(named):
        raise ValueError(
            f"{project.folder}: the project labels {len(named)} animals "
            f"({', '.join(named)}), not --individuals {n}"
        )
    return n


def _say_kept_in_file(n: int) -> None:
    import sys

    print(
        f"napari-superanimal: {n} animals a frame go to the .h5 only: the project labels one "
        "animal (name its animals with Session.set_individuals to keep them there)",
        file=sys.stderr,
    )


def _predict_animals(args: argparse.Namespace, project, video, model, n: int) -> int:
    """Several animals, each followed from frame to frame: kept in the project, as its
    individuals (in a project that has them), and written as a multi-animal ``.h5``."""
    if not model.top_down:
        raise ValueError("several animals need a SuperAnimal model and its detector")
    with frame_bar(len(video), f"predict {video.name}", args.quiet) as bar:
        poses = model.predict_animals(
            video, n, progress=lambda done, total: bar.update(done - bar.n)
        )
    _save(args, project, video, model, poses)
    return 0


def _predict_on_cluster(args: argparse.Namespace) -> int:
    """Many videos (or ``--scheduler``): ingest and predict on dask.distributed; this process
    alone writes projects and ``.h5`` files. The model is described to the workers
    (:class:`~napari_superanimal.cluster.ModelSpec`), never shipped."""
    from ..cluster import ModelSpec, predict_videos
    from ..video import open_video

    _check_box_options(args)
    if args.roi or args.track or (args.individuals or 1) > 1:
        raise ValueError("--roi, --track and --individuals work on one video without --scheduler")
    if args.out and len(args.video) > 1:
        raise ValueError("--out names one file: leave it out for several videos")
    stores = stores_for(args)
    # A bad file fails here, in one line, before any work; the workers fill the stores made here.
    videos = {path: open_video(path, store=stores[path], convert=False) for path in args.video}
    first = videos[args.video[0]]
    with project_and_model(args, first) as (_project, model):
        spec = ModelSpec.of(model, batch_size=args.batch_size)
    targets = {path: str(v.store_path) for path, v in videos.items()}
    total = sum(len(v) for v in videos.values())
    with frame_bar(total, f"predict {len(args.video)} videos", args.quiet) as bar:
        results = predict_videos(
            list(targets.values()),
            spec,
            scheduler=args.scheduler,
            n_workers=args.workers or 2,
            progress=lambda done, _total: bar.update(done - bar.n),
        )
    for path, video in videos.items():  # the model the first video's project named
        with project_for(args, video, model) as project:
            _save(args, project, video, model, results[targets[path]])
    return 0


def _check_box_options(args: argparse.Namespace) -> None:
    """Refuse box options that contradict each other, before any work."""
    if args.detector and args.roi:
        raise ValueError("give --detector or --roi, not both")
    if args.full_frame and (args.detector or args.roi or args.track):
        raise ValueError("--full-frame feeds whole frames: leave out --detector, --roi, --track")
    if args.detector and not args.model.startswith("superanimal_"):
        raise ValueError("--detector needs a SuperAnimal --model (its detector's dataset)")
    if args.detect_every < 1:
        raise ValueError(f"--detect-every is 1 or more frames, not {args.detect_every}")
    if args.individuals is not None and args.individuals < 1:
        raise ValueError(f"--individuals is 1 or more animals, not {args.individuals}")
    if (args.individuals or 1) > 1 and (args.roi or args.full_frame):
        raise ValueError(
            "--individuals follows the detector's animals: not with --roi, --full-frame"
        )


def _box_source(args: argparse.Namespace, model):
    """A fixed region (optionally tracked), or None: the model's own boxes (its detector's
    animal followed from frame to frame, or whole frames)."""
    from ..model.boxes import RoiBoxes, TrackedBoxes

    if args.roi:
        try:
            region = [float(v) for v in args.roi.split(",")]
        except ValueError:
            region = []
        if len(region) != 4:
            raise ValueError(f"--roi wants X,Y,W,H in pixels, got {args.roi!r}")
        seed = RoiBoxes(region)  # says what is wrong with an empty or inverted region
        return TrackedBoxes(seed) if args.track else seed
    if args.track and not model.top_down:
        raise ValueError("--track needs a first box: a SuperAnimal model's detector or --roi")
    return None  # a detector's animal is tracked already
