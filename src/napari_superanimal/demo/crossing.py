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
from ..progress import frame_bar
from ..session import Session
from ..video import open_video
from .mice import make_mice_video
from .mouse import KEYPOINTS


def run_crossing_demo(
    out: Path, n_frames: int, n_mice: int, seed: int, rounds, size, first: int, fixes: int
) -> dict:
    """The loop on crossing mice; the report as :func:`.run.run_demo` gives it, plus the
    animals and each step's identity switches."""
    from .run import _predict_all, _round

    out.mkdir(parents=True, exist_ok=True)
    video_path = out / "synthetic_mice.mp4"
    shutil.rmtree(out / "synthetic_mice.superanimal", ignore_errors=True)
    times: dict[str, float] = {}
    t = time.perf_counter()
    print(f"demo: generating a {n_frames}-frame video of {n_mice} crossing mice -> {video_path}")
    _, truth = make_mice_video(video_path, n_frames, n_mice, size=size, seed=seed)
    times["generate"] = time.perf_counter() - t
    video = open_video(video_path, convert=False, overwrite=True)
    with frame_bar(len(video), "demo: ingest") as bar:
        for done in video.convert_iter():
            bar.update(done - bar.n)
    names = [f"mouse{i + 1}" for i in range(n_mice)]
    rows, chosen = [], {}
    with Session.open(video, keypoints=KEYPOINTS) as session:
        session.set_individuals(names)
        picked = session.suggest(n=first)  # no model yet: frames unlike each other
        chosen["round 1"] = {"frames": sorted(picked), "how": "Suggestions (diversity: no model)"}
        _label_mice(session, truth, picked, names)
        print(f"demo: the user labels {n_mice} mice on {len(picked)} suggested frames")
        t = time.perf_counter()
        r1 = _round(session, rounds[0], seed)
        times["round 1"] = time.perf_counter() - t
        poses1 = _predict_all(session, "demo: follow the mice")
        corrected = session.suggest(n=fixes)  # low confidence, jumps, swaps, diversity
        chosen["round 2"] = {
            "frames": sorted(corrected),
            "how": "Suggestions (combined: low confidence, jumps, likely swaps, diversity)",
        }
        _label_mice(session, truth, corrected, names)
        print(f"demo: the user corrects {len(corrected)} suggested frames; fine-tuning again")
        t = time.perf_counter()
        r2 = _round(session, rounds[1], seed)
        times["round 2"] = time.perf_counter() - t
        poses2 = _predict_all(session, "demo: follow the mice again")
        labeled = set(session.labeled_frames())
        unlabeled = np.array([f for f in range(len(video)) if f not in labeled])
        rows.append(
            _row(
                f"after round 1 ({r1.version}, {len(picked)} labeled frames)",
                poses1,
                truth,
                unlabeled,
                r1,
            )
        )
        rows.append(
            _row(
                f"after round 2 ({r2.version}, +{len(corrected)} corrected frames)",
                poses2,
                truth,
                unlabeled,
                r2,
            )
        )
        counts = session.counts()
        project = session.project.folder
    return {
        "video": str(video_path),
        "frames": len(video),
        "size": list(video.shape[1:3]),
        "fps": video.fps,
        "seed": seed,
        "store": str(video.store_path),
        "project": str(project),
        "keypoints": list(KEYPOINTS),
        "animals": names,
        "superanimal_weights": False,
        "labeled_frames": counts["touched"],
        "unlabeled_frames": len(unlabeled),
        "chosen": chosen,
        "errors": rows,
        "seconds": {k: round(v, 1) for k, v in times.items()},
        "out": str(out),
    }


def _label_mice(session: Session, truth: np.ndarray, frames, names) -> None:
    """What a user does in the widget: pick each mouse, place its keypoints where they are."""
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
