"""``napari-superanimal suggest TARGET``: frames to label next, best first, one per line."""

from __future__ import annotations

import argparse

from ..suggest import STRATEGIES
from ._common import PROG, add_project_target, session_for

HELP = "print the frames worth labeling next, best first"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_project_target(p)
    p.add_argument("-n", type=int, default=20, help="how many frames (default 20)")
    p.add_argument(
        "--strategy",
        choices=STRATEGIES,
        default="combined",
        help="combined (default): low confidence and temporal jumps, spread over different "
        "kinds of image (and likely identity swaps, with several animals); or one signal "
        "alone; uniform: evenly spaced",
    )


def run(args: argparse.Namespace) -> int:
    with session_for(args.target, args.video, args.project, restore_model=False) as session:
        if args.strategy in ("confidence", "jumps", "swaps") and session.model_version is None:
            raise ValueError(
                f"{session.video.name}: no predictions for --strategy {args.strategy}; "
                f"run `{PROG} predict` first"
            )
        for frame in session.suggest(n=args.n, strategy=args.strategy):
            print(frame)
    return 0
