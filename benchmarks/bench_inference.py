"""Inference benchmarks (issue "SuperAnimal model zoo..."), on the CPU with 2 threads.

- single-frame latency: a 256x256 crop and a 640x480 full frame (median of N runs);
- throughput (frames/s) of ``PoseEstimator.predict_video`` with batch 1/8/32 over frames of the
  real open-field video, against a plain eager per-frame loop of the same network in the same
  run (normalise, forward under ``no_grad``, decode), and the largest heatmap difference between
  the two paths on the same frames.

Weights are random (none can be downloaded here): speed does not depend on them.
Usage: ``python benchmarks/bench_inference.py [--frames 64] [--arch hrnet_w32 light_resnet18]``
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from _common import SHARED_DATA, machine, print_table, save
from napari_superanimal import open_video
from napari_superanimal.model.decode import decode_heatmaps
from napari_superanimal.model.inference import PoseEstimator
from napari_superanimal.model.networks import build_network
from napari_superanimal.model.preprocess import normalize, pad_to_multiple


def median_seconds(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def bench_arch(arch: str, frames: np.ndarray, video) -> dict:
    torch.manual_seed(0)
    net = build_network(arch, 27).eval()
    est = PoseEstimator(net, [f"k{i}" for i in range(27)], device="cpu")
    crop = frames[:1, :256, :256]
    lat_crop = median_seconds(lambda: est.predict(crop), 5)
    lat_full = median_seconds(lambda: est.predict(frames[:1]), 5)
    t = time.perf_counter()
    with torch.no_grad():  # the plain eager loop: one frame at a time
        for f in frames:
            hm = net(pad_to_multiple(normalize(f[None]), 32))["heatmap"]
            decode_heatmaps(hm, 4)
    eager_fps = len(frames) / (time.perf_counter() - t)
    with torch.no_grad():
        ref = net(pad_to_multiple(normalize(frames[:8]), 32))["heatmap"]
    row = {
        "arch": arch,
        "latency_256_ms": lat_crop * 1e3,
        "latency_640x480_ms": lat_full * 1e3,
        "eager_loop_fps": eager_fps,
    }
    for bs in (1, 8, 32):
        t = time.perf_counter()
        est.predict_video(video, frames=range(len(frames)), batch_size=bs)
        row[f"batch{bs}_fps"] = len(frames) / (time.perf_counter() - t)
        row[f"batch{bs}_vs_eager"] = row[f"batch{bs}_fps"] / eager_fps
    hm = est.heatmaps(pad_to_multiple(normalize(frames[:8]), 32))
    row["max_abs_heatmap_diff"] = float((hm - ref).abs().max())
    print(row, flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--frames", type=int, default=64)
    parser.add_argument("--arch", nargs="*", default=["hrnet_w32", "light_resnet18"])
    args = parser.parse_args()
    torch.set_num_threads(2)
    video = open_video(SHARED_DATA / "openfield" / "m3v1mp4.mp4", store=None)
    video.wait()
    frames = np.stack([video.read_frame(i) for i in range(args.frames)])
    rows = [bench_arch(arch, frames, video) for arch in args.arch]
    print(f"\nmachine: {machine()}, torch {torch.__version__}, {torch.get_num_threads()} threads\n")
    print_table(
        rows,
        [
            "arch",
            "latency_256_ms",
            "latency_640x480_ms",
            "eager_loop_fps",
            "batch1_fps",
            "batch8_fps",
            "batch32_fps",
            "batch8_vs_eager",
            "batch32_vs_eager",
            "max_abs_heatmap_diff",
        ],
    )
    save("bench_inference", {"machine": machine(), "rows": rows})


if __name__ == "__main__":
    main()
