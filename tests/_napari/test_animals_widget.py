"""Several animals in the labeling dock: every animal drawn, the next click labels the chosen
one, and an identity switch is fixed with one button and undone with one key."""

from __future__ import annotations

import numpy as np
import pytest
from qtpy.QtCore import Qt

from fixtures.napari import mouse_event, press
from fixtures.sessions import KEYPOINTS
from napari_superanimal import open_video
from napari_superanimal.labels.project import Project
from napari_superanimal.session import Session

MICE = {  # frame 3: nose and tail_base of each mouse, (x, y)
    "mouse1": {"nose": (10.0, 10.0), "tail_base": (50.0, 60.0)},
    "mouse2": {"nose": (100.0, 20.0), "tail_base": (140.0, 80.0)},
}


@pytest.fixture()
def mice(video_copy, tmp_path):
    folder = tmp_path / "mice.superanimal"
    Project.create(folder, KEYPOINTS, skeleton=[("nose", "tail_base")]).close()
    with Session.open(open_video(video_copy, convert=False), project=folder) as session:
        session.set_individuals(list(MICE))
        for frame in (3, 6):
            for animal, points in MICE.items():
                for name, (x, y) in points.items():
                    session.label(frame, name, x + frame, y, individual=animal)
        yield session


def click_image(widget, y, x):
    from napari.utils.interactions import mouse_press_callbacks, mouse_release_callbacks

    layer = widget.overlay.layer
    mouse_press_callbacks(layer, mouse_event("mouse_press", (widget.frame, y, x), layer))
    mouse_release_callbacks(layer, mouse_event("mouse_release", (widget.frame, y, x), layer))


def test_every_animal_is_drawn_in_its_colour_with_its_own_skeleton(mice, show, tmp_path):
    widget = show(mice, frame=3)
    layer = widget.overlay.layer
    assert list(layer.features["individual"]) == ["mouse1", "mouse1", "mouse2", "mouse2"]
    np.testing.assert_allclose(layer.data[2], [20.0, 103.0])  # mouse2's nose, (y, x)
    rims = layer.border_color
    assert not np.allclose(rims[0], rims[2])  # the two animals' labels differ in colour
    np.testing.assert_allclose(rims[0], rims[1])
    skeleton = widget.viewer.layers["skeleton"]
    assert len(skeleton.data) == 2  # one line per animal, never across animals
    assert not widget.animals.isHidden() and widget.animals.chosen == "mouse1"
    widget.viewer.screenshot(str(tmp_path / "mice.png"), canvas_only=False)


def test_the_next_click_labels_the_chosen_animal_and_I_cycles_animals(mice, show, qtbot):
    widget = show(mice, frame=3)
    press(widget, qtbot, Qt.Key.Key_I)
    assert widget.animals.chosen == "mouse2" and widget.overlay.active_individual == "mouse2"
    item = widget.keypoint_list.item(KEYPOINTS.index("left_ear"))
    rect = widget.keypoint_list.visualItemRect(item)
    qtbot.mouseClick(widget.keypoint_list.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    click_image(widget, 30.0, 120.0)
    assert mice.labels(3, "mouse2")["left_ear"].x == 120.0
    assert "left_ear" not in mice.labels(3, "mouse1")
    assert "left_ear  (labeled)" in [
        widget.keypoint_list.item(i).text() for i in range(widget.keypoint_list.count())
    ]
    press(widget, qtbot, Qt.Key.Key_I)
    assert widget.animals.chosen == "mouse1"  # around again


def test_swap_fixes_an_identity_switch_from_this_frame_on_and_undo_reverts_it(mice, show, qtbot):
    widget = show(mice, frame=6)
    widget.animals.swap_button.click()
    assert mice.labels(6, "mouse1")["nose"].x == 106.0 and mice.labels(3, "mouse1")["nose"].x == 13
    layer = widget.overlay.layer
    np.testing.assert_allclose(layer.data[0], [20.0, 106.0])  # redrawn: mouse1 is where 2 was
    press(widget, qtbot, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert mice.labels(6, "mouse1")["nose"].x == 16.0


def test_each_animals_predictions_are_drawn_and_A_accepts_them_all(mice, show, qtbot):
    poses = np.full((len(mice), 2, 4, 3), np.nan, np.float32)
    poses[:, 0] = (30.0, 40.0, 0.9)  # mouse1 everywhere at (30, 40)
    poses[:, 1] = (120.0, 50.0, 0.9)
    poses[:, 1, 2, 2] = 0.1  # mouse2's right ear unsure
    mice.add_predictions(range(len(mice)), poses, model_version="m1")
    widget = show(mice, frame=3)
    layer = widget.overlay.layer
    qtbot.waitUntil(lambda: len(layer.data) == 8, timeout=5000)
    assert list(layer.features["individual"]) == ["mouse1"] * 4 + ["mouse2"] * 4
    np.testing.assert_allclose(layer.data[5], [50.0, 120.0])  # mouse2's left ear, predicted
    assert str(layer.symbol[6]) == "cross"  # the unsure one
    press(widget, qtbot, Qt.Key.Key_A)
    assert mice.animals(3)["mouse1"].keys() == set(KEYPOINTS)  # two predicted, two labeled
    assert mice.animals(3)["mouse2"].keys() == set(KEYPOINTS) - {"right_ear"}
    assert mice.animals(3)["mouse1"]["nose"].state == "labeled"  # labels are never replaced
    press(widget, qtbot, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert mice.animals(3)["mouse2"].keys() == {"nose", "tail_base"}  # one undo step


def test_a_likely_swap_is_marked_on_the_timeline_and_suggested(mice, show, qtbot):
    poses = np.full((len(mice), 2, 4, 3), np.nan, np.float32)
    t = np.arange(len(mice), dtype=np.float32)
    poses[:, 0, :, 0], poses[:, 0, :, 1] = (10 + t)[:, None], 20.0
    poses[:, 1, :, 0], poses[:, 1, :, 1] = (150 - t)[:, None], 70.0
    poses[:, :, :, 0] += np.arange(4) * 6  # a body 18 px long
    poses[..., 2] = 0.9
    poses[80:] = poses[80:, ::-1]  # the model swaps their names on frame 80
    mice.add_predictions(range(len(mice)), poses, model_version="m1")
    widget = show(mice, frame=3)
    timeline = widget.timeline
    timeline.controls.strategy.value = "swaps"
    qtbot.waitUntil(
        lambda: timeline.swaps == [80] and timeline.suggestions[:1] == [80], timeout=10_000
    )


def test_give_merges_two_tracks_and_a_refusal_is_a_notification(mice, show, qtbot):
    from napari.utils.notifications import notification_manager

    widget = show(mice, frame=6)
    mice.remove_animal(6, "mouse1")  # mouse1 was lost at 6 and found again as "mouse2"
    widget.animals.choice.setCurrentIndex(1)  # mouse2, with mouse1 as the other
    widget.animals.other.setCurrentIndex(0)
    assert not widget.animals.give_button.isHidden()
    seen = []
    notification_manager.notification_ready.connect(seen.append)
    try:
        widget.go_to(3)
        assert widget.animals.give() == 0  # mouse1 has points on frame 3: refused
        qtbot.waitUntil(lambda: any("already has points" in n.message for n in seen), timeout=5000)
        widget.go_to(6)
        widget.animals.give_button.click()
    finally:
        notification_manager.notification_ready.disconnect(seen.append)
    assert mice.animals(6).keys() == {"mouse1"} and mice.labels(6, "mouse1")["nose"].x == 106
    assert mice.animals(3).keys() == {"mouse1", "mouse2"}  # before: untouched


def test_a_unique_keypoint_is_listed_last_and_a_click_labels_the_scene(mice, show, qtbot):
    mice.set_unique_keypoints(["arena_corner"])
    widget = show(mice, frame=3)
    assert widget.keypoint_set_label.text() == "4 keypoints + 1 unique"
    item = widget.keypoint_list.item(widget.keypoint_list.count() - 1)
    assert item.data(Qt.ItemDataRole.UserRole) == "arena_corner"
    rect = widget.keypoint_list.visualItemRect(item)
    qtbot.mouseClick(widget.keypoint_list.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    click_image(widget, 5.0, 6.0)  # with mouse1 chosen: still the scene's point
    assert mice.labels(3, "single")["arena_corner"].x == 6.0
    assert "arena_corner" not in mice.labels(3, "mouse1")
    assert "arena_corner  (labeled)" in [
        widget.keypoint_list.item(i).text() for i in range(widget.keypoint_list.count())
    ]
    assert ("single", "arena_corner") in [
        tuple(r) for r in widget.overlay.layer.features[["individual", "keypoint"]].to_numpy()
    ]


def test_remove_takes_the_chosen_animal_off_this_frame_only(mice, show):
    widget = show(mice, frame=3)
    widget.animals.choice.setCurrentIndex(1)  # mouse2
    widget.animals.remove_button.click()
    assert mice.animals(3).keys() == {"mouse1"} and mice.animals(6).keys() == {"mouse1", "mouse2"}
    assert list(widget.overlay.layer.features["individual"]) == ["mouse1", "mouse1"]
