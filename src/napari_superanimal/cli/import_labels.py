"""``napari-superanimal import TARGET SOURCE``: labels from DeepLabCut, SLEAP or COCO files.

TARGET may also be a folder of images (a DeepLabCut project without its video): a frame store is
built from them first.
"""

from __future__ import annotations

import argparse

from ._common import add_project_target, session_for

NAME = "import"
HELP = "import labels (DLC project or CollectedData .h5/.csv, SLEAP .slp, COCO .json)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_project_target(p)
    p.add_argument("source", help="the label file or DeepLabCut project folder")
    p.add_argument(
        "--store", help="frame store to build when TARGET is a folder of images (default beside)"
    )
    p.add_argument(
        "--pad", action="store_true", help="images of different sizes: pad them to the largest"
    )


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..labels.project import Project
    from ..video.images import list_images

    target = Path(args.target)
    if target.is_dir() and not Project.exists(target) and list_images(target):
        from ..labels.io.main import load_labels
        from ..session import Session
        from ..video.images import images_to_store

        table, _ = load_labels(args.source, target.name)  # keypoints for a new project
        store = images_to_store(target, args.store, pad=args.pad)
        session = Session.open(store, project=args.project, keypoints=table.keypoints)
    else:
        session = session_for(args.target, args.video, args.project, restore_model=False)
    with session:
        n = session.import_labels(args.source)
        print(
            f"{args.source}: {n} frames imported into {session.video.name} "
            f"(project {session.project.folder})"
        )
    return 0
