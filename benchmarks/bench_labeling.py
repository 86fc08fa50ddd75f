"""Labeling benchmarks (issue "Label in napari..."), with napari under Xvfb.

For synthetic 640x480 videos of 1k, 10k and 100k frames, each converted to a frame store, with
predictions of a 27-keypoint model on every frame and 1k-5k frames labeled (all 27 points
accepted), in a fresh process per video:

- frame step: ``viewer.dims.set_current_step`` + Qt event processing (image slice, keypoints
  layer, widget panel, repaint), for 300 consecutive steps and 200 random jumps (p50 / p95),
  once the dock's background work (PyTorch imported in a worker, thumbnails) has ended;
  the same with napari alone (the video layer, no overlay, no widget), the floor under Xvfb;
  and our part alone (keypoints layer update + widget panel, no repaint);
- edit commit: ``Session.label`` (committed to SQLite when it returns), and the whole drag path
  (napari's ``Points._move`` -> our handler -> commit -> layer redrawn), p50 / p95;
- peak RSS of the process.

With ``--animals 3`` the project labels three animals (issue "Every animal in the frame..."):
every frame has each animal's predictions, the labeled frames have all three accepted, and the
viewer draws 81 points a frame; results go to ``bench_labeling_animals3.json`` (``--name``
names another file: ``--animals 1 --kills 0 --name bench_labeling_animals1`` is the one-animal
baseline for the same session).

Then the crash check: a writer editing through ``Session.label`` is SIGKILLed 200 times.

Usage: ``xvfb-run -a python benchmarks/bench_labeling.py [--sizes 1000 10000 100000]
[--kills 200] [--animals 3]``. Stores and projects are cached in ``benchmarks/_work``.
"""

from __future__ import annotations

import argparse
import shutil

from _common import WORK, machine, print_table, run_child, save
from make_long_video import make

LABELED = {1000: 1000, 10000: 5000, 100000: 5000}

CHILD = r"""
import random, resource, sys, time
import numpy as np
from pathlib import Path
from qtpy.QtWidgets import QApplication
import napari
from napari.layers.base._base_constants import ActionType
from napari_superanimal import open_video
from napari_superanimal.session import Session
from napari_superanimal.zoo import KEYPOINT_SETS

mp4, store, project, n_labeled = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
n_animals = int(sys.argv[5])
keypoints = KEYPOINT_SETS["superanimal_topviewmouse"]
video = open_video(mp4, store=store)
video.wait()
session = Session.open(video, keypoints=keypoints, project=project)
if n_animals > 1 and not session.individuals:
    session.set_individuals([f"mouse{i + 1}" for i in range(n_animals)])
first = session.individuals[0] if session.individuals else None
n = len(video)
if not session.has_prediction(n - 1):
    rng = np.random.default_rng(0)
    animals = (n_animals,) if n_animals > 1 else ()
    poses = np.empty((n, *animals, len(keypoints), 3), np.float32)
    poses[..., 0] = rng.uniform(0, 639, poses.shape[:-1])
    poses[..., 1] = rng.uniform(0, 479, poses.shape[:-1])
    poses[..., 2] = rng.uniform(0, 1, poses.shape[:-1])
    session.add_predictions(range(n), poses, model_version="bench-model")
    for f in np.linspace(0, n - 1, n_labeled).astype(int):
        session.accept(int(f), threshold=0.0)
counts = session.counts()
rss = {"before_viewer": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
viewer = napari.Viewer(show=True)
viewer.window._qt_window.resize(1300, 850)
app = QApplication.instance()

def step(t):
    t0 = time.perf_counter()
    viewer.dims.set_current_step(0, t)
    app.processEvents()
    return time.perf_counter() - t0

start = n // 2
# napari alone: the same video layer, no keypoints layer, no widget (the floor under Xvfb)
viewer.add_image(video.frames, name="video only", rgb=True)
for _ in range(20):
    app.processEvents()
for t in range(start - 20, start):
    step(t)
bare = [step(t) for t in range(start, start + 100)]
viewer.layers.clear()
from napari_superanimal import show_session
widget = show_session(session, viewer)
# let the dock's background work end first (PyTorch imported in a worker, the Suggestions
# dock's thumbnails): this measures steady stepping, not the first seconds after opening
from qtpy.QtCore import QThreadPool
settle = time.monotonic() + 180
while QThreadPool.globalInstance().activeThreadCount() and time.monotonic() < settle:
    app.processEvents()
    time.sleep(0.01)
for _ in range(20):
    app.processEvents()
for t in range(start - 20, start):  # warm up
    step(t)
sequential = [step(t) for t in range(start, start + 300)]
overlay = []
for t in range(start, start + 100):
    t0 = time.perf_counter()
    widget.overlay.show(t)
    widget._refresh_panel()
    overlay.append(time.perf_counter() - t0)
rng = random.Random(0)
jumps = [step(rng.randrange(n)) for _ in range(200)]

commit = []
for i in range(500):
    t0 = time.perf_counter()
    session.label(start + i % 300, keypoints[i % len(keypoints)], 100 + i % 50, 200.5, first)
    commit.append(time.perf_counter() - t0)

viewer.dims.set_current_step(0, start)
app.processEvents()
layer = widget.overlay.layer
drag = []
for i in range(300):
    j = i % len(layer.data)
    layer.selected_data = {j}
    y, x = layer.data[j]
    t0 = time.perf_counter()
    # what napari does when a drag ends: move the point, then announce the change
    data = layer.data.copy()
    data[j] = (min(y + 1.0, 479.0), min(x + 1.0, 639.0))
    with layer.events.data.blocker():
        layer.data = data
    layer.events.data(value=layer.data, action=ActionType.CHANGED, data_indices=(j,),
                      vertex_indices=((),))
    app.processEvents()
    drag.append(time.perf_counter() - t0)
assert session.animals(start), "drags were not committed"

def pct(v):
    a = np.asarray(v) * 1e3
    return float(np.percentile(a, 50)), float(np.percentile(a, 95))

result = {"frames": n, "animals": n_animals, "points_drawn": len(layer.data),
          "labeled_frames": counts["touched"], "rss_before_viewer_mb": rss["before_viewer"]}
for name, values in [("napari_alone", bare), ("step", sequential), ("jump", jumps),
                     ("overlay", overlay), ("commit", commit), ("drag", drag)]:
    result[name + "_p50_ms"], result[name + "_p95_ms"] = pct(values)
viewer.close()
session.close()
"""


def prepare(n: int, animals: int = 1):
    mp4 = WORK / f"synthetic_{n}.mp4"
    if not mp4.exists():
        make(n, mp4)
    project = f"synthetic_{n}" + (f"_animals{animals}" if animals > 1 else "") + ".superanimal"
    return mp4, WORK / f"synthetic_{n}.frames.zarr", WORK / project


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="*", default=[1000, 10000, 100000])
    parser.add_argument("--kills", type=int, default=200)
    parser.add_argument("--fresh", action="store_true", help="rebuild the projects")
    parser.add_argument("--animals", type=int, default=1, help="animals a frame (default 1)")
    parser.add_argument("--name", help="results file name (default from --animals)")
    args = parser.parse_args()
    rows = []
    for n in args.sizes:
        mp4, store, project = prepare(n, args.animals)
        if args.fresh and project.exists():
            shutil.rmtree(project)
        labeled = str(LABELED.get(n, 1000))
        row = run_child(CHILD, str(mp4), str(store), str(project), labeled, str(args.animals))
        print(row, flush=True)
        rows.append(row)
    columns = ["frames", "animals", "points_drawn", "labeled_frames"]
    measures = ("napari_alone", "step", "jump", "overlay", "commit", "drag")
    columns += [f"{m}_{p}_ms" for m in measures for p in ("p50", "p95")]
    print(f"\nmachine: {machine()}\n")
    print_table(rows, [*columns, "rss_before_viewer_mb", "peak_rss_mb"])
    crash = None
    if args.kills:
        from napari_superanimal.session.crashcheck import run

        mp4, _, _ = prepare(1000)
        target = WORK / "crashcheck.superanimal"
        shutil.rmtree(target, ignore_errors=True)
        crash = run(mp4, target, kills=args.kills, seed=0)
        print(f"\ncrash check: {crash}")
    name = args.name or "bench_labeling" + (f"_animals{args.animals}" if args.animals > 1 else "")
    save(name, {"machine": machine(), "rows": rows, "crash": crash})


if __name__ == "__main__":
    main()
