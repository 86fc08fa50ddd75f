"""``napari-superanimal train TARGET``: one fine-tuning round, as the widget runs it."""

from __future__ import annotations

import argparse

from ..train.report import describe_round
from ._common import add_project_target, add_quiet, frame_bar, session_for

HELP = "fine-tune on a video's labels: one round, saved as a new model version"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_project_target(p)
    p.add_argument("--model", help="start from this model version (default: the active one)")
    p.add_argument("--arch", help="architecture when starting from scratch (light_resnet18)")
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--minutes", type=float, help="stop after this many minutes")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument(
        "--input-scale",
        type=float,
        help="resize frames by this before the network (default: the model's; for a new one, "
        "a longer side of at most 448 px)",
    )
    p.add_argument("--seed", type=int, default=0)
    add_quiet(p)


def run(args: argparse.Namespace) -> int:
    with session_for(args.target, args.video, args.project) as session:
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
    print(f"{result.version}: {describe_round(result.info)}")
    return 0
