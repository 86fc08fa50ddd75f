"""The dock's "Animal from" choice: SuperAnimal's detector (default), a box drawn in napari,
or whole frames; the predictions shown follow it."""

from __future__ import annotations

import numpy as np
import pytest

from fixtures.zoo import MOBILENET
from napari_superanimal import open_video
from napari_superanimal._napari.boxes import BOX_LAYER
from napari_superanimal._napari.forms import DRAWN_BOX, WHOLE_FRAME, ZOO_CHOICES
from napari_superanimal.session import Session
from napari_superanimal.zoo.registry import DEFAULT_DETECTOR

pytestmark = [pytest.mark.gui, pytest.mark.slow]
FRAME = 2


def _shows(session, frame, expected) -> bool:
    """Whether ``frame`` shows ``expected`` (``(K, 3)``, or ``(K, 2)``: the places only)."""
    shown = session.prediction(frame)
    if shown is None:
        return False
    return np.allclose(shown[:, : expected.shape[1]], expected, atol=1e-4, equal_nan=True)


def test_the_animal_comes_from_the_detector_a_drawn_box_or_the_whole_frame(
    zoo_cache, mouse_video, show, qtbot, tmp_path
):
    zoo_cache(detectors=(MOBILENET,))
    path, _ = mouse_video(n_frames=4, size=(128, 160))
    session = Session.open(open_video(path, convert=False))
    widget = show(session, frame=FRAME)
    form = widget.model_choice
    assert form.boxes.value == f"detector {DEFAULT_DETECTOR}"  # DeepLabCut's pipeline
    form.boxes.value = f"detector {MOBILENET}"
    form.model.value = ZOO_CHOICES[0]
    qtbot.waitUntil(lambda: session.has_prediction(FRAME), timeout=180_000)
    model = session.model
    assert model.detector.variant == MOBILENET
    pixels = session.video.read_frame(FRAME)[None]
    box = model.detector.load(model.device).best_boxes(pixels)
    assert np.isfinite(box).all()
    assert _shows(session, FRAME, model.predict(pixels, boxes=box)[0])

    # A drawn box: the dock asks for it in a Shapes layer, then crops every frame around it.
    form.boxes.value = DRAWN_BOX
    layer = widget.viewer.layers[BOX_LAYER]
    assert widget.viewer.layers.selection.active is layer and layer.mode == "add_rectangle"
    region = (30.0, 20.0, 90.0, 70.0)  # x, y, w, h
    expected = model.predict(pixels, boxes=np.array([region]))[0]
    layer.add_rectangles(np.array([[20.0, 30.0], [90.0, 120.0]]))  # (row, column) corners
    qtbot.waitUntil(lambda: _shows(session, FRAME, expected), timeout=180_000)
    widget.viewer.screenshot(str(tmp_path / "drawn.png"), canvas_only=False)

    # The whole frame: the model no longer needs its detector.
    form.boxes.value = WHOLE_FRAME
    qtbot.waitUntil(lambda: not model.top_down, timeout=60_000)
    assert session.model is model
    whole = model.predict(pixels)[0]
    qtbot.waitUntil(lambda: _shows(session, FRAME, whole), timeout=180_000)
    session.close()


def test_boxes_drawn_around_animals_seed_each_one_on_its_frame(mouse_video, show, qtbot, tmp_path):
    """A species without a detector: each rectangle belongs to the animal chosen in the dock
    and the frame it was drawn on; that animal is followed from there."""
    from napari_superanimal.model.inference import PoseEstimator
    from napari_superanimal.model.networks import build_network

    keypoints = ("nose", "tail_base", "neck")
    path, _ = mouse_video(n_frames=6, size=(128, 160))
    network = build_network("light_resnet18", len(keypoints))
    model = PoseEstimator(network, keypoints, "cpu", "crops-net", crops=True)
    session = Session.open(open_video(path, convert=False), model=model, keypoints=keypoints)
    session.set_individuals(["mouse1", "mouse2"])
    widget = show(session, frame=FRAME)
    widget._on_animal_chosen("mouse2")
    widget.model_choice.boxes.value = DRAWN_BOX
    layer = widget.viewer.layers[BOX_LAYER]
    layer.add_rectangles(np.array([[20.0, 30.0], [90.0, 120.0]]))  # (row, column) corners
    assert layer.features["individual"].tolist() == ["mouse2"]
    assert layer.features["frame"].tolist() == [FRAME]
    pixels = session.video.read_frame(FRAME)[None]
    expected = model.predict(pixels, boxes=np.array([[30.0, 20.0, 90.0, 70.0]]))[0]
    qtbot.waitUntil(lambda: session.prediction(FRAME, "mouse2") is not None, timeout=120_000)
    np.testing.assert_allclose(session.prediction(FRAME, "mouse2"), expected, atol=1e-4)
    assert np.isnan(session.all_predictions()[FRAME, 0, :, :2]).all()  # not drawn nor labeled
    widget.viewer.screenshot(str(tmp_path / "drawn_animals.png"), canvas_only=False)
    session.close()


def test_a_model_trained_on_whole_frames_shows_and_keeps_the_whole_frame(
    zoo_cache, mouse_video, show, qtbot
):
    """The "Animal from" choice says what the model does: a version trained on whole frames has no
    detector, so choosing one is refused in a notification, and the detector the user chose
    comes back with a SuperAnimal model."""
    from napari.utils.notifications import notification_manager

    from napari_superanimal.model.inference import PoseEstimator
    from napari_superanimal.model.networks import build_network
    from napari_superanimal.zoo import KEYPOINT_SETS

    zoo_cache(detectors=(MOBILENET,))
    keypoints = KEYPOINT_SETS["superanimal_topviewmouse"]
    path, _ = mouse_video(n_frames=4, size=(128, 160))
    network = build_network("light_resnet18", len(keypoints))
    model = PoseEstimator(network, keypoints, "cpu", "whole-net")
    session = Session.open(open_video(path, convert=False), model=model, keypoints=keypoints)
    widget = show(session, frame=FRAME)
    form = widget.model_choice
    assert form.boxes.value == WHOLE_FRAME
    pixels = session.video.read_frame(FRAME)[None]
    whole = model.predict(pixels)[0, :, :2]  # (scores: lowered where a point jumps in the clip)
    qtbot.waitUntil(lambda: _shows(session, FRAME, whole), timeout=120_000)

    seen = []
    notification_manager.notification_ready.connect(seen.append)
    try:
        form.boxes.value = f"detector {MOBILENET}"
    finally:
        notification_manager.notification_ready.disconnect(seen.append)
    assert any("trained on whole frames" in str(n.message) for n in seen)
    assert form.boxes.value == WHOLE_FRAME
    assert not model.top_down and _shows(session, FRAME, whole)

    form.model.value = next(c for c in ZOO_CHOICES if c.startswith("superanimal_topviewmouse"))
    qtbot.waitUntil(lambda: session.model is not model, timeout=180_000)
    assert session.model.detector.variant == MOBILENET
    assert form.boxes.value == f"detector {MOBILENET}"
    session.close()
