"""Show the demo's session in napari, or render it to a PNG (``python -m ... VIDEO PNG``)."""

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
    """A viewer on the demo's session (video, keypoints layer, labeling widget), with the
    ground truth as a hidden layer to compare against."""
    import napari

    from .._napari.show import show_session
    from ..session import Session

    viewer = napari.Viewer(show=show, title="napari-superanimal demo")
    session = Session.open(video_path)  # loads the trained model after the window: no crash
    show_session(session, viewer)
    truth = np.load(Path(video_path).with_suffix(".keypoints.npz"))["keypoints"]
    t = len(truth)
    truth = truth.reshape(t, -1, 2)  # every mouse's keypoints in a row (crossing mice)
    frames = np.repeat(np.arange(t), truth.shape[1])
    data = np.column_stack([frames, truth[..., 1].ravel(), truth[..., 0].ravel()])
    names = np.tile(np.array(KEYPOINTS), t * truth.shape[1] // len(KEYPOINTS))
    viewer.add_points(
        data,
        name="ground truth",
        features={"keypoint": names},
        face_color="keypoint",
        face_color_cycle=KEYPOINT_COLORS[: len(KEYPOINTS)],
        size=3,
        border_width=0,
        visible=False,
    )
    viewer.layers.selection.active = viewer.layers["keypoints"]
    labeled = session.labeled_frames()
    unlabeled = [f for f in range(t // 3, t) if f not in labeled]
    viewer.dims.set_point(0, unlabeled[0] if unlabeled else t // 2)
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
    viewer.reset_view()  # fit the frame to the canvas at its final size
    for _ in range(5):
        QApplication.processEvents()
    viewer.screenshot(str(png), canvas_only=False)
    viewer.close()


if __name__ == "__main__":
    screenshot(Path(sys.argv[1]), Path(sys.argv[2]))
