"""``napari-superanimal adapt TARGET``: video adaptation without labels (the widget's button)."""

from __future__ import annotations

import argparse

from ._common import add_project_target, add_quiet, frame_bar, session_for

HELP = "adapt the model to a video without labels (SuperAnimal video adaptation)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_project_target(p)
    p.add_argument("--model", help="start from this model version (default: the active one)")
    p.add_argument(
        "--pseudo-threshold",
        type=float,
        default=0.1,
        help="keep keypoints scoring at least this (DeepLabCut: 0.1)",
    )
    p.add_argument(
        "--every", type=int, default=10, help="pseudo-label every N-th frame (DeepLabCut: 10)"
    )
    p.add_argument(
        "--epochs",
        type=float,
        default=4,
        help="passes over the pseudo-labeled frames (DeepLabCut: 4)",
    )
    p.add_argument("--steps", type=int, help="training steps (default: from --epochs)")
    p.add_argument("--minutes", type=float, help="stop after this many minutes")
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--seed", type=int, default=0)
    add_quiet(p)


def run(args: argparse.Namespace) -> int:
    from ..metrics.jitter import describe

    with session_for(args.target, args.video, args.project) as session:
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
                pseudo_threshold=args.pseudo_threshold,
                every=args.every,
                epochs=args.epochs,
                steps=args.steps,
                time_budget=args.minutes * 60 if args.minutes else None,
                lr=args.lr,
                seed=args.seed,
                callback=on_step,
            )
    jitter = result.info.get("jitter") or {}
    print(f"{result.version} (adapted): {describe(jitter.get('before'), jitter.get('after'))}")
    return 0
