"""npe2 reader: open a video or a frame store as a lazy Image layer and convert it meanwhile.

The layer's data is :attr:`Video.frames` (a dask array); conversion into the zarr store runs in
a napari thread worker with a progress bar in the activity dock. A bad file gives a one-line
notification instead of a traceback or a reader-choice dialog.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import SuperAnimalError
from ..video import VIDEO_SUFFIXES, FrameStore, Video, open_video
from ..video.frame_array import FrameArray
from ..video.store import STORE_SUFFIX

#: Layer metadata key holding the :class:`~napari_superanimal.video.Video`.
VIDEO_KEY = "napari_superanimal.video"
WIDGET_NAME = "Label keypoints"


def get_reader(path: str | list[str]):
    """Return :func:`read_video` if ``path`` is a video file or a frame store, else None."""
    if isinstance(path, list):
        if len(path) != 1:
            return None
        path = path[0]
    path = os.fspath(path)
    p = Path(path)
    if p.suffix.lower() in VIDEO_SUFFIXES and not p.is_dir():
        return read_video
    if p.name.endswith(STORE_SUFFIX) or (p.is_dir() and FrameStore.is_store(p)):
        return read_video
    return None


def read_video(path: str | list[str]) -> list[tuple]:
    """Open ``path`` and return one Image layer; convert it in the background.

    Only the header and the first frame are read here. The layer holds a
    :class:`~napari_superanimal.video.frame_array.FrameArray` (no dask import on this path), and
    both the conversion (whose progress bar makes napari process events) and the labeling dock
    start after the frame is painted, so nothing runs inside napari's open call that delays it.
    """
    from napari.utils.notifications import show_error

    if isinstance(path, list):
        path = path[0]
    try:
        video = open_video(path, convert=False, lazy=True)
    except SuperAnimalError as err:
        show_error(str(err))
        return [(None,)]  # napari's "read, nothing to add": no reader dialog, no traceback

    def after_paint() -> None:
        if not video.complete:
            start_conversion(video)
            stop_with_the_layer(video)
        dock_labeling_widget()

    after_first_paint(after_paint)
    return [(FrameArray(video), layer_kwargs(video), "image")]


def after_first_paint(callback) -> None:
    """Call ``callback`` in the event-loop turn after the current viewer first paints a video
    layer (at once, in the next turn, when nothing will be painted: a hidden viewer, a script)."""
    import napari
    from qtpy.QtCore import QTimer

    viewer = napari.current_viewer()
    if viewer is None:  # read outside a viewer (npe2 in a script): nothing to wait for
        callback()
        return
    qt_window = getattr(viewer.window, "_qt_window", None)
    canvas = getattr(getattr(viewer.window, "_qt_viewer", None), "canvas", None)
    draw = getattr(getattr(canvas, "events", None), "draw", None)
    if draw is None or qt_window is None or not qt_window.isVisible():
        QTimer.singleShot(0, callback)
        return

    def on_draw(event=None) -> None:
        if not any(VIDEO_KEY in layer.metadata for layer in viewer.layers):
            return  # a paint from before the video's layer was added
        draw.disconnect(on_draw)
        QTimer.singleShot(0, callback)

    draw.connect(on_draw)


def dock_labeling_widget() -> None:
    """Open the labeling widget in the current viewer (a notification says why if it fails)."""
    import napari

    viewer = napari.current_viewer()
    if viewer is None:
        return
    try:
        viewer.window.add_plugin_dock_widget("napari-superanimal", WIDGET_NAME)
    except Exception as err:  # noqa: BLE001 - the video is open; say why labeling is not
        from napari.utils.notifications import show_error

        show_error(f"could not open the labeling widget: {err}")


def layer_kwargs(video: Video) -> dict:
    """Image layer settings for a video: RGB, named after the file, its slider named
    ``frame``, the Video in metadata."""
    return {
        "name": video.name,
        "rgb": True,
        "axis_labels": ("frame", "y", "x"),
        "metadata": {VIDEO_KEY: video, "store": str(video.store_path), "fps": video.fps},
    }


def stop_with_the_layer(video: Video) -> None:
    """Stop the video's conversion (after its current shard) when its layer leaves the viewer
    or napari quits: closing napari must not wait minutes for a long conversion, which resumes
    where it stopped the next time the video is opened."""
    import napari
    from qtpy.QtWidgets import QApplication

    viewer = napari.current_viewer()
    if viewer is not None:

        def on_removed(event) -> None:
            if event.value.metadata.get(VIDEO_KEY) is video:
                viewer.layers.events.removed.disconnect(on_removed)
                video.stop_conversion()

        viewer.layers.events.removed.connect(on_removed)
    app = QApplication.instance()
    if app is not None:
        app.aboutToQuit.connect(video.stop_conversion)


def start_conversion(video: Video):
    """Convert ``video`` in a napari thread worker, with a progress bar; return the worker."""
    from napari.qt.threading import create_worker
    from napari.utils import progress
    from napari.utils.notifications import show_error, show_info

    bar = progress(total=len(video), desc=f"Converting {video.name}")
    worker = create_worker(video.convert_iter, _start_thread=False)

    def on_yield(done: int) -> None:
        bar.update(done - bar.n)

    def on_error(err: Exception) -> None:
        bar.close()
        show_error(str(err) if isinstance(err, SuperAnimalError) else f"{video.name}: {err!r}")

    def on_finish() -> None:
        bar.close()
        if video.complete:
            show_info(f"{video.name}: converted to {video.store_path}")

    worker.yielded.connect(on_yield)
    worker.errored.connect(on_error)
    worker.finished.connect(on_finish)
    worker.start()
    return worker
