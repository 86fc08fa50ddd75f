"""Labeling in napari: the widget, the keypoints layer and key bindings, checked in the store.

Real napari under Xvfb; edits go through the layer's own mouse bindings and real key presses on
the canvas, then the label store is read back.
"""

from __future__ import annotations

import numpy as np
import pytest
from qtpy.QtCore import Qt

from fixtures.napari import mouse_event as _event
from fixtures.napari import press
from fixtures.sessions import KEYPOINTS, VERSION
from napari_superanimal import open_video
from napari_superanimal._napari.widget import PREFETCH
from napari_superanimal.session import Session

pytestmark = pytest.mark.gui


@pytest.fixture()
def session(predicted_session):
    """Predictions of ``test-model`` on every frame (right_ear below the 0.5 threshold)."""
    return predicted_session


@pytest.fixture()
def widget(session, show):
    return show(session, frame=3)


def mouse_drag(viewer, layer, start, end):
    """Press at ``start``, move to ``end``, release: world (frame, y, x) positions."""
    from napari.utils.interactions import (
        mouse_move_callbacks,
        mouse_press_callbacks,
        mouse_release_callbacks,
    )

    mouse_press_callbacks(layer, _event("mouse_press", start, layer))
    mid = tuple((np.array(start) + np.array(end)) / 2)
    mouse_move_callbacks(layer, _event("mouse_move", mid, layer))
    mouse_move_callbacks(layer, _event("mouse_move", end, layer))
    mouse_release_callbacks(layer, _event("mouse_release", end, layer))


def point_of(widget, name):
    shown = [p.keypoint for p in widget.overlay.shown]
    i = shown.index(name)
    return i, widget.overlay.layer.data[i]


def test_layer_shows_only_the_frame_in_view(widget, session):
    layer = widget.overlay.layer
    for frame in (3, 120, 0):
        widget.viewer.dims.set_current_step(0, frame)
        pred = session.prediction(frame)
        assert len(layer.data) == len(KEYPOINTS)
        np.testing.assert_allclose(layer.data[:, ::-1], pred[:, :2], rtol=1e-6)
    # predictions fade with confidence; the one below the threshold is a cross
    symbols = [str(s) for s in layer.symbol]
    assert symbols[2] == "cross" and symbols[0] == "disc"
    assert layer.face_color[0, 3] > layer.face_color[3, 3] > layer.face_color[2, 3]
    assert widget.keypoint_list.count() == len(KEYPOINTS)
    assert "Ctrl+Z" in widget.help_label.text()


def test_dragging_a_prediction_makes_it_a_label(widget, session):
    i, (y, x) = point_of(widget, "left_ear")
    mouse_drag(widget.viewer, widget.overlay.layer, (3, y, x), (3, 40.0, 50.0))
    stored = session.labels(3)["left_ear"]
    assert (stored.state, stored.model_version) == ("labeled", VERSION)
    assert (stored.x, stored.y) == pytest.approx((50.0, 40.0))
    assert str(widget.overlay.layer.symbol[i]) == "diamond"  # drawn as a label now
    assert set(session.labels(3)) == {"left_ear"}  # the other points did not move
    assert "labeled frames: 1" in widget.counts_label.text()


def test_click_a_keypoint_then_the_image_places_it(widget, session, qtbot):
    session.delete(3, KEYPOINTS)
    item = widget.keypoint_list.item(KEYPOINTS.index("tail_base"))
    rect = widget.keypoint_list.visualItemRect(item)
    qtbot.mouseClick(widget.keypoint_list.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert widget.overlay.layer.mode == "add"
    layer = widget.overlay.layer
    from napari.utils.interactions import mouse_press_callbacks, mouse_release_callbacks

    mouse_press_callbacks(layer, _event("mouse_press", (3, 70.0, 30.0), layer))
    mouse_release_callbacks(layer, _event("mouse_release", (3, 70.0, 30.0), layer))
    stored = session.labels(3)["tail_base"]
    assert (stored.state, stored.x, stored.y) == ("labeled", 30.0, 70.0)
    assert layer.mode == "select"  # one click places one keypoint
    assert len(layer.data) == len(KEYPOINTS)  # no stray extra point


def test_accept_key_accepts_predictions_above_the_slider(widget, session, qtbot):
    press(widget, qtbot, Qt.Key.Key_A)
    labels = session.labels(3)
    assert {k: p.state for k, p in labels.items()} == {
        "nose": "accepted",
        "left_ear": "accepted",
        "tail_base": "accepted",
    }  # right_ear (0.3) stays a prediction
    assert labels["nose"].model_version == VERSION
    widget.threshold_slider.setValue(20)
    press(widget, qtbot, Qt.Key.Key_A)
    assert session.labels(3)["right_ear"].state == "accepted"
    assert "accepted frames: 1" in widget.counts_label.text()


def test_hide_key_toggles_the_selected_keypoint(widget, session, qtbot):
    i, _ = point_of(widget, "nose")
    widget.overlay.layer.selected_data = {i}
    press(widget, qtbot, Qt.Key.Key_H)
    assert session.labels(3)["nose"].state == "hidden"
    assert "nose" not in [p.keypoint for p in widget.overlay.shown]  # not drawn
    assert "nose  (hidden)" in [
        widget.keypoint_list.item(j).text() for j in range(widget.keypoint_list.count())
    ]  # but listed
    widget.keypoint_list.setCurrentRow(KEYPOINTS.index("nose"))
    press(widget, qtbot, Qt.Key.Key_H)
    assert "nose" not in session.labels(3)  # back to the prediction


def test_delete_key_removes_the_selected_label(widget, session, qtbot):
    session.label(3, "right_ear", 33.0, 44.0)
    widget._redraw()
    i, (y, x) = point_of(widget, "right_ear")
    assert (y, x) == (44.0, 33.0)
    widget.overlay.layer.selected_data = {i}
    press(widget, qtbot, Qt.Key.Key_Delete)
    assert "right_ear" not in session.labels(3)
    _, (y, x) = point_of(widget, "right_ear")  # the prediction shows again
    np.testing.assert_allclose((x, y), session.prediction(3)[1 + 1, :2], rtol=1e-6)


def test_undo_and_redo_keys(widget, session, qtbot):
    press(widget, qtbot, Qt.Key.Key_A)
    assert len(session.labels(3)) == 3
    press(widget, qtbot, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert session.labels(3) == {}
    assert all(str(s) != "square" for s in widget.overlay.layer.symbol)
    press(
        widget,
        qtbot,
        Qt.Key.Key_Z,
        Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier,
    )
    assert len(session.labels(3)) == 3
    # undo of an edit on another frame brings that frame into view
    widget.viewer.dims.set_current_step(0, 50)
    press(widget, qtbot, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert widget.frame == 3 and session.labels(3) == {}


def test_frame_keys_step_jump_and_find_labeled_frames(widget, session, qtbot):
    session.label(10, "nose", 5, 5)
    session.label(90, "nose", 5, 5)
    press(widget, qtbot, Qt.Key.Key_Right)
    assert widget.frame == 4
    press(widget, qtbot, Qt.Key.Key_Left)
    press(widget, qtbot, Qt.Key.Key_Left)
    assert widget.frame == 2
    press(widget, qtbot, Qt.Key.Key_Right, Qt.KeyboardModifier.ShiftModifier)
    assert widget.frame == 10
    press(widget, qtbot, Qt.Key.Key_Right, Qt.KeyboardModifier.ShiftModifier)
    assert widget.frame == 90
    press(widget, qtbot, Qt.Key.Key_Left, Qt.KeyboardModifier.ShiftModifier)
    assert widget.frame == 10
    press(widget, qtbot, Qt.Key.Key_J)  # the frame box, its number selected: type over it
    assert widget.frame_box.lineEdit().selectedText() == "10"
    qtbot.keyClicks(widget.frame_box, "120")
    qtbot.keyClick(widget.frame_box, Qt.Key.Key_Return)
    assert widget.frame == 120


@pytest.fixture()
def predicting(show, video_copy):
    """A widget on a session with an untrained light model, frame 30 just put in view."""
    import torch

    from napari_superanimal.model.inference import PoseEstimator
    from napari_superanimal.model.networks import build_network

    torch.manual_seed(0)
    model = PoseEstimator(build_network("light_resnet18", 4), KEYPOINTS, device="cpu")
    with Session.open(open_video(video_copy, convert=False), model=model) as session:
        widget = show(session, frame=30)
        yield session, widget, model


def test_predictions_come_from_a_background_worker(predicting, qtbot):
    session, widget, model = predicting
    assert widget.worker is not None  # the GUI thread did not run the model
    qtbot.waitUntil(lambda: session.has_prediction(30) and widget.worker is None, timeout=60_000)
    qtbot.waitUntil(lambda: len(widget.overlay.layer.data) == 4, timeout=10_000)
    expect = model.predict(session.read_frame(30))
    np.testing.assert_allclose(widget.overlay.layer.data[:, ::-1], expect[:, :2], atol=1e-3)
    # frames after the one in view were prefetched, and they persist in the project
    assert all(session.has_prediction(f) for f in range(30, 39))
    stored = session.project.frame_predictions(session.video_key, 35, model.name)
    np.testing.assert_allclose(stored, session.prediction(35))


def test_opening_a_video_docks_the_widget_and_creates_its_project(
    make_napari_viewer, video_copy, qtbot
):
    from napari_superanimal._napari.widget import LabelingWidget

    viewer = make_napari_viewer()
    viewer.open(str(video_copy), plugin="napari-superanimal")
    qtbot.waitUntil(
        lambda: any(isinstance(w, LabelingWidget) for w in _dock_widgets(viewer)), timeout=10_000
    )
    widget = next(w for w in _dock_widgets(viewer) if isinstance(w, LabelingWidget))
    assert widget.session is not None
    assert (video_copy.parent / "clip.superanimal" / "project.json").is_file()
    assert "keypoints" in [layer.name for layer in viewer.layers]
    widget.session.close()


def _dock_widgets(viewer):
    return list(viewer.window.dock_widgets.values())


def test_skeleton_lines_join_the_drawn_keypoints(show, video_copy):
    from napari_superanimal.labels.project import Project

    folder = video_copy.with_name("clip.superanimal")
    skeleton = [("nose", "left_ear"), ("nose", "tail_base")]
    Project.create(folder, KEYPOINTS, skeleton=skeleton).close()
    with Session.open(open_video(video_copy, convert=False), project=folder) as session:
        session.label(0, "nose", 10, 10)
        session.label(0, "tail_base", 50, 60)
        widget = show(session, frame=0)
        skeleton = widget.viewer.layers["skeleton"]
        assert len(skeleton.data) == 1  # left_ear is not placed: one line, nose to tail_base
        np.testing.assert_allclose(skeleton.data[0], [[10, 10], [60, 50]])


def test_a_project_open_in_another_process_is_a_notification_not_a_crash(
    make_napari_viewer, video_copy, qtbot
):
    import subprocess
    import sys

    from napari.utils.notifications import notification_manager

    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_PROJECT, str(video_copy)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "holding"
        seen = []
        notification_manager.notification_ready.connect(seen.append)
        viewer = make_napari_viewer()
        viewer.open(str(video_copy), plugin="napari-superanimal")
        qtbot.waitUntil(lambda: any("another process" in n.message for n in seen), timeout=10_000)
        notification_manager.notification_ready.disconnect(seen.append)
        assert [layer.name for layer in viewer.layers] == ["clip.mp4"]  # the video still opens
        assert all("\n" not in n.message for n in seen)
    finally:
        holder.kill()
        holder.wait()
    with Session.open(video_copy) as session:  # the other process's labels are all there
        assert session.labels(7)["nose"].x == 12.5


HOLD_PROJECT = """
import sys, time
from napari_superanimal.session import Session
s = Session.open(sys.argv[1], keypoints=["nose", "tail_base"])
s.label(7, "nose", 12.5, 3.0)
print("holding", flush=True)
time.sleep(120)
"""


def test_fine_tune_button_trains_a_new_version_and_repredicts_the_frame(labeled_mouse, show, qtbot):
    session, _ = labeled_mouse(range(0, 40, 5))
    widget = show(session, frame=12)
    widget.timeline.controls.strategy.value = "uniform"  # suggestions that stay put
    panel = widget.training
    panel.settings.steps.value = 40
    qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
    assert panel.running and not panel.start_button.isEnabled()
    session.label(13, "nose", 50, 50)  # labeling goes on while it trains
    qtbot.waitUntil(lambda: not panel.running, timeout=120_000)
    assert panel.last_result is not None and "test error on" in panel.status.text()
    assert session.model_version == panel.last_result.version == "light_resnet18-r1"
    assert widget.model_choice.model.value == "light_resnet18-r1"
    assert len(panel.plot.losses) == 40  # the loss plot got every step
    # the frame in view is re-predicted by the new model in the background
    qtbot.waitUntil(lambda: session.has_prediction(12) and widget.worker is None, timeout=60_000)
    # then the suggested frames, far from the one in view, in the background too
    suggested = [f for f in widget.timeline.suggestions if not 12 <= f <= 12 + PREFETCH]
    assert suggested
    qtbot.waitUntil(
        lambda: all(map(session.has_prediction, suggested)) and widget.worker is None,
        timeout=60_000,
    )
    assert session.labels(13)["nose"].x == 50  # the label made during training is kept


@pytest.fixture()
def mid_round(labeled_mouse, show, qtbot):
    """A widget on a 2-frame-labeled video, a long round running (its first step reported)."""
    session, _ = labeled_mouse((0, 10), n_frames=20, seed=3)
    widget = show(session)
    panel = widget.training
    panel.settings.steps.value = 5000
    panel.start()
    qtbot.waitUntil(lambda: panel.latest is not None, timeout=60_000)
    yield session, widget


def test_cancel_leaves_the_previous_model_active(mid_round, qtbot):
    session, widget = mid_round
    panel = widget.training
    qtbot.mouseClick(panel.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not panel.running, timeout=60_000)
    assert panel.last_result is None and "cancelled" in panel.status.text()
    assert session.model is None and session.versions.trained() == []


def test_stop_keeps_the_best_model_so_far(mid_round, qtbot):
    session, widget = mid_round
    panel = widget.training
    qtbot.mouseClick(panel.stop_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not panel.running, timeout=60_000)
    result = panel.last_result
    assert result is not None and result.info["ended_by"] == "stop"
    assert result.info["steps"] < 5000 and session.model_version == result.version
    assert "stop" in panel.status.text()


def test_a_crashed_training_process_is_a_notification_and_loses_nothing(mid_round, qtbot):
    session, widget = mid_round
    panel = widget.training
    from napari.utils.notifications import notification_manager

    seen = []
    notification_manager.notification_ready.connect(seen.append)
    try:
        panel.round.kill()  # the training process dies mid-round (out of memory, say)
        qtbot.waitUntil(lambda: not panel.running, timeout=60_000)
    finally:
        notification_manager.notification_ready.disconnect(seen.append)
    assert "training process ended without a result" in panel.status.text()
    assert any("training process ended" in n.message for n in seen)
    assert session.model is None and session.versions.trained() == []
    assert session.labeled_frames() == [0, 10] and panel.start_button.isEnabled()


def test_closing_the_viewer_mid_round_cancels_it_and_keeps_the_labels(mid_round):
    session, widget = mid_round
    widget.viewer.layers.clear()  # what closing the viewer does first
    assert not widget.training.running and widget.session is None
    assert session.model is None and session.versions.trained() == []
    assert session.labeled_frames() == [0, 10]


def test_frame_is_the_world_coordinate_even_when_another_layer_stretches_the_axis(widget, session):
    # a layer shifted in time (here 5 frames earlier) makes the axis start below 0
    widget.viewer.add_points(
        np.array([[0, 10, 10], [149, 20, 20]]), translate=(-5, 0, 0), name="other"
    )
    widget.viewer.layers.selection.active = widget.overlay.layer
    assert widget.viewer.dims.range[0][0] < 0
    widget.go_to(40)
    video_layer = widget.viewer.layers["clip.mp4"]
    from napari_superanimal.video.synthetic import read_index

    assert read_index(np.asarray(video_layer._data_view)) == 40  # the frame on screen
    assert widget.frame == 40
    np.testing.assert_allclose(
        widget.overlay.layer.data[:, ::-1], session.prediction(40)[:, :2], rtol=1e-6
    )


def test_a_layer_with_more_dimensions_does_not_move_the_frame_axis(widget, session):
    # a 4-D layer adds an axis in front of time: the frame is still read off the video's axis
    widget.viewer.add_points(np.array([[0, 0, 10, 10], [2, 149, 20, 20]]), name="4d")
    widget.viewer.layers.selection.active = widget.overlay.layer
    assert widget.viewer.dims.ndim == 4
    widget.go_to(40)
    video_layer = widget.viewer.layers["clip.mp4"]
    from napari_superanimal.video.synthetic import read_index

    assert read_index(np.asarray(video_layer._data_view)) == 40
    assert widget.frame == 40
    np.testing.assert_allclose(
        widget.overlay.layer.data[:, -1:-3:-1], session.prediction(40)[:, :2], rtol=1e-6
    )


def test_removing_the_video_while_a_prediction_runs_detaches_cleanly(predicting):
    session, widget, _ = predicting
    viewer = widget.viewer
    assert widget.worker is not None
    viewer.layers.clear()  # what closing the viewer does first
    # the running worker finished (its frames are all stored, none half-written), nothing
    # new was started (not frame 30, which waited, nor a frame read off another axis)
    assert widget.worker is None and widget.session is None
    predicted = [f for f in range(len(session)) if session.has_prediction(f)]
    assert len(predicted) == PREFETCH + 1
    assert predicted == list(range(predicted[0], predicted[0] + PREFETCH + 1))
    assert 30 not in predicted
    viewer.dims.set_current_step(0, 5)  # a stray step after detaching does nothing
    assert widget.worker is None


def test_closing_the_session_while_a_prediction_runs_lets_it_finish_first(predicting):
    """A notebook closes the session it showed while the dock still predicts: the dock lets go
    first, so the worker's frames are stored whole and nothing writes to a closed store."""
    session, widget, model = predicting
    assert widget.worker is not None
    session.close()
    assert session.closed and widget.session is None and widget.worker is None
    assert widget.overlay is None and "open a video" in widget.project_label.text()
    with Session.open(open_video(session.video.source_path, convert=False)) as again:
        stored = {
            f: again.project.frame_predictions(again.video_key, f, model.name)
            for f in range(len(again))
        }
    predicted = [f for f, pose in stored.items() if pose is not None]
    # the batch running at the close finished and was stored whole (it may be the frame in
    # view's, or one of suggested frames the dock had moved on to: timing decides)
    assert len(predicted) >= PREFETCH + 1
    assert all(np.isfinite(stored[f]).all() for f in predicted)
