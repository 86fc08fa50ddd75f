"""A round on several animals trains the top-down model on one crop per labeled animal, and the
new version finds the animals with its base model's detector."""

from __future__ import annotations

import numpy as np
import pytest

from fixtures.zoo import MOBILENET
from napari_superanimal.model.boxes import BOX_MARGIN
from napari_superanimal.model.inference import TOP_DOWN_SIZE
from napari_superanimal.model.preprocess import crop_with_context
from napari_superanimal.session import Session
from napari_superanimal.train.animals import CropFrames, cut_animal_crops

pytestmark = pytest.mark.slow
MICE = ("mouse1", "mouse2")
# frame f: mouse1's nose and tail_base, then mouse2's (x, y), moving 2 px a frame
NOSE1, TAIL1, NOSE2, TAIL2 = (30.0, 30.0), (60.0, 50.0), (100.0, 80.0), (130.0, 100.0)


@pytest.fixture()
def mice(zoo_cache, mouse_video):
    zoo_cache(detectors=(MOBILENET,))
    video, _ = mouse_video(n_frames=10, size=(128, 160), seed=4)
    with Session.open(video, "superanimal_topviewmouse", detector=MOBILENET) as session:
        session.set_individuals(list(MICE))
        for f in range(0, 10, 2):  # 5 frames, 2 animals each: 10 crops
            for animal, points in (("mouse1", (NOSE1, TAIL1)), ("mouse2", (NOSE2, TAIL2))):
                for name, (x, y) in zip(("nose", "tail_base"), points, strict=True):
                    session.label(f, name, x + 2 * f, y, individual=animal)
        yield session


def test_each_labeled_animal_is_one_crop_as_the_detector_would_see_it(mice, tmp_path):
    crops = cut_animal_crops(mice, tmp_path)
    assert len(crops.labels) == 10 and crops.animals[:2] == ["mouse1", "mouse2"]
    frames = CropFrames(crops.path)
    assert frames.shape == (10, *TOP_DOWN_SIZE[::-1], 3)
    # crop 1: mouse2 on frame 0, its box the labels' extent plus the margin
    x0, y0 = NOSE2[0] - BOX_MARGIN, NOSE2[1] - BOX_MARGIN
    box = (x0, y0, TAIL2[0] - NOSE2[0] + 2 * BOX_MARGIN, TAIL2[1] - NOSE2[1] + 2 * BOX_MARGIN)
    crop, transform = crop_with_context(mice.read_frame(0), box, TOP_DOWN_SIZE)
    np.testing.assert_array_equal(frames.read_frame(1), crop)
    points = crops.labels[1].points
    back = transform.to_frame(np.c_[points, np.zeros(len(points))])
    np.testing.assert_allclose(back[mice.keypoints.index("nose"), :2], NOSE2)
    assert crops.scales[1] == pytest.approx(transform.scale_x)


def test_a_round_on_several_animals_keeps_the_detector_and_predicts_each_animal(mice):
    folder = mice.project.folder / "models" / ".crops"
    base = mice.model_version
    result = mice.finetune(steps=2, batch_size=2, eval_every=1, jitter_frames=0)
    info = result.info
    assert info["top_down"] and info["animal_crops"] == 10
    # every sample is the animal in its box, black past the frame, as inference crops it
    assert info["background_crops"] == 0 and info["padding"] == "constant"
    assert info["animals_trained"] == list(MICE)
    frames = info["train_frames"][mice.video_key] + info["test_frames"][mice.video_key]
    assert set(frames) <= {0, 2, 4, 6, 8}  # video frames, not crop numbers
    assert info["test_after"]["frames"] >= 1 and np.isfinite(info["test_after"]["pixels"])
    assert info["detector"]["variant"] == MOBILENET
    assert mice.model is result.estimator and mice.model.top_down
    assert not list(folder.glob("*.npy"))  # the crops went with the round
    # the base model's replayed predictions were of crops: none went into the video's
    assert mice.project.predictions(mice.video_key, base) is None
    poses = mice.predict([0, 1])
    assert poses.shape == (2, 2, 27, 3)
    reloaded = mice.versions.load(result.version)
    assert reloaded.detector.variant == MOBILENET  # and so after reopening the project


def test_a_light_network_learns_the_crops_and_borrows_the_detector(mice):
    result = mice.finetune(arch="light_resnet18", steps=2, batch_size=2, jitter_frames=0)
    assert result.info["arch"] == "light_resnet18" and result.info["input_scale"] == 1.0
    assert result.estimator.top_down and result.estimator.detector.variant == MOBILENET
    assert mice.predict([3]).shape == (1, 2, 27, 3)


def test_a_species_without_a_detector_trains_on_crops_and_follows_its_animals(mouse_video):
    video, _ = mouse_video(n_frames=10, size=(128, 160), seed=4)
    with Session.open(video, keypoints=("nose", "tail_base", "neck")) as session:
        session.set_individuals(list(MICE))
        for f in range(0, 10, 2):
            for animal, points in (("mouse1", (NOSE1, TAIL1)), ("mouse2", (NOSE2, TAIL2))):
                for name, (x, y) in zip(("nose", "tail_base"), points, strict=True):
                    session.label(f, name, x + 2 * f, y, individual=animal)
        result = session.finetune(steps=2, batch_size=2, jitter_frames=0)  # no model: light
        assert result.info["top_down"] and "detector" not in result.info
        assert session.model.top_down and session.model.detector is None
        poses = session.predict([1, 2, 3])  # from frame 2's labels, back to 1 and on to 3
        assert poses.shape == (3, 2, 3, 3)
        reloaded = session.versions.load(result.version)
        assert reloaded.top_down and reloaded.detector is None  # and so after reopening


def test_adaptation_pseudo_labels_every_animal_the_model_found(mouse_video):
    from napari_superanimal.train.job import TrainingError

    video, _ = mouse_video(n_frames=10, size=(128, 160), seed=4)
    with Session.open(video, keypoints=("nose", "tail_base", "neck")) as session:
        session.set_individuals(list(MICE))
        for f in (0, 4):
            for animal, points in (("mouse1", (NOSE1, TAIL1)), ("mouse2", (NOSE2, TAIL2))):
                for name, (x, y) in zip(("nose", "tail_base"), points, strict=True):
                    session.label(f, name, x + 2 * f, y, individual=animal)
        session.finetune(steps=2, batch_size=2, jitter_frames=0)
        with pytest.raises(TrainingError, match="predict the video first"):
            session.adapt(every=2, steps=2, pseudo_threshold=0.0, jitter_frames=0)
        session.predict()  # every animal followed from its labels
        result = session.adapt(every=2, steps=2, pseudo_threshold=0.0, jitter_frames=0)
        info = result.info
        assert info["adapted"] and info["top_down"]
        # frames 2, 6 and 8: both mice pseudo-labeled; 0 and 4 train on the user's labels
        assert info["pseudo_frames"][session.video_key] == [2, 6, 8]
        assert info["animals_trained"] == list(MICE)
        assert session.model.top_down and session.predict([5]).shape == (1, 2, 3, 3)
