"""Inference benchmarks (issue "SuperAnimal model zoo..."), on the CPU with 2 threads.

- single-frame latency: a 256x256 crop and a 640x480 full frame (median of N runs);
- throughput (frames/s) of ``PoseEstimator.predict_video`` (store reads prefetched, batches,
  fused channels-last network) with batch 1/8/32 over frames of the real open-field video,
  against a plain eager per-frame loop of the same network in the same run (decode the video
  with PyAV, normalise, forward under ``no_grad``, decode the heatmaps), and the largest
  heatmap difference between the two paths on the same frames.

Weights are random (none can be downloaded here): speed does not depend on them.
Usage: ``python benchmarks/bench_inference.py [--frames 64] [--arch hrnet_w32 light_resnet18]``
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import av
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


def calibrated_network(arch: str, frames: np.ndarray) -> torch.nn.Module:
    """Random weights with batch-norm statistics measured on real frames.

    With default statistics a random HRNet's activations explode (heatmaps ~1e8), which makes
    an absolute output tolerance meaningless; measured statistics give heatmaps of order one,
    as trained weights do. Speed does not depend on the weights.
    """
    torch.manual_seed(0)
    net = build_network(arch, 27)
    for m in net.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.momentum = None  # cumulative average over the calibration batches
    net.train()
    with torch.no_grad():
        for i in range(0, min(len(frames), 16), 4):
            net(normalize(pad_to_multiple(frames[i : i + 4], 32)))
    return net.eval()


def plain_loop(net, path: Path, n: int) -> float:
    """What a plain script does: decode the video frame by frame, run each frame, decode."""
    t = time.perf_counter()
    with av.open(str(path)) as container, torch.no_grad():
        for i, frame in enumerate(container.decode(video=0)):
            if i == n:
                break
            rgb = frame.to_ndarray(format="rgb24")
            hm = net(normalize(pad_to_multiple(rgb[None], 32)))["heatmap"]
            decode_heatmaps(hm, net.stride)
    return n / (time.perf_counter() - t)


def bench_arch(arch: str, frames: np.ndarray, video, path: Path) -> dict:
    net = calibrated_network(arch, frames)
    names = [f"k{i}" for i in range(27)]
    est = PoseEstimator(net, names, device="cpu", engine="torch")  # PyTorch, exact
    fused = PoseEstimator(net, names, device="cpu", optimize=True)
    crop = frames[:1, :256, :256]
    row = {
        "arch": arch,
        "latency_256_ms": median_seconds(lambda: est.predict(crop), 5) * 1e3,
        "fused_latency_256_ms": median_seconds(lambda: fused.predict(crop), 5) * 1e3,
        "latency_640x480_ms": median_seconds(lambda: est.predict(frames[:1]), 3) * 1e3,
    }
    eager_fps = plain_loop(net, path, len(frames))
    row["eager_loop_fps"] = eager_fps
    for bs in (1, 8, 32):
        t = time.perf_counter()
        poses = est.predict_video(video, frames=range(len(frames)), batch_size=bs)
        row[f"batch{bs}_fps"] = len(frames) / (time.perf_counter() - t)
        row[f"batch{bs}_vs_eager"] = row[f"batch{bs}_fps"] / eager_fps
    with torch.no_grad():  # the same 8 frames: one at a time (plain) and as one batch (ours)
        batch = normalize(pad_to_multiple(frames[:8], 32))
        single = torch.cat([net(batch[i : i + 1])["heatmap"] for i in range(8)])
        batched = est.heatmaps(batch)
        fast, _ = fused._runner()(batch.contiguous(memory_format=torch.channels_last))
    row["heatmap_range"] = float(single.abs().max())
    row["max_abs_heatmap_diff"] = float((batched - single).abs().max())
    row["fused_max_abs_heatmap_diff"] = float((fast - single).abs().max())
    same = np.stack([est.predict(f) for f in frames[:8]])
    row["keypoints_identical"] = bool(np.array_equal(same, poses[:8]))
    print(row, flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--frames", type=int, default=64)
    parser.add_argument("--arch", nargs="*", default=["hrnet_w32", "light_resnet18"])
    args = parser.parse_args()
    torch.set_num_threads(2)
    path = SHARED_DATA / "openfield" / "m3v1mp4.mp4"
    video = open_video(path, store=None)
    video.wait()
    frames = np.stack([video.read_frame(i) for i in range(args.frames)])
    rows = [bench_arch(arch, frames, video, path) for arch in args.arch]
    print(f"\nmachine: {machine()}, torch {torch.__version__}, {torch.get_num_threads()} threads\n")
    print_table(
        rows,
        [
            "arch",
            "latency_256_ms",
            "fused_latency_256_ms",
            "latency_640x480_ms",
            "eager_loop_fps",
            "batch1_fps",
            "batch8_fps",
            "batch32_fps",
            "batch8_vs_eager",
            "batch32_vs_eager",
            "heatmap_range",
            "max_abs_heatmap_diff",
            "fused_max_abs_heatmap_diff",
            "keypoints_identical",
        ],
    )
    save("bench_inference", {"machine": machine(), "rows": rows})


if __name__ == "__main__":
    main()
