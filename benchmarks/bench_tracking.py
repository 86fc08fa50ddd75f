"""SuperAnimal video inference end to end against DeepLabCut 3.0.2 (video_inference_superanimal).

Issue "Every animal in the frame...", item 2: with the animals followed from frame to frame the
detector rarely runs; the target is >= 5x DeepLabCut's speed on at least 300 frames of the
open-field video, with the keypoint difference to detect-every-frame stated and no identity
switch that detect-every-frame does not make.

``python bench_tracking.py [--frames 300] [--animals 3] [--every 10] [--every-frame-frames 100]``
(our venv) cuts the first ``--frames`` frames of ``shared/data/openfield/m3v1mp4.mp4`` into a
clip, makes the random TopViewMouse hrnet_w32 and ``fasterrcnn_resnet50_fpn_v2`` snapshots of
``bench_topdown_dlc.py`` (the hub is unreachable: no real weights here), then runs, each in a
fresh process on the same clip, timed from process start to keypoints in hand:

- DeepLabCut (``--dlc-python``, its own venv as ``bench_finetune_dlc.py`` sets it up):
  ``video_inference_superanimal`` with those snapshots, ``max_individuals=--animals``, no
  labeled video;
- ours, detector on every frame (``every=1``) on the first ``--every-frame-frames`` frames: the
  parity path, compared with DeepLabCut's keypoints frame by frame;
- ours, the product default: the detector every ``--every`` frames and whenever an animal is
  unsure, each animal's box following it in between (``PoseEstimator.predict_animals``).

Weights are random, so keypoint *accuracy* means nothing here; what the tracked run changes is
measured against the every-frame run (per animal, matched by keypoint distance) and reported with
the identity switches between the two. Writes ``results/bench_tracking.json``.

``--engines`` adds the tracked run again with PyTorch only (``NAPARI_SUPERANIMAL_ENGINE=torch``):
the ratio with and without ONNX Runtime (issue "SuperAnimal on a CPU at 1.5-2x..."). Each of our
runs starts from an empty cache, so a first run's export counts. It writes
``results/bench_tracking_engines.json`` instead. ``--warm`` (after ``--engines``, same
``--frames``) runs ours only: ONNX Runtime with its graph already cached, and PyTorch only,
taking turns, against that run's DeepLabCut row; it writes ``results/bench_tracking_warm.json``.

``--sweep 5 10 20`` (after a full run, which leaves the every-frame keypoints in the work
folder and DeepLabCut's time in ``results/bench_tracking.json``) runs only ours, tracked, on
``--frames`` frames once per detector interval, and writes ``results/bench_tracking_sweep.json``:
speed against that DeepLabCut run and the difference to detect-every-frame for each.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

DLC_SIDE = r"""
import json, sys, time
t0 = time.perf_counter()
import torch
torch.set_num_threads(2)
import cv2
import deeplabcut.pose_estimation_pytorch.data.preprocessor as pre
from deeplabcut.modelzoo.video_inference import video_inference_superanimal
# DeepLabCut 3.0.2 ends the whole call when a box is thinner than a pixel (its crop is empty
# and OpenCV's resize fails; see bench_topdown_dlc.py): such a box is cropped as 1 px instead,
# counted, and the run goes on. Timing is unchanged; those animals are not compared.
crop, patched = pre.top_down_crop, []
def top_down_crop(image, bbox, output_size, *args, **kwargs):
    try:
        return crop(image, bbox, output_size, *args, **kwargs)
    except cv2.error:
        patched.append(1)
        x, y, w, h = bbox
        return crop(image, (x, y, max(w, 1.0), max(h, 1.0)), output_size, *args, **kwargs)
pre.top_down_crop = top_down_crop
clip, pose, det, dest, k = sys.argv[1:6]
video_inference_superanimal(
    [clip], "superanimal_topviewmouse", "hrnet_w32", "fasterrcnn_resnet50_fpn_v2",
    dest_folder=dest, customized_pose_checkpoint=pose, customized_detector_checkpoint=det,
    max_individuals=int(k), device="cpu", create_labeled_video=False, plot_bboxes=False,
    batch_size=1, detector_batch_size=1,
)
print(json.dumps({"seconds_in_process": time.perf_counter() - t0, "patched_crops": len(patched)}))
"""

OUR_SIDE = r"""
import json, sys, time
t0 = time.perf_counter()
import numpy as np
import torch
torch.set_num_threads(2)
from napari_superanimal import open_video
from napari_superanimal.model.inference import load_model
clip, pose, det, out, k, every, n = sys.argv[1:8]
model = load_model("superanimal_topviewmouse", weights=pose, detector_weights=det,
                   device="cpu", download=False)
video = open_video(clip, codec="lossless", convert=False)  # DeepLabCut's pixels, not JPEG's
from napari_superanimal.model.tracking import Tracks
tracks = Tracks(model.detector.load(model.device), int(k), every=int(every))
poses = model.predict_animals(video, int(k), frames=range(int(n)), tracks=tracks)
np.save(out, poses)
print(json.dumps({"seconds_in_process": time.perf_counter() - t0,
                  "detector_runs": tracks.detections, "frames": tracks.frames}))
"""


def cut_clip(n: int, out: Path) -> Path:
    """The first ``n`` frames of the open-field video, re-encoded losslessly in RGB (libx264rgb):
    both programs decode this file to the same pixels (a YUV clip would differ by a grey level
    between OpenCV's and PyAV's conversions, and random networks' flat heatmaps turn that into
    other keypoints)."""
    import av

    from _common import SHARED_DATA

    source = SHARED_DATA / "openfield" / "m3v1mp4.mp4"
    if not source.is_file():
        raise SystemExit(f"needs the open-field video at {source}")
    with av.open(str(source)) as src, av.open(str(out), "w") as dst:
        stream_in = src.streams.video[0]
        stream = dst.add_stream("libx264rgb", rate=30)
        stream.width, stream.height = stream_in.width, stream_in.height
        stream.pix_fmt = "bgr24"
        stream.options = {"crf": "0"}
        for i, frame in enumerate(src.decode(stream_in)):
            if i == n:
                break
            for packet in stream.encode(frame.reformat(format="bgr24")):
                dst.mux(packet)
        for packet in stream.encode():
            dst.mux(packet)
    return out


def timed(cmd: list[str], env=None) -> tuple[float, dict]:
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t
    if proc.returncode:
        raise SystemExit(f"{cmd[0]} failed:\n{proc.stderr[-3000:]}")
    return wall, json.loads(proc.stdout.strip().splitlines()[-1])


def dlc_keypoints(dest: Path, n_animals: int) -> np.ndarray:
    """``(T, A, K, 3)`` from the ``.h5`` DeepLabCut wrote (individuals in its own order)."""
    import pandas as pd

    (h5,) = list(dest.glob("*.h5"))
    df = pd.read_hdf(h5)
    values = df.to_numpy(dtype=np.float64)
    return values.reshape(len(df), n_animals, -1, 3)


def matched_difference(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, list[tuple]]:
    """Per frame, ``b``'s animals matched to ``a``'s (least mean keypoint distance): the
    distances of matched keypoints ``(T, A, K)`` (NaN where either has none) and each frame's
    permutation."""
    from scipy.optimize import linear_sum_assignment

    t, n = a.shape[:2]
    dist = np.full(a.shape[:3], np.nan)
    perms = []
    for f in range(t):
        d = np.linalg.norm(a[f, :, None, :, :2] - b[f, None, :, :, :2], axis=-1)  # (A, A, K)
        cost = np.nanmean(np.where(np.isfinite(d), d, np.nan), axis=-1)
        cost = np.where(np.isfinite(cost), cost, 1e9)
        rows, cols = linear_sum_assignment(cost)
        perms.append(tuple(int(c) for c in cols))
        dist[f, rows] = d[rows, cols]
    return dist, perms


def switches(perms: list[tuple]) -> int:
    """Frames on which the matching between two runs' identities changes."""
    return sum(1 for p, q in zip(perms, perms[1:], strict=False) if p != q)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--animals", type=int, default=3)
    parser.add_argument("--every", type=int, default=10)
    parser.add_argument("--every-frame-frames", type=int, default=100)
    parser.add_argument("--dlc-python", default="/work/dlcvenv/bin/python")
    parser.add_argument("--sweep", type=int, nargs="+", help="detector intervals, ours only")
    parser.add_argument(
        "--warm",
        action="store_true",
        help="after --engines: ours only, tracked, ONNX Runtime with its graph already cached "
        "and PyTorch only, against that run's DeepLabCut row; writes "
        "results/bench_tracking_warm.json",
    )
    parser.add_argument(
        "--engines",
        action="store_true",
        help="also the tracked run with PyTorch only (NAPARI_SUPERANIMAL_ENGINE=torch); writes "
        "results/bench_tracking_engines.json",
    )
    args = parser.parse_args()
    from _common import WORK, machine, print_table, save
    from bench_topdown_dlc import make_snapshots

    work = WORK / "tracking"
    work.mkdir(parents=True, exist_ok=True)
    pose, det = make_snapshots(work, seed=0)
    clip = cut_clip(args.frames, work / f"openfield_{args.frames}.mp4")
    shutil.rmtree(clip.with_suffix(".frames.zarr"), ignore_errors=True)  # of an earlier clip
    k = str(args.animals)
    if args.sweep:
        return sweep(args, work, clip, pose, det)
    if args.warm:
        return warm(args, work, clip, pose, det)
    rows, out = [], {}

    runs = [
        ("ours, detector every frame", 1, args.every_frame_frames, "auto"),
        (f"ours, detector every {args.every} frames + tracking", args.every, args.frames, "auto"),
    ]
    if args.engines:  # the same tracked run before ONNX Runtime (issue "SuperAnimal on a CPU")
        runs.append((f"{runs[1][0]}, PyTorch only", args.every, args.frames, "torch"))
    for label, every, n, engine in runs:
        npy = work / f"ours_every{every}_{engine}.npy"
        cache = work / "cache"  # an empty cache: a first run's export is part of its time
        shutil.rmtree(cache, ignore_errors=True)
        env = {**os.environ, "NAPARI_SUPERANIMAL_CACHE": str(cache)}
        env["NAPARI_SUPERANIMAL_ENGINE"] = engine
        cmd = [sys.executable, "-c", OUR_SIDE, str(clip), str(pose), str(det), str(npy), k]
        print(f"{label}: {n} frames ...", flush=True)
        wall, info = timed([*cmd, str(every), str(n)], env)
        out.setdefault(every, np.load(npy))
        rows.append((label, n, info["detector_runs"], wall))

    dest = work / "dlc_out"
    if dest.exists():
        for p in dest.iterdir():
            p.unlink()
    dest.mkdir(exist_ok=True)
    env = {"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin", "HOME": str(work)}
    cmd = [args.dlc_python, "-c", DLC_SIDE, str(clip), str(pose), str(det), str(dest), k]
    print(f"DeepLabCut: {args.frames} frames ...", flush=True)
    wall, info = timed(cmd, env)
    dlc = dlc_keypoints(dest, args.animals)
    rows.insert(0, ("DeepLabCut 3.0.2 video_inference_superanimal", args.frames, args.frames, wall))
    patched = info["patched_crops"]

    dlc_fps = rows[0][1] / rows[0][3]
    table = [
        {
            "run": label,
            "frames": n,
            "detector runs": runs,
            "seconds": round(wall, 1),
            "frames/s": round(n / wall, 3),
            "x DeepLabCut": round((n / wall) / dlc_fps, 2),
        }
        for label, n, runs, wall in rows
    ]
    print_table(table, list(table[0]))

    m = args.every_frame_frames
    parity, _ = matched_difference(out[1], dlc[:m])
    tracked, perms = matched_difference(out[1], out[args.every][:m])
    _, dlc_perms = matched_difference(out[1], dlc[:m])
    finite = tracked[np.isfinite(tracked)]
    summary = {
        "every-frame vs DeepLabCut, max keypoint diff (px)": float(np.nanmax(parity)),
        "every-frame vs DeepLabCut, keypoints compared": int(np.isfinite(parity).sum()),
        "tracked vs every-frame, median keypoint diff (px)": float(np.median(finite)),
        "tracked vs every-frame, p90 keypoint diff (px)": float(np.percentile(finite, 90)),
        "tracked vs every-frame, keypoints compared": int(len(finite)),
        "identity changes, tracked vs every-frame": switches(perms),
        "identity changes, DeepLabCut vs every-frame": switches(dlc_perms),
        "DeepLabCut boxes thinner than a pixel, cropped as 1 px": patched,
    }
    print(json.dumps(summary, indent=1))
    save(
        "bench_tracking_engines" if args.engines else "bench_tracking",
        {
            "machine": machine(),
            "frames": args.frames,
            "animals": args.animals,
            "every": args.every,
            "every_frame_frames": m,
            "table": table,
            "summary": summary,
            "weights": "random (bench_topdown_dlc.make_snapshots seed 0): speed and parity only",
        },
    )


def warm(args, work: Path, clip: Path, pose: Path, det: Path) -> None:
    """Ours, tracked: one run fills a cache with the exported graph, then ONNX Runtime from
    that cache and PyTorch only take turns (twice each), against the DeepLabCut row of
    ``results/bench_tracking_engines.json`` (same clip and snapshots)."""
    from _common import RESULTS, machine, print_table, save

    full = RESULTS / "bench_tracking_engines.json"
    if not full.is_file():
        raise SystemExit(f"run --engines first: it writes {full}")
    dlc = json.loads(full.read_text())["table"][0]
    if dlc["frames"] != args.frames:
        raise SystemExit(f"the --engines run timed DeepLabCut on {dlc['frames']} frames")
    cache = work / "cache"
    shutil.rmtree(cache, ignore_errors=True)
    table = []
    for label, engine in [("fills the cache", "auto")] + [
        ("ONNX Runtime, graph cached", "auto"),
        ("PyTorch only", "torch"),
    ] * 2:
        env = {**os.environ, "NAPARI_SUPERANIMAL_CACHE": str(cache)}
        env["NAPARI_SUPERANIMAL_ENGINE"] = engine
        npy = work / f"warm_{engine}.npy"
        cmd = [sys.executable, "-c", OUR_SIDE, str(clip), str(pose), str(det), str(npy)]
        print(f"ours, tracked, {label}: {args.frames} frames ...", flush=True)
        wall, info = timed([*cmd, str(args.animals), str(args.every), str(args.frames)], env)
        fps = args.frames / wall
        table.append(
            {
                "run": f"ours, detector every {args.every} frames + tracking, {label}",
                "frames": args.frames,
                "detector runs": info["detector_runs"],
                "seconds": round(wall, 1),
                "frames/s": round(fps, 3),
                "x DeepLabCut": round(fps / dlc["frames/s"], 2),
            }
        )
    print_table(table, list(table[0]))
    save(
        "bench_tracking_warm",
        {"machine": machine(), "animals": args.animals, "deeplabcut": dlc, "table": table},
    )


def sweep(args, work: Path, clip: Path, pose: Path, det: Path) -> None:
    """Ours, tracked, on ``--frames`` frames once per detector interval in ``args.sweep``:
    speed, against DeepLabCut's row of the full run (``results/bench_tracking.json``, same clip
    and snapshots), and the difference to the every-frame keypoints that run saved."""
    from _common import RESULTS, machine, print_table, save

    reference = work / "ours_every1_auto.npy"
    full = RESULTS / "bench_tracking.json"
    if not reference.is_file() or not full.is_file():
        raise SystemExit(f"run the full benchmark first: it saves {reference} and {full}")
    every_frame = np.load(reference)
    m = len(every_frame)
    dlc = json.loads(full.read_text())["table"][0]
    if dlc["frames"] != args.frames:
        raise SystemExit(f"the full run timed DeepLabCut on {dlc['frames']} frames, not this")
    table = []
    for every in args.sweep:
        npy = work / f"sweep_every{every}.npy"
        cmd = [sys.executable, "-c", OUR_SIDE, str(clip), str(pose), str(det), str(npy)]
        print(f"ours, detector every {every} frames: {args.frames} frames ...", flush=True)
        wall, info = timed([*cmd, str(args.animals), str(every), str(args.frames)])
        dist, perms = matched_difference(every_frame, np.load(npy)[:m])
        finite = dist[np.isfinite(dist)]
        fps = args.frames / wall
        table.append(
            {
                "detector every": every,
                "frames": args.frames,
                "detector runs": info["detector_runs"],
                "seconds": round(wall, 1),
                "frames/s": round(fps, 3),
                "x DeepLabCut": round(fps / dlc["frames/s"], 2),
                f"median diff to every-frame, first {m} frames (px)": round(
                    float(np.median(finite)), 2
                ),
                "p90 diff (px)": round(float(np.percentile(finite, 90)), 1),
                "identity changes": switches(perms),
            }
        )
    print_table(table, list(table[0]))
    save(
        "bench_tracking_sweep",
        {"machine": machine(), "animals": args.animals, "deeplabcut": dlc, "table": table},
    )


if __name__ == "__main__":
    main()
