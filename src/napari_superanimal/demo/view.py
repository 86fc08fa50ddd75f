"""Show the demo video in napari, or render it to a PNG (``python -m ... VIDEO PNG``)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from .mouse import KEYPOINTS

#: One distinct colour per keypoint (matplotlib's tab10).
KEYPOINT_COLORS = [
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
]


def build_viewer(video_path: Path, show: bool = True):
    """A viewer with the video (through this plugin's reader) and its ground-truth keypoints."""
    import napari

    viewer = napari.Viewer(show=show, title="napari-superanimal demo")
    viewer.open(str(video_path), plugin="napari-superanimal")
    truth = np.load(Path(video_path).with_suffix(".keypoints.npz"))["keypoints"]
    t, k = truth.shape[:2]
    frames = np.repeat(np.arange(t), k)
    data = np.column_stack([frames, truth[..., 1].ravel(), truth[..., 0].ravel()])
    names = np.tile(np.array(KEYPOINTS), t)
    viewer.add_points(
        data,
        name="ground truth",
        features={"keypoint": names},
        face_color="keypoint",
        face_color_cycle=KEYPOINT_COLORS[: len(KEYPOINTS)],
        size=6,
        border_width=0,
        text={"string": "{keypoint}", "size": 8, "color": "white", "anchor": "upper_left"},
    )
    viewer.dims.set_current_step(0, t // 2)
    return viewer


def show_in_napari(video_path: Path) -> None:
    import napari

    build_viewer(video_path)
    napari.run()


def screenshot(video_path: Path, png: Path) -> None:
    from qtpy.QtWidgets import QApplication

    viewer = build_viewer(video_path, show=True)
    viewer.window._qt_window.resize(1300, 850)
    for _ in range(20):
        QApplication.processEvents()
    viewer.screenshot(str(png), canvas_only=False)
    viewer.close()


if __name__ == "__main__":
    screenshot(Path(sys.argv[1]), Path(sys.argv[2]))
