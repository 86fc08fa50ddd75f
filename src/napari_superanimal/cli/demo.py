"""``napari-superanimal demo``: the whole loop on a synthetic video (no download); with a
display it then opens napari on the result (a GUI command)."""

from __future__ import annotations

import argparse

HELP = "run the demo on a synthetic video (no download)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default="demo-output", help="output folder (default demo-output)")
    p.add_argument(
        "--headless",
        action="store_true",
        help="do not open a window: render a screenshot (under Xvfb) instead",
    )
    p.add_argument("--frames", type=int, default=300, help="length of the synthetic video")
    p.add_argument("--seed", type=int, default=0, help="seed of the video and of training")
    p.add_argument(
        "--animals",
        type=int,
        default=1,
        choices=(1, 2, 3),
        help="mice in the video (2 or 3: their paths cross; identity switches reported)",
    )


def run(args: argparse.Namespace) -> int:
    from ..demo.run import has_display, run_demo

    report = run_demo(out_dir=args.out, n_frames=args.frames, seed=args.seed, animals=args.animals)
    if has_display() and not args.headless:
        from ..demo.view import show_in_napari

        show_in_napari(report["video"])
        return 0
    from ..demo.run import render_screenshot, write_report

    status = render_screenshot(report)
    write_report(report)
    return status
