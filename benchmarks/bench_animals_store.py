"""Label commits with several animals on a long video (issue "Every animal in the frame...").

Target: with 3 animals x 27 keypoints on a 100k-frame video, an edit's commit p95 <= 5 ms, as
for one animal. ``python bench_animals_store.py [--frames 100000] [--labeled 5000]`` fills a
fresh label store (``LabelStore``, SQLite WAL, ``synchronous=FULL``: what ``Session.label``
commits through) with every keypoint of every animal on ``--labeled`` frames spread over the
video, then times, for 1 and for 3 animals:

- 1000 single-point edits (``set_point``, committed and durable on return) at random frames,
  animals and keypoints: p50 / p95 / max;
- 1000 reads of every animal's points on a random frame (``animals``: what a frame step draws);
- one identity swap from 90 % of the video on (``reassign``: one transaction, one undo step)
  and its undo.

Writes ``results/bench_animals_store.json``.
"""

from __future__ import annotations

import argparse
import shutil
import time

import numpy as np

from _common import WORK, machine, percentiles_ms, print_table, save

VIDEO = "long.mp4"


def fill(store, animals: list[str], keypoints: list[str], frames: np.ndarray, rng) -> None:
    from napari_superanimal.labels.model import Point

    for start in range(0, len(frames), 500):
        changes = {}
        for f in frames[start : start + 500]:
            changes[int(f)] = {
                (a, k): Point(k, *rng.uniform(0, 480, 2), "labeled", None, a)
                for a in animals
                for k in keypoints
            }
        store.apply_frames(VIDEO, changes)


def run(n_animals: int, n_frames: int, n_labeled: int) -> dict:
    from napari_superanimal.labels.store import LabelStore
    from napari_superanimal.zoo import KEYPOINT_SETS

    keypoints = list(KEYPOINT_SETS["superanimal_topviewmouse"])
    animals = [f"mouse{i + 1}" for i in range(n_animals)]
    folder = WORK / f"animals_store_{n_animals}"
    shutil.rmtree(folder, ignore_errors=True)
    rng = np.random.default_rng(0)
    frames = np.unique(np.linspace(0, n_frames - 1, n_labeled).astype(int))
    with LabelStore.open(folder / "labels.sqlite") as store:
        t = time.perf_counter()
        fill(store, animals, keypoints, frames, rng)
        fill_s = time.perf_counter() - t
        commits, reads = [], []
        for _ in range(1000):
            f, a, k = int(rng.integers(n_frames)), rng.choice(animals), rng.choice(keypoints)
            t = time.perf_counter()
            store.set_point(VIDEO, f, k, 10.0, 20.0, individual=str(a))
            commits.append(time.perf_counter() - t)
        for _ in range(1000):
            f = int(rng.choice(frames))
            t = time.perf_counter()
            store.animals(VIDEO, f)
            reads.append(time.perf_counter() - t)
        swap_s = undo_s = float("nan")
        if n_animals > 1:
            tail = frames[frames >= int(0.9 * n_frames)]
            t = time.perf_counter()
            store.reassign(VIDEO, {animals[0]: animals[1], animals[1]: animals[0]}, tail)
            swap_s = time.perf_counter() - t
            t = time.perf_counter()
            store.undo()
            undo_s = time.perf_counter() - t
        rows = store._conn.execute("SELECT COUNT(*) FROM labels").fetchone()[0]
    c50, c95 = percentiles_ms(commits)
    r50, r95 = percentiles_ms(reads)
    return {
        "animals": n_animals,
        "keypoints": len(keypoints),
        "video frames": n_frames,
        "labeled frames": len(frames),
        "points stored": rows,
        "fill (s)": round(fill_s, 1),
        "commit p50 (ms)": round(c50, 2),
        "commit p95 (ms)": round(c95, 2),
        "commit max (ms)": round(max(commits) * 1e3, 1),
        "frame read p95 (ms)": round(r95, 3),
        "swap last 10% (ms)": round(swap_s * 1e3, 1),
        "its undo (ms)": round(undo_s * 1e3, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=100_000)
    parser.add_argument("--labeled", type=int, default=5000)
    args = parser.parse_args()
    table = [run(n, args.frames, args.labeled) for n in (1, 3)]
    print_table(table, list(table[0]))
    save("bench_animals_store", {"machine": machine(), "table": table})


if __name__ == "__main__":
    main()
