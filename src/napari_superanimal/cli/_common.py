"""What several subcommands share: where stores and projects are, opening a session, options.

Example::

    add_project_target(parser)                 # TARGET, --project, --video
    with session_for(args.target, args.video, args.project) as session:
        ...
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..progress import frame_bar

PROG = "napari-superanimal"

__all__ = [
    "PROG",
    "add_project_target",
    "add_quiet",
    "add_store_options",
    "frame_bar",
    "session_for",
    "stores_for",
]


def add_store_options(p: argparse.ArgumentParser) -> None:
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


def add_project_target(p: argparse.ArgumentParser) -> None:
    """TARGET, --project and --video: how a command finds a project and its video."""
    p.add_argument("target", help="a video (its project beside it) or a project folder")
    p.add_argument("--project", help="project folder, when TARGET is a video elsewhere")
    p.add_argument("--video", help="which video of the project (default: its first)")


def add_quiet(p: argparse.ArgumentParser) -> None:
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def stores_for(args: argparse.Namespace) -> dict:
    """Each video's store: ``--store``, ``<--store-root>/<stem>.frames.zarr``, or None (the
    default beside the video). Folders or fsspec URLs."""
    from ..cluster import store_locations

    if args.store and args.store_root:
        raise ValueError("give --store (one store) or --store-root (a folder or URL), not both")
    if args.store and len(args.video) > 1:
        raise ValueError("--store names one store: use --store-root for several videos")
    if args.store:
        return {args.video[0]: args.store}
    return dict(zip(args.video, store_locations(args.video, args.store_root), strict=True))


def session_for(target: str, video_name: str | None = None, project: str | None = None, **kw):
    """A Session on a video (its project found by the usual rule, or ``project``), or on a
    project folder's video (its first, or ``video_name``)."""
    from ..labels.project import PROJECT_FILE
    from ..session import Session

    path = Path(target)
    video = path
    if (path / PROJECT_FILE).is_file():  # a project folder: its first (or named) video
        project = path
        videos = json.loads((path / PROJECT_FILE).read_text()).get("videos", {})
        name = video_name or next(iter(videos), None)
        if name not in videos:
            raise ValueError(f"{path}: no video {name!r} in this project")
        video = Path(videos[name]["path"])
    return Session.open(video, project=project, **kw)
