"""SuperAnimal predicts as DeepLabCut runs it: top-down around its zoo detector's box, in every
prediction path, unless the user asks for whole frames or draws a box."""

from __future__ import annotations

import numpy as np
import pytest

from fixtures.zoo import MOBILENET
from napari_superanimal import open_video
from napari_superanimal.errors import WeightsNotFoundError
from napari_superanimal.model.boxes import DetectorBoxes
from napari_superanimal.model.inference import load_model
from napari_superanimal.session import Session
from napari_superanimal.zoo.registry import DEFAULT_DETECTOR


@pytest.mark.slow
def test_superanimal_crops_around_its_default_detectors_box(zoo_cache, index_frames):
    zoo_cache(detectors=(DEFAULT_DETECTOR,))
    model = load_model("superanimal_topviewmouse", device="cpu", download=False)
    assert model.top_down and model.detector.variant == DEFAULT_DETECTOR
    frames = np.asarray(index_frames[[3]])
    boxes = model.detector.load("cpu").best_boxes(frames)
    assert np.isfinite(boxes).all()  # the test detector finds an animal
    default = model.predict(frames)
    np.testing.assert_array_equal(default, model.predict(frames, boxes=boxes))
    whole = model.predict(frames, boxes="frame")
    assert not np.allclose(default[..., :2], whole[..., :2])


def test_without_the_detectors_weights_the_error_says_how_to_go_on(zoo_cache, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    zoo_cache(detectors=())  # the pose weights only
    with pytest.raises(WeightsNotFoundError) as err:
        load_model("superanimal_topviewmouse", device="cpu")
    message = str(err.value)
    assert "\n" not in message
    assert f"superanimal_topviewmouse_{DEFAULT_DETECTOR}.pt" in message
    assert "--full-frame" in message and "detector=None" in message
    assert not load_model("superanimal_topviewmouse", device="cpu", detector=None).top_down


def test_session_adaptation_and_cluster_specs_keep_the_detector(zoo_cache, video_copy):
    from napari_superanimal.cluster import ModelSpec
    from napari_superanimal.train.job import BaseModel

    zoo_cache(detectors=(MOBILENET,))
    video = open_video(video_copy, convert=False)
    with Session.open(video, "superanimal_topviewmouse", device="cpu", detector=MOBILENET) as s:
        model = s.model
        assert model.detector.variant == MOBILENET
        poses = s.predict([5, 6])  # the detector on 5; 6 follows the animal from there
        first = video.read_frame(5)[None]
        boxes = DetectorBoxes(model.detector.load("cpu")).boxes(first)
        np.testing.assert_array_equal(poses[:1], model.predict(first, boxes=boxes))
        np.testing.assert_array_equal(s.prediction(6), poses[1])
        # a training round's base model (memory replay, adaptation) and a cluster worker's
        # model are rebuilt elsewhere from these: with the same detector
        assert BaseModel.of(model, "v").load("cpu").detector == model.detector
        spec = ModelSpec.of(model)
        assert spec.load().detector == model.detector
        np.testing.assert_array_equal(spec.load().predict_video(video, [5, 6]), poses)
