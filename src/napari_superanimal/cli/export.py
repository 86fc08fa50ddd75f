"""``napari-superanimal export TARGET``: predictions and labels for DeepLabCut, SLEAP, COCO."""

from __future__ import annotations

import argparse

from ._common import add_project_target, session_for

HELP = "write predictions and labels: a DLC .h5 (default), a DLC project, .slp or COCO"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_project_target(p)
    p.add_argument("--out", help="output file or folder (default: in the project folder)")
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


def run(args: argparse.Namespace) -> int:
    from ..session.transfer import video_stem

    with session_for(args.target, args.video, args.project, restore_model=False) as session:
        if session.model_version is None and not session.labeled_frames():
            raise ValueError(f"{session.video.name}: nothing to export (no predictions, no labels)")
        stem = video_stem(session)  # a store built from images: the images' folder name
        folder = session.project.folder
        default = {
            "dlc-h5": folder / f"{stem}_{session.model_version or 'labels'}.h5",
            "dlc-project": folder / f"{stem}-dlc",
            "slp": folder / f"{stem}.slp",
            "coco": folder / "coco" / f"{stem}.json",
        }[args.format]
        smooth = {} if args.smooth is None else {"smooth": args.smooth, "window": args.window}
        written = session.export(
            args.out or default,
            format=args.format,
            with_labels=not args.predictions_only,
            scorer=args.scorer,
            **smooth,
        )
        print(written)
    return 0
