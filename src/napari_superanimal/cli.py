"""The ``napari-superanimal`` command line.

Subcommands: ``open`` (a video in napari), ``ingest`` (convert to a frame store), ``predict``
(keypoints on every frame, whole frames or top-down crops, as a DeepLabCut ``.h5``),
``train`` (one fine-tuning round), ``export`` (a DLC ``.h5``, a DLC project, SLEAP ``.slp`` or
COCO JSON), ``import`` (labels from DLC, SLEAP or COCO), ``suggest`` (frames to label
next), ``adapt`` (video adaptation, no labels), ``demo``, ``register-reader``.
Bad input ends with a one-line reason on stderr and exit status 1.

Example::

    napari-superanimal ingest mouse.mp4          # prints the store path
    napari-superanimal open mouse.mp4
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from . import __version__
from .errors import SuperAnimalError
from .progress import frame_bar

PROG = "napari-superanimal"


def _stores_for(args: argparse.Namespace) -> dict:
    """Each video's store: ``--store``, ``<--store-root>/<stem>.frames.zarr``, or None (the
    default beside the video). Folders or fsspec URLs."""
    from .cluster import store_locations

    if args.store and args.store_root:
        raise ValueError("give --store (one store) or --store-root (a folder or URL), not both")
    if args.store and len(args.video) > 1:
        raise ValueError("--store names one store: use --store-root for several videos")
    if args.store:
        return {args.video[0]: args.store}
    return dict(zip(args.video, store_locations(args.video, args.store_root), strict=True))


def _cmd_ingest(args: argparse.Namespace) -> int:
    from .video import open_video

    stores = _stores_for(args)
    if len(args.video) > 1 or args.scheduler:
        from .cluster import ingest_videos

        # A bad file fails here, in one line; the workers then fill the stores made here.
        targets = [str(open_video(path, store=stores[path], convert=False, codec=args.codec,
                                  quality=args.quality, overwrite=args.overwrite).store_path)
                   for path in args.video]  # fmt: skip
        for store in ingest_videos(targets, scheduler=args.scheduler,
                                   n_workers=args.workers or 2):  # fmt: skip
            print(store)
        return 0
    video = open_video(
        args.video[0],
        store=stores[args.video[0]],
        convert=False,
        codec=args.codec,
        quality=args.quality,
        overwrite=args.overwrite,
    )
    if not video.complete:
        with frame_bar(len(video), f"ingest {video.name}", args.quiet) as bar:
            for done in video.convert_iter():
                bar.update(done - bar.n)
    print(video.store_path)
    return 0


def _cmd_open(args: argparse.Namespace) -> int:
    from .video import open_video

    open_video(args.video, convert=False)  # check it first: a bad file fails here, in one line
    import napari

    viewer = napari.Viewer()
    viewer.open(args.video, plugin=PROG)
    napari.run()
    return 0


def _cmd_predict(args: argparse.Namespace) -> int:
    from .model.inference import load_model

    model = load_model(
        args.model,
        weights=args.weights,
        arch=args.arch,
        device=args.device,
        download=not args.offline,
    )
    if len(args.video) > 1 or args.scheduler or args.workers:
        return _predict_on_cluster(args, model)
    boxes = _box_source(args, model.device)
    from .video import open_video

    video = open_video(args.video[0], store=_stores_for(args)[args.video[0]])
    with (
        _project_for(args, video, model) as proj,
        frame_bar(len(video), f"predict {video.name}", args.quiet) as bar,
    ):
        poses = model.predict_video(
            video,
            batch_size=args.batch_size,
            progress=lambda done, total: bar.update(done - bar.n),
            boxes=boxes,
        )
        _save_predictions(args, proj, video, model, poses)
    return 0


def _project_for(args, video, model):
    """The video's project, held open while predicting: a keypoint mismatch fails before any
    work, and no other process writes the project meanwhile."""
    from pathlib import Path

    from .labels.project import PROJECT_SUFFIX, Project

    stem = Path(video.name).stem
    folder = args.project or video.local_folder / (stem + PROJECT_SUFFIX)
    proj = Project.for_video(video.source_path or video.store_path, model.keypoints, folder)
    try:
        proj.check_model(model.name, model.keypoints)
    except BaseException:
        proj.close()
        raise
    return proj


def _save_predictions(args, proj, video, model, poses) -> None:
    from pathlib import Path

    from .labels.io.dlc import save_predictions_h5

    proj.save_predictions(video.name, model.name, poses)
    stem = Path(video.name).stem
    out = Path(args.out) if args.out else video.local_folder / f"{stem}_{model.name}.h5"
    save_predictions_h5(out, poses, model.keypoints, scorer=model.name)
    print(out)


def _predict_on_cluster(args: argparse.Namespace, model) -> int:
    """Many videos (or ``--scheduler``): ingest and predict on dask.distributed; this process
    alone writes projects and ``.h5`` files."""
    from .cluster import ModelSpec, predict_videos
    from .video import open_video

    if args.detector or args.roi or args.track:
        raise ValueError("--detector, --roi and --track work on one video without --scheduler")
    if args.out and len(args.video) > 1:
        raise ValueError("--out names one file: leave it out for several videos")
    stores = _stores_for(args)
    # A bad file fails here, in one line, before any work; the workers fill the stores made here.
    targets = {path: str(open_video(path, store=stores[path], convert=False).store_path)
               for path in args.video}  # fmt: skip
    spec = ModelSpec(args.model, args.arch, str(model.weights) if model.weights else None,
                     tuple(model.keypoints), args.batch_size)  # fmt: skip
    total = sum(len(open_video(t, convert=False)) for t in targets.values())
    with frame_bar(total, f"predict {len(args.video)} videos", args.quiet) as bar:
        results = predict_videos(
            list(targets.values()), spec, scheduler=args.scheduler, n_workers=args.workers or 2,
            progress=lambda done, _total: bar.update(done - bar.n),
        )  # fmt: skip
    for path in args.video:
        video = open_video(path, store=stores[path], convert=False)
        with _project_for(args, video, model) as proj:
            _save_predictions(args, proj, video, model, results[targets[path]])
    return 0


def _box_source(args: argparse.Namespace, device):
    """Whole frames (default), a detector's boxes, a fixed region, optionally tracked."""
    from .model.boxes import DetectorBoxes, RoiBoxes, TrackedBoxes

    if args.detector and args.roi:
        raise ValueError("give --detector or --roi, not both")
    seed = None
    if args.roi:
        try:
            region = [float(v) for v in args.roi.split(",")]
        except ValueError:
            region = []
        if len(region) != 4:
            raise ValueError(f"--roi wants X,Y,W,H in pixels, got {args.roi!r}")
        seed = RoiBoxes(region)  # says what is wrong with an empty or inverted region
    elif args.detector:
        from .model.detector import load_detector

        detector = load_detector(
            args.model,
            args.detector,
            weights=args.detector_weights,
            device=device,
            download=not args.offline,
        )
        seed = DetectorBoxes(detector)
    if args.track:
        if seed is None:
            raise ValueError("--track needs a first box: give --detector or --roi")
        return TrackedBoxes(seed)
    return seed


def _cmd_train(args: argparse.Namespace) -> int:
    """One fine-tuning round on a video's labels: the code behind the widget's button."""
    with _session_for(args.target, args.video, args.project) as session:
        if args.model:
            session.use_model(args.model)
        with frame_bar(args.steps, f"train {session.video.name}", args.quiet) as bar:
            result = session.finetune(
                steps=args.steps,
                time_budget=args.minutes * 60 if args.minutes else None,
                lr=args.lr,
                batch_size=args.batch_size,
                arch=args.arch,
                input_scale=args.input_scale,
                seed=args.seed,
                callback=lambda p: bar.update(p.step - bar.n),
            )
    before, after = result.heldout_before, result.heldout_after
    fmt = lambda h: "n/a" if h["pixels"] is None else f"{h['pixels']:.2f} px"  # noqa: E731
    print(f"{result.version}: held-out error {fmt(before)} -> {fmt(after)}")
    return 0


def _cmd_adapt(args: argparse.Namespace) -> int:
    """Unsupervised video adaptation: the code behind the widget's "Adapt to video" button."""
    from .metrics.jitter import describe

    with _session_for(args.target, args.video, args.project) as session:
        if args.model:
            session.use_model(args.model)
        if session.model is None:
            raise ValueError(f"{session.video.name}: no model to adapt: train or predict first")
        bar = frame_bar(0, f"adapt {session.video.name}", args.quiet)
        bar.unit = "step"

        def on_step(p):
            bar.total = p.steps
            bar.update(p.step - bar.n)

        with bar:
            result = session.adapt(
                pseudo_threshold=args.pseudo_threshold, every=args.every, epochs=args.epochs,
                steps=args.steps, time_budget=args.minutes * 60 if args.minutes else None,
                lr=args.lr, seed=args.seed, callback=on_step,
            )  # fmt: skip
    jitter = result.info.get("jitter") or {}
    print(f"{result.version} (adapted): {describe(jitter.get('before'), jitter.get('after'))}")
    return 0


def _session_for(target: str, video_name: str | None = None, project: str | None = None):
    """A Session on a video (project beside it, or ``project``) or on a project folder's video."""
    import json
    from pathlib import Path

    from .labels.project import PROJECT_FILE
    from .session import Session

    path = Path(target)
    video = path
    if (path / PROJECT_FILE).is_file():  # a project folder: its first (or named) video
        project = path
        videos = json.loads((path / PROJECT_FILE).read_text()).get("videos", {})
        name = video_name or next(iter(videos), None)
        if name not in videos:
            raise ValueError(f"{path}: no video {name!r} in this project")
        video = Path(videos[name]["path"])
    return Session.open(video, project=project)


def _cmd_export(args: argparse.Namespace) -> int:
    with _session_for(args.target, args.video, args.project) as session:
        if session.model_version is None and not session.labeled_frames():
            raise ValueError(f"{session.video.name}: nothing to export (no predictions, no labels)")
        from .labels.io.transfer import video_stem

        stem = video_stem(session)  # a store built from images: the images' folder name
        folder = session.project.folder
        default = {
            "dlc-h5": folder / f"{stem}_{session.model_version or 'labels'}.h5",
            "dlc-project": folder / f"{stem}-dlc",
            "slp": folder / f"{stem}.slp",
            "coco": folder / "coco" / f"{stem}.json",
        }[args.format]
        out = args.out or default
        smooth = {} if args.smooth is None else {"smooth": args.smooth, "window": args.window}
        print(session.export(out, with_labels=not args.predictions_only, format=args.format,
                             scorer=args.scorer, **smooth))  # fmt: skip
    return 0


def _cmd_import(args: argparse.Namespace) -> int:
    """Labels from a DLC project / CollectedData file / .slp / COCO .json into a video's
    project; TARGET may also be a folder of images (a DLC project without its video)."""
    from pathlib import Path

    from .labels.project import PROJECT_FILE, PROJECT_SUFFIX
    from .video.images import list_images

    target = Path(args.target)
    if target.is_dir() and not (target / PROJECT_FILE).is_file() and list_images(target):
        from .labels.io.transfer import read_labels
        from .session import Session
        from .video.images import images_to_store

        table, _ = read_labels(args.source, target.name)  # keypoints for a new project
        store = images_to_store(target, args.store, pad=args.pad)
        project = args.project or Path(store).with_name(target.name + PROJECT_SUFFIX)
        session = Session.open(store, project=project, keypoints=table.keypoints)
    else:
        session = _session_for(args.target, args.video, args.project)
    with session:
        n = session.import_labels(args.source)
        print(f"{args.source}: {n} frames imported into {session.video.name} "
              f"(project {session.project.folder})")  # fmt: skip
    return 0


def _cmd_suggest(args: argparse.Namespace) -> int:
    """Frames to label next, best first, one per line (labeled frames never appear)."""
    with _session_for(args.target, args.video, args.project) as session:
        if args.strategy in ("confidence", "jumps") and session.model_version is None:
            raise ValueError(
                f"{session.video.name}: no predictions for --strategy {args.strategy}; "
                f"run `{PROG} predict` first"
            )
        for frame in session.suggest(n=args.n, strategy=args.strategy):
            print(frame)
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from .demo.run import run_demo

    return run_demo(out_dir=args.out, headless=args.headless, n_frames=args.frames)


def _cmd_register_reader(args: argparse.Namespace) -> int:
    from .settings import register_reader

    owned = register_reader(force=args.force)
    if not args.quiet:
        print(f"napari opens {', '.join(sorted(owned)) or 'nothing new'} with {PROG}")
    return 0


def _add_store_options(p: argparse.ArgumentParser) -> None:
    """--store and --store-root: where frame stores go (folders or fsspec URLs)."""
    p.add_argument(
        "--store",
        help="one video's store: a folder or fsspec URL such as s3://bucket/a.frames.zarr "
        "(default: <video>.frames.zarr beside it)",
    )
    p.add_argument(
        "--store-root",
        help="put each video's store in this folder or under this URL prefix, as "
        "<root>/<video stem>.frames.zarr (e.g. s3://bucket/frames)",
    )


def _add_project_target(p: argparse.ArgumentParser) -> None:
    """TARGET, --project and --video: how train and export find a project and its video."""
    p.add_argument("target", help="a video (its project beside it) or a project folder")
    p.add_argument("--project", help="project folder, when TARGET is a video elsewhere")
    p.add_argument("--video", help="which video of the project (default: its first)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("open", help="open a video (or .frames.zarr store) in napari")
    p.add_argument("video")
    p.set_defaults(func=_cmd_open)

    p = sub.add_parser("ingest", help="convert videos into frame stores; print their paths")
    p.add_argument("video", nargs="+", help="one or more videos (several: on a dask cluster)")
    p.add_argument("--scheduler", help="a dask.distributed scheduler address")
    p.add_argument("--workers", type=int, help="local cluster size (default 2)")
    _add_store_options(p)
    p.add_argument(
        "--codec",
        choices=("jpeg", "lossless"),
        default="jpeg",
        help="frame codec: jpeg (default, ~25x smaller) or lossless (bit-exact)",
    )
    p.add_argument("--quality", type=int, default=90, help="JPEG quality 1-100 (default 90)")
    p.add_argument("--overwrite", action="store_true", help="rebuild an existing store")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_ingest)

    p = sub.add_parser("predict", help="predict keypoints on every frame; write a DLC .h5")
    p.add_argument("video", nargs="+", help="one or more videos")
    p.add_argument(
        "--model",
        default="superanimal_topviewmouse",
        help="superanimal_topviewmouse (default) or superanimal_quadruped",
    )
    p.add_argument("--arch", default="hrnet_w32", help="pose architecture (default hrnet_w32)")
    p.add_argument("--weights", help="a snapshot file (default: local caches, then download)")
    _add_store_options(p)
    p.add_argument(
        "--out", help="output .h5, a local file (default: <video>_<model>.h5 beside the store, "
        "or beside the video when the store is at a URL)"
    )  # fmt: skip
    p.add_argument(
        "--project", help="project folder (default: <video>.superanimal beside the store)"
    )
    p.add_argument(
        "--detector",
        help="top-down: crop each frame around the box of this SuperAnimal detector "
        "(fasterrcnn_resnet50_fpn_v2 or fasterrcnn_mobilenet_v3_large_fpn)",
    )
    p.add_argument("--detector-weights", help="the detector's snapshot file")
    p.add_argument("--roi", help="top-down: crop every frame around this region X,Y,W,H")
    p.add_argument(
        "--track",
        action="store_true",
        help="crop around the previous frame's confident keypoints (first box from "
        "--detector or --roi, again whenever the animal is lost)",
    )
    p.add_argument(
        "--scheduler",
        help="a dask.distributed scheduler address (default for several videos: a local cluster)",
    )
    p.add_argument("--workers", type=int, help="local cluster size (default 2)")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--device", default="auto", help="auto (CUDA if present), cpu, cuda:0, ...")
    p.add_argument("--offline", action="store_true", help="never download weights")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_predict)

    p = sub.add_parser(
        "train", help="fine-tune on a video's labels: one round, saved as a new model version"
    )
    _add_project_target(p)
    p.add_argument("--model", help="start from this model version (default: the active one)")
    p.add_argument("--arch", help="architecture when starting from scratch (light_resnet18)")
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--minutes", type=float, help="stop after this many minutes")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument(
        "--input-scale", type=float,
        help="resize frames by this before the network (default: the model's; for a new one, "
        "a longer side of at most 448 px)",
    )  # fmt: skip
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser(
        "export", help="write predictions (with your labels on their frames) as a DLC .h5"
    )
    _add_project_target(p)
    p.add_argument("--out", help="output .h5 (default: in the project folder)")
    p.add_argument(
        "--predictions-only", action="store_true", help="the model's outputs, without labels"
    )
    p.add_argument(
        "--format",
        choices=("dlc-h5", "dlc-project", "slp", "coco"),
        default="dlc-h5",
        help="dlc-h5 (default: predictions with labels, for movement/DLC), dlc-project (a "
        "DeepLabCut project folder with CollectedData and PNGs), slp (SLEAP), coco (COCO JSON)",
    )
    p.add_argument("--scorer", help="DeepLabCut scorer name for dlc-project")
    p.add_argument(
        "--smooth",
        choices=("median", "savgol"),
        help="smooth confident predictions over time (dlc-h5; recorded in the file's "
        "'napari_superanimal' HDF5 attribute); default: off",
    )
    p.add_argument("--window", type=int, default=5, help="smoothing window in frames (odd, 5)")
    p.set_defaults(func=_cmd_export)

    p = sub.add_parser(
        "adapt",
        help="adapt the model to a video without labels (SuperAnimal video adaptation)",
    )
    _add_project_target(p)
    p.add_argument("--model", help="start from this model version (default: the active one)")
    p.add_argument("--pseudo-threshold", type=float, default=0.1,
                   help="keep keypoints scoring at least this (DeepLabCut: 0.1)")  # fmt: skip
    p.add_argument("--every", type=int, default=10,
                   help="pseudo-label every N-th frame (DeepLabCut: 10)")  # fmt: skip
    p.add_argument("--epochs", type=float, default=4,
                   help="passes over the pseudo-labeled frames (DeepLabCut: 4)")  # fmt: skip
    p.add_argument("--steps", type=int, help="training steps (default: from --epochs)")
    p.add_argument("--minutes", type=float, help="stop after this many minutes")
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_adapt)

    p = sub.add_parser(
        "import",
        help="import labels (DLC project or CollectedData .h5/.csv, SLEAP .slp, COCO .json)",
    )
    _add_project_target(p)
    p.add_argument("source", help="the label file or DeepLabCut project folder")
    p.add_argument(
        "--store", help="frame store to build when TARGET is a folder of images (default beside)"
    )
    p.add_argument(
        "--pad", action="store_true", help="images of different sizes: pad them to the largest"
    )
    p.set_defaults(func=_cmd_import)

    p = sub.add_parser("suggest", help="print the frames worth labeling next, best first")
    _add_project_target(p)
    p.add_argument("-n", type=int, default=20, help="how many frames (default 20)")
    p.add_argument(
        "--strategy",
        choices=("combined", "confidence", "jumps", "diversity", "uniform"),
        default="combined",
        help="combined (default): low confidence and temporal jumps, spread over different "
        "kinds of image; or one signal alone; uniform: evenly spaced",
    )
    p.set_defaults(func=_cmd_suggest)

    p = sub.add_parser("demo", help="run the demo on a synthetic video (no download)")
    p.add_argument("--out", default="demo-output", help="output folder (default demo-output)")
    p.add_argument(
        "--headless",
        action="store_true",
        help="do not open a window: render a screenshot (under Xvfb) instead",
    )
    p.add_argument("--frames", type=int, default=300, help="length of the synthetic video")
    p.set_defaults(func=_cmd_demo)

    p = sub.add_parser(
        "register-reader", help="make napari open video files with this plugin (no chooser dialog)"
    )
    p.add_argument("--force", action="store_true", help="also take patterns given to others")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=_cmd_register_reader)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``napari-superanimal`` console script."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (SuperAnimalError, ValueError) as err:
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
