"""Fine-tuning benchmark on real labels (issue "Fine-tune from the widget...").

``../shared/data/reaching/``: 55 human-labeled frames (832x747, 15 of them 640x470), 5
keypoints. The frames go into a lossless video (the smaller ones padded) and its frame store; a
fresh project gets the labels of the first ``n`` frames of the fixed split (``_reaching.py``:
seeded permutation, last 20 held out) through ``Session.label``, the widget's code path. One
round of ``Session.finetune`` then trains a network from random initialisation (``--seeds``:
one round per training seed) for a fixed wall-clock budget (8 minutes by default; no early
stopping: the budget is the only limit, the learning rate anneals over it). The round keeps the
product's share of its labeled frames for validation (``--validation``; at least 2 frames: they
pick the weights and calibrate the scores; 0 trains on all, as before calibration existed) and
no test split of its own. The 20 held-out frames are then predicted full-frame and scored: error
and PCK, and how far the scores can be trusted (``_reaching.confidence``: the share of keypoints
scoring >= 0.9, how many of those are farther than 30 px, the calibration error of "within 10
px"). Frames are resized by ``input_scale`` (the product's default for a new network unless
``--input-scale`` is given); errors are in the frames' own pixels.

DeepLabCut's baseline runs in its own venv: ``bench_finetune_dlc.py``.

``--stall SECONDS`` instead measures the viewer during a round: napari under Xvfb with the
widget on the same project, left to settle (thumbnails for the Suggestions dock, first draws)
for ``SETTLE_SECONDS``, then the Fine-tune button pressed, and a 10 ms Qt timer recording how
late each tick fires from the click until the round's model is saved (the event loop's
longest stall). The round runs in the widget's child process; the time budget counts from its
first training step, so the round takes a few seconds more (the child starting, the jitter
clips predicted).

Usage::

    python benchmarks/bench_finetune.py [--arch light_resnet18 hrnet_w32] [--labels 5 10 20 35]
        [--seeds 0 1 2] [--validation 0] [--tag baseline]
    xvfb-run -a python benchmarks/bench_finetune.py --stall 120
"""

from __future__ import annotations

import argparse
import json
import shutil
import time

import av
import numpy as np
import torch
from skimage.io import imread

import _reaching
from _common import WORK, machine, print_table, save
from napari_superanimal import open_video
from napari_superanimal.session import Session
from napari_superanimal.train.job import RoundSettings


def reaching_video():
    """The labeled PNGs as a lossless video (FFV1) in sorted order, and its frame store.

    15 of the 55 images are 640x470, the rest 832x747: the smaller ones are padded with black
    at the right and bottom (as ``napari-superanimal import --pad`` does), so their labels keep
    their coordinates. (An encoder given a smaller frame would stretch it under the labels.)"""
    images, _, _ = _reaching.load_labels()
    path = WORK / "reaching-padded.mkv"
    if not path.exists():
        WORK.mkdir(parents=True, exist_ok=True)
        pixels = [imread(_reaching.DATA / name)[..., :3] for name in images]
        height = max(p.shape[0] for p in pixels)
        width = max(p.shape[1] for p in pixels)
        with av.open(str(path), "w") as out:
            stream = out.add_stream("ffv1", rate=1)
            stream.height, stream.width = height, width
            stream.pix_fmt = "bgr0"
            for p in pixels:
                canvas = np.zeros((height, width, 3), np.uint8)
                canvas[: p.shape[0], : p.shape[1]] = p
                out.mux(stream.encode(av.VideoFrame.from_ndarray(canvas, "rgb24")))
            out.mux(stream.encode())
    video = open_video(path, codec="lossless")
    video.wait()
    return video


def labeled_session(video, n_train: int, name: str):
    """A fresh project with the first ``n_train`` frames of the split labeled."""
    _, bodyparts, xy = _reaching.load_labels()
    train, held = _reaching.split(len(xy), n_train)
    folder = WORK / f"reaching-{name}.superanimal"
    shutil.rmtree(folder, ignore_errors=True)
    session = Session.open(video, keypoints=bodyparts, project=folder)
    for i in train:
        for k, part in enumerate(bodyparts):
            if np.isfinite(xy[i, k]).all():
                session.label(i, part, *xy[i, k])
    return session, held


def one_round(
    video,
    arch: str,
    n_train: int,
    budget: float,
    input_scale: float | None,
    seed: int = 0,
    validation: float = 0.0,
) -> dict:
    _, _, xy = _reaching.load_labels()
    name = f"{arch}-{n_train}-{input_scale or 'auto'}-{seed}"
    session, held = labeled_session(video, n_train, name)
    with session:
        t = time.perf_counter()
        result = session.finetune(
            arch=arch,
            steps=10**9,
            time_budget=budget,
            validation=validation,
            test=0.0,
            patience=10**9,
            seed=seed,
            input_scale=input_scale,
        )
        seconds = time.perf_counter() - t
        pred = result.estimator.predict(np.stack([session.read_frame(i) for i in held]))
    return {
        "method": f"ours {arch} (random init)",
        "input_scale": round(result.info["input_scale"], 3),
        "labels": n_train,
        "seed": seed,
        "validation": len(result.info["validation_frames"].get(session.video_key, [])),
        "calibrated": result.info.get("calibration") is not None,
        "budget_s": budget,
        "round_s": seconds,
        "steps": result.info["steps"],
        "crop": result.info["crop_size"],
        **_reaching.errors(pred[..., :2], xy[held]),  # the estimator maps back to frame pixels
        **_reaching.confidence(pred[..., :2], pred[..., 2], xy[held]),
    }


SETTLE_SECONDS = 5.0


def stall(video, seconds: float, n_train: int = 20) -> dict:
    """Longest gap between 10 ms timer ticks in napari while the Fine-tune button's round runs."""
    import napari
    from qtpy.QtCore import QTimer
    from qtpy.QtWidgets import QApplication

    from napari_superanimal import show_session

    session, _ = labeled_session(video, n_train, "stall")
    viewer = napari.Viewer(show=True)
    widget = show_session(session, viewer)
    panel = widget.training
    panel.settings.steps.value = 100_000
    panel.settings.minutes.value = max(1, round(seconds / 60))
    app = QApplication.instance()
    settled = time.perf_counter() + SETTLE_SECONDS  # a user looks before pressing a button
    while time.perf_counter() < settled:
        app.processEvents()
        time.sleep(0.01)
    ticks: list[float] = []
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start()
    panel.start_button.click()
    while panel.running:
        app.processEvents()
        time.sleep(0.002)
    timer.stop()
    ticks = np.asarray(ticks)
    gaps = np.diff(ticks) * 1e3
    # after the first second: pressing the button docks the loss plot and the progress bar
    # (one-time work of the click itself), then the round runs
    running = gaps[ticks[1:] - ticks[0] > 1.0]
    steps = panel.last_result.info["steps"] if panel.last_result else None
    while widget.worker is not None:  # the new model re-predicts the frames around; let it end
        app.processEvents()
        time.sleep(0.01)
    viewer.close()
    session.close()
    return {
        "round_s": float(ticks[-1] - ticks[0]),
        "steps": steps,
        "ticks": len(ticks),
        "gap_p50_ms": float(np.percentile(gaps, 50)),
        "gap_p99_ms": float(np.percentile(gaps, 99)),
        "gap_max_ms": float(gaps.max()),
        "gaps_over_100ms": int((gaps > 100).sum()),
        "gap_max_after_1s_ms": float(running.max()),
        "gaps_over_100ms_after_1s": int((running > 100).sum()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", nargs="+", default=["light_resnet18", "hrnet_w32"])
    parser.add_argument("--labels", nargs="+", type=int, default=list(_reaching.LABEL_COUNTS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0], help="training seeds")
    parser.add_argument("--budget", type=float, default=_reaching.BUDGET_SECONDS)
    parser.add_argument(
        "--input-scale", type=float, default=None, help="finetune's input_scale (default: auto)"
    )
    parser.add_argument(
        "--validation",
        type=float,
        default=RoundSettings.validation,
        help="share of the labeled frames the round keeps to pick its weights and calibrate "
        "its scores (default: the product's; 0: none, all train)",
    )
    parser.add_argument("--tag", default="", help="suffix of the results file's name")
    parser.add_argument("--stall", type=float, default=None, metavar="SECONDS")
    args = parser.parse_args()
    video = reaching_video()
    print(f"machine: {machine()}, torch {torch.__version__}, threads {torch.get_num_threads()}")
    if args.stall:
        row = stall(video, args.stall)
        print(json.dumps(row), flush=True)
        save("finetune_stall", row)
        return
    rows = []
    for arch in args.arch:
        for n in args.labels:
            for seed in args.seeds:
                rows.append(
                    one_round(video, arch, n, args.budget, args.input_scale, seed, args.validation)
                )
                print(json.dumps(rows[-1]), flush=True)
    columns = ["method", "labels", "seed", "validation", "steps", "round_s"]
    columns += ["mean_px", "median_px", "pck5", "pck10", "sure_share", "sure_far", "ece10"]
    print_table(rows, columns)
    tag = f"_{args.tag}" if args.tag else ""
    save(
        f"finetune_reaching_{args.input_scale or 'auto'}{tag}", {"machine": machine(), "rows": rows}
    )


if __name__ == "__main__":
    main()
