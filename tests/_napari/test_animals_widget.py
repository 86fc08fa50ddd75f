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


def test_accept_says_why_it_cannot_and_changes_nothing(mice, show, qtbot):
    from napari.utils.notifications import notification_manager

    widget = show(mice, frame=3)
    seen = []
    notification_manager.notification_ready.connect(seen.append)
    try:
        press(widget, qtbot, Qt.Key.Key_A)
        qtbot.waitUntil(lambda: any("one animal a frame" in n.message for n in seen), timeout=5000)
    finally:
        notification_manager.notification_ready.disconnect(seen.append)
    assert mice.animals(3)["mouse1"].keys() == {"nose", "tail_base"}


def test_remove_takes_the_chosen_animal_off_this_frame_only(mice, show):
    widget = show(mice, frame=3)
    widget.animals.choice.setCurrentIndex(1)  # mouse2
    widget.animals.remove_button.click()
    assert mice.animals(3).keys() == {"mouse1"} and mice.animals(6).keys() == {"mouse1", "mouse2"}
    assert list(widget.overlay.layer.features["individual"]) == ["mouse1", "mouse1"]
