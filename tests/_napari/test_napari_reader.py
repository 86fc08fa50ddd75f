"""napari opens videos through this plugin's reader: real viewer, under Xvfb."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from napari_superanimal._napari.reader import VIDEO_KEY, get_reader
from napari_superanimal.video.frame_array import FrameArray
from napari_superanimal.video.synthetic import read_index

pytestmark = pytest.mark.gui
PLUGIN = "napari-superanimal"


def test_reader_claims_videos_and_stores_only(tmp_path, video_copy):
    assert get_reader(str(video_copy)) is not None
    assert get_reader(str(tmp_path / "x.AVI")) is not None
    assert get_reader(str(tmp_path / "x.tif")) is None
    assert get_reader(str(tmp_path)) is None  # a plain folder


def test_open_video_in_viewer_and_scrub(make_napari_viewer, video_copy, index_frames, qtbot):
    viewer = make_napari_viewer()
    layers = viewer.open(str(video_copy), plugin=PLUGIN)
    assert len(layers) == 1
    layer = layers[0]
    assert layer.rgb and layer.data.shape == (150, 96, 160, 3) and layer.data.dtype == np.uint8
    assert isinstance(layer.data, FrameArray)  # lazy without dask: see the next test
    for t in (0, 77, 149, 3, 120):
        viewer.dims.set_current_step(0, t)
        shown = np.asarray(layer._data_view)
        assert shown.shape == (96, 160, 3)
        assert read_index(shown) == t
    video = layer.metadata[VIDEO_KEY]
    if not video.complete:  # the conversion shows a napari progress bar while it runs
        from napari.utils import progress

        def shown_or_done():  # its worker may not have started yet: it starts in the background
            bars = [p.desc for p in progress._all_instances]
            return any(d.startswith("Converting clip.mp4") for d in bars) or video.complete

        qtbot.waitUntil(shown_or_done, timeout=10_000)
    qtbot.waitUntil(lambda: video.complete, timeout=60_000)  # converted in the background
    viewer.dims.set_current_step(0, 42)
    assert read_index(np.asarray(layer._data_view)) == 42


FIRST_PAINT = """
import sys
import napari
from qtpy.QtWidgets import QApplication
viewer = napari.Viewer()
viewer.window._qt_window.show()
for _ in range(10):
    QApplication.processEvents()
seen = []
def on_draw(event):
    if len(viewer.layers) and not seen:
        frame = viewer.layers[0]._data_view
        seen.append(("dask.array" in sys.modules, "torch" in sys.modules, float(frame.mean()),
                     bool(viewer.window.dock_widgets)))
viewer.window._qt_viewer.canvas.events.draw.connect(on_draw)
viewer.open(sys.argv[1], plugin="napari-superanimal")
assert seen, "the video was not painted inside napari's open call"
for _ in range(200):  # the dock follows at once
    QApplication.processEvents()
    if viewer.window.dock_widgets:
        break
print(*seen[0], bool(viewer.window.dock_widgets))
from napari_superanimal._napari.widget import LabelingWidget
for widget in viewer.window.dock_widgets.values():
    if isinstance(widget, LabelingWidget):
        widget.detach()
viewer.close()
"""


def test_the_first_frame_is_painted_before_heavy_imports_and_the_dock(video_copy):
    # What the first frame waits for (bench_open.py times it): dask.array is a second to
    # import, PyTorch five; the dock and the conversion start once the frame is on screen.
    proc = subprocess.run(
        [sys.executable, "-c", FIRST_PAINT, str(video_copy)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    dask_loaded, torch_loaded, mean, docked_before, docked_after = proc.stdout.split()[-5:]
    assert (dask_loaded, torch_loaded) == ("False", "False")
    assert float(mean) > 5  # the video's frame, not a black one
    assert (docked_before, docked_after) == ("False", "True")


def test_open_converted_store_directory(make_napari_viewer, video_copy):
    from napari_superanimal import open_video

    store = open_video(video_copy, convert=False, shard_frames=32).convert().store_path
    viewer = make_napari_viewer()
    layer = viewer.open(str(store), plugin=PLUGIN)[0]
    assert layer.data.shape == (150, 96, 160, 3)
    viewer.dims.set_current_step(0, 99)
    assert read_index(np.asarray(layer._data_view)) == 99


def test_bad_file_gives_a_one_line_notification_and_no_layer(make_napari_viewer, tmp_path):
    from napari.utils.notifications import notification_manager

    bad = tmp_path / "broken.mp4"
    bad.write_text("not a video")
    viewer = make_napari_viewer()
    seen = []
    notification_manager.notification_ready.connect(seen.append)
    try:
        viewer.open(str(bad), plugin=PLUGIN)
    finally:
        notification_manager.notification_ready.disconnect(seen.append)
    assert len(viewer.layers) == 0
    messages = [n.message for n in seen]
    assert any("broken.mp4" in m and "not a video" in m for m in messages), messages
    assert all("\n" not in m for m in messages)


def test_napari_command_opens_video_with_this_plugin_without_a_dialog(video_copy, tmp_path):
    """`napari video.mp4`, exactly as a user types it, with the reader preference registered."""
    env = dict(os.environ, NAPARI_CONFIG=str(tmp_path / "napari-settings.yaml"))
    subprocess.run(
        [sys.executable, "-m", "napari_superanimal.cli", "register-reader", "--quiet"],
        check=True,
        env=env,
    )
    report = tmp_path / "report.txt"
    probe = tmp_path / "probe.py"
    # napari runs a .py file given on its command line after opening the other paths.
    probe.write_text(
        textwrap.dedent(f"""
        import time
        import napari
        from qtpy.QtCore import QTimer
        from qtpy.QtWidgets import QApplication
        viewer = napari.current_viewer()
        viewer.window._qt_window.show()  # napari runs this before it shows its window
        deadline = time.monotonic() + 60  # the labeling widget docks after the first paint
        while time.monotonic() < deadline and len(viewer.layers) < 2:
            QApplication.processEvents()
            time.sleep(0.01)
        layer = viewer.layers[0]
        dialogs = [w for w in QApplication.topLevelWidgets()
                   if w.isVisible() and type(w).__name__ == "QtReaderDialog"]
        with open({str(report)!r}, "w") as fh:
            fh.write(f"{{len(viewer.layers)}} {{layer.data.shape}} {{layer.source.reader_plugin}} "
                     f"{{len(dialogs)}} {{sorted(viewer.window.dock_widgets)}}")
        QTimer.singleShot(0, viewer.close)
    """)
    )
    napari_exe = os.path.join(os.path.dirname(sys.executable), "napari")
    proc = subprocess.run(
        [napari_exe, str(video_copy), str(probe)],
        env=env,
        timeout=180,
        capture_output=True,
        text=True,
    )
    assert report.exists(), proc.stderr[-2000:]
    n_layers, *rest = report.read_text().split(" ", 1)
    assert n_layers == "2"  # the video, and the labeling widget's keypoints layer
    assert "(150, 96, 160, 3)" in rest[0]
    assert f"{PLUGIN} 0 " in rest[0]  # read by this plugin, no reader dialog
    assert "Label keypoints" in rest[0]  # the labeling widget opened with the video


def test_closing_the_video_stops_its_conversion_which_resumes_later(
    make_napari_viewer, tmp_path, qtbot
):
    # Closing napari (or the layer) must not wait minutes for a long video's conversion.
    import time

    from napari_superanimal import open_video
    from napari_superanimal.video.synthetic import write_index_video

    path = write_index_video(tmp_path / "long.mp4", n_frames=3000, size=(240, 320), gop=120)
    viewer = make_napari_viewer()
    layer = viewer.open(str(path), plugin=PLUGIN)[0]
    video = layer.metadata[VIDEO_KEY]
    qtbot.waitUntil(lambda: video.frames_converted > 0, timeout=60_000)
    viewer.layers.remove(layer)
    time.sleep(1.0)  # the shard being written when the layer left may still land
    qtbot.wait(200)
    stopped_at = video.frames_converted
    qtbot.wait(1500)
    assert video.frames_converted == stopped_at < len(video)
    assert not video.complete
    again = open_video(path, convert=False)
    assert again.frames_converted == stopped_at  # resumes from there
    again.convert()
    assert again.complete and read_index(again.read_frame(2999)) == 2999
