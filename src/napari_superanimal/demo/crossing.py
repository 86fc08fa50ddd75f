"""The demo with several animals: mice that cross, followed and told apart through the loop.

The same loop as :mod:`.run`, on :mod:`.mice`'s video of two or three mice whose paths cross:
the project names its animals (``mouse1``...), the Suggestions pick the frames, the simulated
user places every mouse's keypoints on them (the truth, mouse ``i`` as ``mouse{i+1}``: the only
use of it), a light network learns one crop per labeled mouse (top-down, as DeepLabCut trains
several animals), and the whole video is predicted by following each mouse from the frames
where it is known (no detector exists for these mice: :mod:`..session.seeds`). Then the
Suggestions (which now weigh likely identity swaps) pick frames to correct, and a second round
trains. After each round the report gives the error on frames nobody labeled and the identity
switches on the whole video (:mod:`..metrics.identity`).
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import numpy as np

from ..metrics.identity import identity_report
from ..session import Session
from .mice import make_mice_video
from .mouse import KEYPOINTS


def run_crossing_demo(out: Path, n_frames: int, n_mice: int, seed: int, rounds, size) -> dict:
    """The loop on crossing mice; the report as :func:`.run.run_demo` gives it, plus the
    animals and each step's identity switches."""
    from .run import ingest, run_loop

    out.mkdir(parents=True, exist_ok=True)
    video_path = out / "synthetic_mice.mp4"
    shutil.rmtree(out / "synthetic_mice.superanimal", ignore_errors=True)
    times: dict[str, float] = {}
    t = time.perf_counter()
    print(f"demo: generating a {n_frames}-frame video of {n_mice} crossing mice -> {video_path}")
    _, truth = make_mice_video(video_path, n_frames, n_mice, size=size, seed=seed)
    times["generate"] = time.perf_counter() - t
    video = ingest(video_path, times)
    names = [f"mouse{i + 1}" for i in range(n_mice)]
    with Session.open(video, keypoints=KEYPOINTS) as session:
        session.set_individuals(names)
        report, _ = run_loop(session, truth, _label_mice, _row, rounds, seed, times)
    report.update(video=str(video_path), seed=seed, animals=names, out=str(out))
    report["superanimal_weights"] = False
    return report


def _label_mice(session: Session, truth: np.ndarray, frames) -> None:
    """What a user does in the widget: pick each mouse, place its keypoints where they are."""
    names = session.individuals
    for f in frames:
        for i, name in enumerate(names):
            for k, keypoint in enumerate(KEYPOINTS):
                session.label(int(f), keypoint, *truth[f, i, k], individual=name)


def _row(step: str, poses, truth, unlabeled, result) -> dict:
    """Error on the frames nobody labeled, switches on the whole video."""
    whole = identity_report(poses, truth)
    rest = identity_report(poses[unlabeled], truth[unlabeled])
    return {
        "step": step,
        "unlabeled_mean_px": rest["mean_px"],
        "unlabeled_median_px": rest["median_px"],
        "round_test_px": result.test_after["pixels"],
        "identity_switches": whole["switches"],
        "frames_on_wrong_track": whole["frames_on_wrong_track"],
        "missing_share": whole["missing_share"],
    }
