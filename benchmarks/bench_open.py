"""How long until a never-seen video's first frame is on screen in napari (issue "A codebase...").

``xvfb-run -a python bench_open.py [--runs 3]``: for the real open-field clip
(``shared/data/openfield``, 2,330 frames) and a synthetic 640x480 video of 100,000 frames (made
once by ``make_long_video.py``, cached in ``_work/``), each run in a fresh process: napari is
imported and its window shown first; then the clock starts at ``viewer.open(path,
plugin="napari-superanimal")`` and stops at the first paint of the canvas with the video's frame
in it (vispy's draw event, the layer present; the frame's pixels are checked to be the video's,
not black). Before every run the video's frame store and project are deleted, so it is never
seen. Also recorded: when the labeling dock appeared, and whether PyTorch had been imported by
the time of the first paint (it must not be: the model loads after the frame is shown). The
floor: napari alone, the same window, ``viewer.add_image`` of an array of the same shape whose
frames cost nothing to read (napari's own first-layer work: its units registry, the thumbnail).

Target: first frame within 1 s, whatever the length. Results: ``results/bench_open.json``.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import SHARED_DATA, WORK, print_table, run_child, save  # noqa: E402

CHILD = r"""
import sys, time
import numpy as np
import napari
from qtpy.QtWidgets import QApplication

path = sys.argv[1]
viewer = napari.Viewer()
viewer.window._qt_window.resize(1300, 850)
viewer.window._qt_window.show()
for _ in range(30):
    QApplication.processEvents()
canvas = viewer.window._qt_viewer.canvas
paints = []
canvas.events.draw.connect(
    lambda e: paints.append((time.perf_counter(), len(viewer.layers), "torch" in sys.modules))
)
t0 = time.perf_counter()
viewer.open(path, plugin="napari-superanimal")
returned = time.perf_counter()
from napari_superanimal._napari.widget import LabelingWidget  # already imported by then, or now
dock = None
deadline = time.monotonic() + 120
while time.monotonic() < deadline:
    QApplication.processEvents()
    if dock is None and any(isinstance(w, LabelingWidget)
                            for w in viewer.window.dock_widgets.values()):
        dock = time.perf_counter()
    first = [p for p in paints if p[1] > 0]
    if first and dock is not None:
        break
    time.sleep(0.001)
first = [p for p in paints if p[1] > 0][0]
shot = viewer.screenshot(canvas_only=True, flash=False)
frame = np.asarray(viewer.layers[0].data[0])
result = {
    "first_paint_s": first[0] - t0,
    "open_call_s": returned - t0,
    "dock_s": None if dock is None else dock - t0,
    "torch_before_paint": bool(first[2]),
    "frames": int(viewer.layers[0].data.shape[0]),
    "frame_mean": float(frame.mean()),
    "shot_mean": float(np.asarray(shot)[..., :3].mean()),
}
for w in viewer.window.dock_widgets.values():
    if isinstance(w, LabelingWidget):
        w.detach()
viewer.close()
"""


FLOOR = r"""
import sys, time
import numpy as np
import napari
from qtpy.QtWidgets import QApplication
from napari_superanimal.video.frame_array import FrameArray

class Constant:  # a video of grey frames that costs nothing to read: napari's part alone
    name = "floor"
    def __init__(self, n):
        self.shape = (n, 480, 640, 3)
    def read_frame(self, i):
        return np.full(self.shape[1:], 120, np.uint8)

viewer = napari.Viewer()
viewer.window._qt_window.resize(1300, 850)
viewer.window._qt_window.show()
for _ in range(30):
    QApplication.processEvents()
paints = []
viewer.window._qt_viewer.canvas.events.draw.connect(
    lambda e: paints.append((time.perf_counter(), len(viewer.layers)))
)
t0 = time.perf_counter()
viewer.add_image(FrameArray(Constant(int(sys.argv[1]))), rgb=True, name="floor")
result = {"first_paint_s": [p[0] for p in paints if p[1]][0] - t0}
viewer.close()
"""


def videos() -> dict[str, Path]:
    """The clip (copied, so its store and project go to _work) and the 100k-frame video."""
    WORK.mkdir(parents=True, exist_ok=True)
    out = {}
    clip = SHARED_DATA / "openfield" / "m3v1mp4.mp4"
    if clip.is_file():
        target = WORK / "open" / "openfield.mp4"
        target.parent.mkdir(exist_ok=True)
        if not target.exists():
            shutil.copy(clip, target)
        out["open-field (2,330 frames)"] = target
    else:
        print(f"no {clip}: the real clip is skipped", file=sys.stderr)
    long = WORK / "open" / "synthetic_100000.mp4"
    if not long.exists():
        from make_long_video import make

        print("making the 100,000-frame video (once; a few minutes)...", flush=True)
        make(100_000, long)
    out["synthetic (100,000 frames)"] = long
    return out


def forget(video: Path) -> None:
    """Delete what opening the video leaves behind: it is never seen again."""
    for suffix in (".frames.zarr", ".superanimal"):
        shutil.rmtree(video.with_name(video.stem + suffix), ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    rows = []
    for name, path in videos().items():
        runs = []
        for _ in range(args.runs):
            forget(path)
            runs.append(run_child(CHILD, str(path)))
        forget(path)
        first = [r["first_paint_s"] for r in runs]
        rows.append(
            {
                "video": name,
                "frames": runs[0]["frames"],
                "first paint median (s)": statistics.median(first),
                "first paint max (s)": max(first),
                "open call (s)": statistics.median(r["open_call_s"] for r in runs),
                "dock (s)": statistics.median(r["dock_s"] for r in runs),
                "torch before paint": any(r["torch_before_paint"] for r in runs),
                "frame shown": all(r["shot_mean"] > 5 and r["frame_mean"] > 5 for r in runs),
                "runs": runs,
            }
        )
    for frames in (2330, 100_000):  # napari alone: add_image of an array that reads nothing
        runs = [run_child(FLOOR, str(frames)) for _ in range(args.runs)]
        first = [r["first_paint_s"] for r in runs]
        rows.append(
            {
                "video": f"napari alone, add_image ({frames:,} grey frames, no reader)",
                "frames": frames,
                "first paint median (s)": statistics.median(first),
                "first paint max (s)": max(first),
                "runs": runs,
            }
        )
    print_table(
        rows,
        [
            "video",
            "frames",
            "first paint median (s)",
            "first paint max (s)",
            "open call (s)",
            "dock (s)",
            "torch before paint",
            "frame shown",
        ],
    )
    ours = [r for r in rows if "torch before paint" in r]
    met = all(r["first paint max (s)"] <= 1.0 and not r["torch before paint"] for r in ours)
    print(f"target (first frame within 1 s, no PyTorch before it): {'met' if met else 'NOT met'}")
    save("bench_open", {"rows": rows, "target_s": 1.0, "met": met})


if __name__ == "__main__":
    main()
