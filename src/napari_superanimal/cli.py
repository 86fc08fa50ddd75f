"""The ``napari-superanimal`` command line.

Subcommands: ``open`` (a video in napari), ``ingest`` (convert to a frame store), ``predict``
(keypoints on every frame, whole frames or top-down crops, as a DeepLabCut ``.h5``),
``train`` (one fine-tuning round), ``demo``, ``register-reader``. Bad input ends with a
one-line reason on stderr and exit status 1.

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


def _cmd_ingest(args: argparse.Namespace) -> int:
    from .video import open_video

    video = open_video(
        args.video,
        store=args.store,
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
    from pathlib import Path

    from .labels.io.dlc import save_predictions_h5
    from .labels.project import PROJECT_SUFFIX, Project
    from .model.inference import load_model
    from .video import open_video

    model = load_model(
        args.model,
        weights=args.weights,
        arch=args.arch,
        device=args.device,
        download=not args.offline,
    )
    boxes = _box_source(args, model.device)
    video = open_video(args.video)
    stem = Path(video.name).stem
    folder = args.project or video.store_path.with_name(stem + PROJECT_SUFFIX)
    out = Path(args.out) if args.out else video.store_path.with_name(f"{stem}_{model.name}.h5")
    # Held open while predicting: a keypoint mismatch fails before any work, and no other
    # process writes the project meanwhile.
    with Project.for_video(video.source_path or video.store_path, model.keypoints, folder) as proj:
        proj.check_model(model.name, model.keypoints)
        with frame_bar(len(video), f"predict {video.name}", args.quiet) as bar:
            poses = model.predict_video(
                video,
                batch_size=args.batch_size,
                progress=lambda done, total: bar.update(done - bar.n),
                boxes=boxes,
            )
        proj.save_predictions(video.name, model.name, poses)
    save_predictions_h5(out, poses, model.keypoints, scorer=model.name)
    print(out)
    return 0


def _box_source(args: argparse.Namespace, device):
    """Whole frames (default), a detector's boxes, a fixed region, optionally tracked."""
    from .model.boxes import DetectorBoxes, RoiBoxes, TrackedBoxes

    if args.detector and args.roi:
        raise ValueError("give --detector or --roi, not both")
    seed = None
    if args.roi:
        try:
            seed = RoiBoxes([float(v) for v in args.roi.split(",")])
        except ValueError as err:
            raise ValueError(f"--roi wants X,Y,W,H in pixels, got {args.roi!r}") from err
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
    import json
    from pathlib import Path

    from .labels.project import PROJECT_FILE
    from .session import Session

    target = Path(args.target)
    project = args.project
    video = target
    if (target / PROJECT_FILE).is_file():  # a project folder: its first (or named) video
        project = target
        videos = json.loads((target / PROJECT_FILE).read_text()).get("videos", {})
        name = args.video or next(iter(videos), None)
        if name not in videos:
            raise ValueError(f"{target}: no video {name!r} in this project")
        video = Path(videos[name]["path"])
    with Session.open(video, project=project) as session:
        if args.model:
            session.use_model(args.model)
        with frame_bar(args.steps, f"train {session.video.name}", args.quiet) as bar:
            result = session.finetune(
                steps=args.steps,
                time_budget=args.minutes * 60 if args.minutes else None,
                lr=args.lr,
                batch_size=args.batch_size,
                arch=args.arch,
                seed=args.seed,
                callback=lambda p: bar.update(p.step - bar.n),
            )
    before, after = result.heldout_before, result.heldout_after
    fmt = lambda h: "n/a" if h["pixels"] is None else f"{h['pixels']:.2f} px"  # noqa: E731
    print(f"{result.version}: held-out error {fmt(before)} -> {fmt(after)}")
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("open", help="open a video (or .frames.zarr store) in napari")
    p.add_argument("video")
    p.set_defaults(func=_cmd_open)

    p = sub.add_parser("ingest", help="convert a video into a frame store; print its path")
    p.add_argument("video")
    p.add_argument("--store", help="store path (default: <video>.frames.zarr beside it)")
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
    p.add_argument("video")
    p.add_argument(
        "--model",
        default="superanimal_topviewmouse",
        help="superanimal_topviewmouse (default) or superanimal_quadruped",
    )
    p.add_argument("--arch", default="hrnet_w32", help="pose architecture (default hrnet_w32)")
    p.add_argument("--weights", help="a snapshot file (default: local caches, then download)")
    p.add_argument("--out", help="output .h5 (default: <video>_<model>.h5 beside the store)")
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
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--device", default="auto", help="auto (CUDA if present), cpu, cuda:0, ...")
    p.add_argument("--offline", action="store_true", help="never download weights")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_predict)

    p = sub.add_parser(
        "train", help="fine-tune on a video's labels: one round, saved as a new model version"
    )
    p.add_argument("target", help="a video (its project beside it) or a project folder")
    p.add_argument("--project", help="project folder, when TARGET is a video elsewhere")
    p.add_argument("--video", help="which video of the project (default: its first)")
    p.add_argument("--model", help="start from this model version (default: the active one)")
    p.add_argument("--arch", help="architecture when starting from scratch (light_resnet18)")
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--minutes", type=float, help="stop after this many minutes")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_train)

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
