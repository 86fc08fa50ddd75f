"""``napari-superanimal open VIDEO``: the video in napari with the labeling dock (GUI)."""

from __future__ import annotations

import argparse

from ._common import PROG

HELP = "open a video (or .frames.zarr store) in napari"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("video")


def run(args: argparse.Namespace) -> int:
    from ..video import open_video

    open_video(args.video, convert=False)  # check it first: a bad file fails here, in one line
    import napari

    viewer = napari.Viewer()
    viewer.open(args.video, plugin=PROG)
    napari.run()
    return 0
