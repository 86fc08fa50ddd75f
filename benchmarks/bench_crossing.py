"""Identity switches and keypoint error on mice that cross: detector every frame vs tracking.

Issue "Every animal in the frame...": "Identity switches and keypoint error on the crossing
video, detector every frame vs tracking". The crossing video is :mod:`napari_superanimal.demo.
mice` (2 or 3 synthetic mice whose paths cross, identities known): SuperAnimal's detector has
never seen these drawn mice, and its real weights cannot be downloaded here, so the detector
in this benchmark is an *oracle*: on every frame it returns each mouse's box from the truth
(the extent of its keypoints plus 20 px, the box a labeled animal trains on), shuffled, with
no identity: what a perfect detector gives. That isolates the tracker.

The pose network is the product's own: a light network trained as a user trains it in the
project (the Suggestions pick ``--labels`` frames with no model, every mouse is labeled there,
one round of ``--steps``, crops per animal). Then the whole video is predicted three ways, each
from the same trained version:

- ``detector every frame``: the oracle on every frame, identities carried by Tracks' matching;
- ``tracking, detector every N``: the product default (``--every``), the oracle every N frames
  and whenever an animal is unsure, boxes following the keypoints in between;
- ``tracking from labels, no detector``: the product's path for a species without a detector:
  each mouse followed from the frames where the user labeled it (:mod:`~napari_superanimal.
  session.seeds`).

Each run's tracks are named once, after the mice they sit on in frame 0 (a detector's tracks
come unnamed; the user names the animals once). Errors are on the frames nobody labeled, each
mouse read from its own track; switches over the whole video (:mod:`napari_superanimal
.metrics.identity`), and, for the issue's target, the switches a run makes that the every-frame
run does not (same mouse, same frame; and within 2 frames). Writes ``results/bench_crossing.json``.

``python bench_crossing.py [--mice 3] [--frames 300] [--labels 10] [--steps 600] [--every 10]``
"""

from __future__ import annotations

import argparse
import json
import shutil
import time

import numpy as np

from _common import RESULTS, WORK, machine
from napari_superanimal import Session
from napari_superanimal.demo.mice import make_mice_video
from napari_superanimal.demo.mouse import KEYPOINTS
from napari_superanimal.metrics.identity import (
    identity_report,
    switch_events,
    switches_not_in,
    track_of_each_animal,
)
from napari_superanimal.model.boxes import animal_box
from napari_superanimal.model.identities import match_animals
from napari_superanimal.model.tracking import Tracks
from napari_superanimal.video import open_video


class OracleDetector:
    """Every mouse's true box, in a random order, whatever frame it is shown."""

    def __init__(self, video, truth: np.ndarray, seed: int = 0):
        self.truth = truth
        self.frame_of = {video.read_frame(i).tobytes(): i for i in range(len(video))}
        self.size = tuple(video.shape[1:3])
        self.rng = np.random.default_rng(seed)

    def detect(self, frames, max_animals=10):
        out = []
        for pixels in frames:
            t = self.frame_of[np.ascontiguousarray(pixels).tobytes()]
            boxes = [animal_box(self.truth[t, m], self.size) for m in range(self.truth.shape[1])]
            boxes = np.array([b for b in boxes if b is not None]).reshape(-1, 4)
            boxes = boxes[self.rng.permutation(len(boxes))][:max_animals]
            out.append((boxes, np.full(len(boxes), 0.99)))
        return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--mice", type=int, default=3)
    p.add_argument("--frames", type=int, default=300)
    p.add_argument("--labels", type=int, default=10)
    p.add_argument("--steps", type=int, default=600)
    p.add_argument("--every", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()

    folder = WORK / "crossing"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    path, truth = make_mice_video(
        folder / "mice.mp4", args.frames, args.mice, size=(128, 160), seed=args.seed
    )
    video = open_video(path, overwrite=True)
    names = [f"mouse{i + 1}" for i in range(args.mice)]
    rows = []
    with Session.open(video, keypoints=KEYPOINTS) as session:
        session.set_individuals(names)
        chosen = session.suggest(n=args.labels)  # no model: frames unlike each other
        for f in chosen:
            for m, name in enumerate(names):
                for k, keypoint in enumerate(KEYPOINTS):
                    session.label(int(f), keypoint, *truth[f, m, k], individual=name)
        t = time.perf_counter()
        result = session.finetune(steps=args.steps, lr=1e-3, seed=args.seed, eval_every=100)
        train_s = time.perf_counter() - t
        model = session.model
        truth3 = np.concatenate([truth, np.ones((*truth.shape[:-1], 1), truth.dtype)], axis=-1)
        unlabeled = np.array([f for f in range(len(video)) if f not in set(chosen)])

        def measure(way: str, run, reference: set | None = None) -> set:
            """One row; returns the run's switches (``reference``: the every-frame run's,
            None for that run itself)."""
            t = time.perf_counter()
            poses, detections = run()
            seconds = time.perf_counter() - t
            # a detector's tracks have no names: each run's tracks are named once, on frame 0,
            # after the mice they sit on there (as a user names the animals once)
            poses = poses[:, match_animals(truth3[0], poses[0])]
            whole = identity_report(poses, truth)
            rest = identity_report(poses[unlabeled], truth[unlabeled])
            events = switch_events(track_of_each_animal(poses, truth))
            reference = events if reference is None else reference
            rows.append(
                {
                    "way": way,
                    "identity_switches": whole["switches"],
                    # the target: none that detect-every-frame does not make (on the same
                    # frame; within 2 frames, as the same flicker can end a frame apart)
                    "switches_every_frame_lacks": switches_not_in(events, reference),
                    "switches_every_frame_lacks_within_2": switches_not_in(events, reference, 2),
                    "frames_on_wrong_track": whole["frames_on_wrong_track"],
                    "unlabeled_median_px": rest["median_px"],
                    "unlabeled_mean_px": rest["mean_px"],
                    "missing_share": whole["missing_share"],
                    "detector_runs": detections,
                    "seconds": seconds,
                }
            )
            return events

        def detector(every: int):
            def run():
                tracks = Tracks(OracleDetector(video, truth, args.seed), args.mice, every=every)
                poses = model.predict_animals(video, args.mice, tracks=tracks)
                return poses, tracks.detections

            return run

        every_frame = measure("detector every frame (oracle)", detector(1))
        tracked = f"tracking, detector every {args.every} (oracle)"
        measure(tracked, detector(args.every), every_frame)
        measure("tracking from labels, no detector", lambda: (session.predict(), 0), every_frame)
    report = {
        "machine": machine(),
        "date": time.strftime("%Y-%m-%d"),
        "mice": args.mice,
        "frames": args.frames,
        "labeled_frames": sorted(int(f) for f in chosen),
        "steps": args.steps,
        "train_seconds": train_s,
        "round_test_px": result.test_after["pixels"],
        "rows": rows,
    }
    print(
        f"{args.mice} mice, {args.frames} frames, {len(chosen)} labeled, round test "
        f"{report['round_test_px']:.1f} px, trained in {train_s:.0f} s"
    )
    print(
        f"{'way':44s} {'switches':>8s} {'new':>4s} {'new±2':>5s} {'wrong fr':>8s} "
        f"{'median':>7s} {'mean':>7s} {'det':>4s}"
    )
    for r in rows:
        print(
            f"{r['way']:44s} {r['identity_switches']:8d} {r['switches_every_frame_lacks']:4d} "
            f"{r['switches_every_frame_lacks_within_2']:5d} {r['frames_on_wrong_track']:8d} "
            f"{r['unlabeled_median_px']:7.2f} {r['unlabeled_mean_px']:7.2f} {r['detector_runs']:4d}"
        )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "bench_crossing.json").write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
