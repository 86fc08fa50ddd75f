"""Cluster benchmark (issue "One Session ... batch prediction on a dask cluster").

Throughput (frames/s) of ``predict_videos`` over 4 synthetic 640x480 videos of 150 frames with
the light network (random weights: speed does not depend on them), on a local
``dask.distributed`` cluster of 1 worker x 2 threads and of 2 workers x 1 thread, against one
process predicting the same videos one after the other. Stores are converted beforehand so only
prediction is timed.

Usage: ``python benchmarks/bench_cluster.py``
"""

from __future__ import annotations

import time

import torch

from _common import WORK, machine, print_table, save
from make_long_video import make
from napari_superanimal import open_video
from napari_superanimal.cluster import ModelSpec, get_client, predict_videos
from napari_superanimal.model.checkpoint import save_snapshot
from napari_superanimal.model.inference import load_model
from napari_superanimal.model.networks import build_network

KEYPOINTS = tuple(f"k{i}" for i in range(27))


def main() -> None:
    WORK.mkdir(exist_ok=True)
    videos = []
    for i in range(4):
        path = WORK / f"cluster_{i}.mp4"
        if not path.exists():
            make(150, path)
        open_video(path).wait()
        videos.append(path)
    torch.manual_seed(0)
    weights = save_snapshot(WORK / "cluster_light.pt", build_network("light_resnet18", 27))
    spec = ModelSpec("light", "light_resnet18", str(weights), KEYPOINTS, batch_size=8)
    total = sum(len(open_video(v)) for v in videos)

    rows = []
    model = load_model("light", weights=weights, arch="light_resnet18", keypoints=KEYPOINTS)
    t = time.perf_counter()
    for v in videos:
        model.predict_video(open_video(v))
    rows.append({"setup": "one process, 2 threads", "fps": total / (time.perf_counter() - t)})
    for workers, threads in ((1, 2), (2, 1)):
        client = get_client(n_workers=workers, threads_per_worker=threads)
        predict_videos(videos[:1], spec, client=client, span=16)  # warm-up: load the model
        t = time.perf_counter()
        predict_videos(videos, spec, client=client, span=64)
        fps = total / (time.perf_counter() - t)
        rows.append({"setup": f"dask: {workers} worker(s) x {threads} thread(s)", "fps": fps})
        client.close()
        client.cluster.close()
    for row in rows:
        row["vs_one_process"] = row["fps"] / rows[0]["fps"]
    print(f"\nmachine: {machine()}, torch {torch.__version__}\n")
    print_table(rows, ["setup", "fps", "vs_one_process"])
    save("bench_cluster", {"machine": machine(), "rows": rows})


if __name__ == "__main__":
    main()
