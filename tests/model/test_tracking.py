"""Tracks: the detector runs rarely, identities carry over, DeepLabCut's every-frame boxes when
asked."""

from __future__ import annotations

import numpy as np
import pytest

from napari_superanimal.model.tracking import Tracks, assign, iou


class Scripted:
    """A detector that finds given boxes (best first) on successive calls, and counts them."""

    def __init__(self, script):
        self.script = list(script)
        self.calls = 0

    def detect(self, frames, max_animals=10):
        found = np.asarray(self.script[min(self.calls, len(self.script) - 1)], float)
        self.calls += 1
        found = found.reshape(-1, 4)[:max_animals]
        return [(found, np.linspace(0.9, 0.7, len(found)))]


def animal(box, score=0.9):
    """Keypoints on the corners of ``box``, all confident."""
    x, y, w, h = box
    pts = [[x, y], [x + w, y], [x, y + h], [x + w, y + h]]
    return np.array([[px, py, score] for px, py in pts])


FRAME = np.zeros((1, 100, 200, 3), np.uint8)


def test_every_frame_takes_the_detectors_best_box_as_deeplabcut_does():
    script = [[[10, 10, 30, 20], [50, 50, 20, 20]], [[12, 11, 30, 20]], []]
    det = Scripted(script)
    tracks = Tracks(det, 1, every=1)
    got = []
    for _ in script:
        box = tracks.boxes(FRAME)
        got.append(box[0])
        tracks.update(animal(box[0])[None])
    np.testing.assert_array_equal(got[0], [10, 10, 30, 20])
    np.testing.assert_array_equal(got[1], [12, 11, 30, 20])
    assert np.isnan(got[2]).all()  # no detection: no animal, never an exception
    assert det.calls == 3


def test_between_detections_the_box_moves_with_the_animal():
    det = Scripted([[[10, 10, 30, 20]]])
    tracks = Tracks(det, 1, every=5)
    truth = np.array([10.0, 10, 30, 20])
    for frame in range(12):
        det.script = [[truth.tolist()]]  # the detector, when it runs, sees the animal
        box = tracks.boxes(FRAME)[0]
        if frame % 5 == 0:
            np.testing.assert_array_equal(box, truth)
        else:  # moving 3 px right a frame: the box sits where its keypoints were a frame ago
            np.testing.assert_allclose(box, truth - [3, 0, 0, 0], atol=1e-9)
        tracks.update(animal(truth)[None])
        truth = truth + [3, 0, 0, 0]
    assert det.calls == 3  # frames 0, 5 and 10
    assert tracks.detections == 3 and tracks.frames == 12


def test_an_unsure_animal_brings_the_detector_back_on_the_next_frame():
    det = Scripted([[[10, 10, 30, 20]]])
    tracks = Tracks(det, 1, every=100)
    box = tracks.boxes(FRAME)[0]
    tracks.update(animal(box, score=0.2)[None])
    tracks.boxes(FRAME)
    assert det.calls == 2
    tracks.restart()  # a jump to another frame
    tracks.boxes(FRAME)
    assert det.calls == 3


def test_identities_carry_over_when_animals_cross_and_the_detector_reorders_them():
    # two animals walking past each other; the detector lists them in either order
    a = np.array([0.0, 40, 20, 20])
    b = np.array([180.0, 42, 20, 20])
    det = Scripted([[a, b]])
    tracks = Tracks(det, 2, every=3)
    for frame in range(40):
        det.script = [[b, a] if frame % 2 else [a, b]]
        box = tracks.boxes(FRAME)
        if frame:
            assert iou(box[:1], a[None])[0, 0] > 0.5, frame  # row 0 is still animal a
            assert iou(box[1:], b[None])[0, 0] > 0.5, frame
        tracks.update(np.stack([animal(a), animal(b)]))
        a, b = a + [5, 0, 0, 0], b - [5, 0, 0, 0]


def test_animals_that_come_close_bring_the_detector_back_until_they_part():
    """Where two boxes overlap, one crop holds both animals and a box that follows keypoints
    can slide onto the other one: the detector looks on every such frame."""
    a, b = np.array([20.0, 40, 30, 30]), np.array([150.0, 52, 30, 30])
    det = Scripted([[a, b]])
    tracks = Tracks(det, 2, every=100)
    ran = []
    for _ in range(26):  # 5 px a frame each way: they meet in the middle on frame 13 and part
        det.script = [[b, a] if ran else [a, b]]  # after the first frame, in the other order
        calls = det.calls
        box = tracks.boxes(FRAME)
        ran.append(det.calls > calls)
        assert iou(box[:1], a[None])[0, 0] > 0.5 and iou(box[1:], b[None])[0, 0] > 0.5
        tracks.update(np.stack([animal(a), animal(b)]))
        a, b = a + [5, 0, 0, 0], b - [5, 0, 0, 0]
    # apart, followed; overlapping by more than CROSSING_IOU on frames 12-14: looked at again
    # on the next ones; parted: followed again
    assert np.flatnonzero(ran).tolist() == [0, 13, 14, 15]


def test_a_keypoint_that_flickers_onto_another_animal_does_not_drag_the_box():
    det = Scripted([[[50.0, 40, 30, 20]]])
    tracks = Tracks(det, 1, every=100)
    box = tracks.boxes(FRAME)[0]
    grid = np.array([[x, y, 0.9] for x in (50.0, 65, 80) for y in (40.0, 50, 60)])  # 9 points
    tracks.update(grid[None])
    for frame in range(6):
        flicker = grid.copy()
        flicker[frame % 9, :2] += [90, 40]  # one keypoint lands on something far away
        np.testing.assert_allclose(tracks.boxes(FRAME)[0], box, atol=1e-9)
        tracks.update(flicker[None])
    assert det.calls == 1  # not mistaken for a jump either


def test_more_detections_than_animals_keeps_the_best_and_free_slots_take_new_ones():
    found = np.array([[0, 0, 10, 10], [50, 50, 10, 10], [90, 0, 10, 10.0]])
    assert assign(np.full((2, 4), np.nan), found).tolist() == [0, 1]
    expected = np.array([[51, 49, 10, 10], [np.nan] * 4])
    assert assign(expected, found).tolist() == [1, 0]  # the overlap first, then a free slot
    far = np.array([[0, 0, 10, 10.0]])
    assert assign(np.array([[150, 80, 10, 10.0]]), far).tolist() == [0]  # by distance
    assert np.isnan(assign(expected, np.zeros((0, 4)))).all()


def test_tracks_refuse_nonsense_settings():
    with pytest.raises(ValueError, match="at least 1"):
        Tracks(Scripted([[]]), 0)
    with pytest.raises(ValueError, match="one frame at a time"):
        Tracks(Scripted([[]]), 1).boxes(np.zeros((2, 10, 10, 3), np.uint8))


def test_a_video_runs_the_detector_again_after_a_jump_between_frames():
    from napari_superanimal.model.inference import PoseEstimator
    from napari_superanimal.model.networks import build_network

    class Sure(PoseEstimator):  # the network's place: confident keypoints on the box's corners
        def predict(self, frames, boxes=None, batch_size=8, subpixel=False):
            return np.stack([animal(b)[:3] for b in np.asarray(boxes)]).astype(np.float32)

    class Clip:
        def __len__(self):
            return 20

        def read_frame(self, i):
            return FRAME[0]

    det = Scripted([[[10, 10, 30, 20]]])
    model = Sure(build_network("light_resnet18", 3), "abc", device="cpu")
    poses = model.predict_video(Clip(), [0, 1, 2, 10, 11], boxes=Tracks(det, 1, every=100))
    assert det.calls == 2  # frames 0 and 10: frame 10 does not follow frame 2
    assert poses.shape == (5, 3, 3)
    with pytest.raises(ValueError, match="use predict_animals"):
        model.predict_video(Clip(), [0], boxes=Tracks(Scripted([[]]), 2))
    assert model.predict_animals(Clip(), 2, [0, 1], tracks=Tracks(det, 2)).shape == (2, 2, 3, 3)


def test_a_jump_brings_the_detector_back_on_the_next_frame():
    det = Scripted([[[10, 10, 30, 20]]])
    tracks = Tracks(det, 1, every=100)
    box = tracks.boxes(FRAME)[0]
    tracks.update(animal(box)[None])
    tracks.boxes(FRAME)
    tracks.update(animal(box + [40, 0, 0, 0])[None])  # 40 px in a frame: over half of 30
    tracks.boxes(FRAME)
    assert det.calls == 2  # a jump is not motion: the detector looks again


def test_an_animal_leaving_the_frame_is_looked_for_again_never_followed_out():
    det = Scripted([[[10, 10, 30, 20]]])
    tracks = Tracks(det, 1, every=100)
    boxes, truth = [], np.array([10.0, 10, 30, 20])
    for _ in range(12):  # the animal runs left 9 px a frame, out of the image
        boxes.append(tracks.boxes(FRAME)[0])
        tracks.update(animal(truth)[None])
        truth = truth - [9, 0, 0, 0]
    assert all(b[0] + b[2] > 0 for b in boxes)  # never a box wholly left of the image
    assert det.calls > 1 and any(b[0] < 0 for b in boxes)  # it followed, then looked again


# -- without a detector: boxes known on some frames seed the tracks ---------------------------
def test_seeded_tracks_follow_each_animal_from_the_frame_where_they_are_known():
    a, b = np.array([10.0, 10, 30, 20]), np.array([120.0, 60, 30, 20])
    tracks = Tracks(None, 2, seeds={5: np.stack([b, a])})  # rows are animals: b first
    for frame in range(5, 12):
        tracks.seek(frame)
        box = tracks.boxes(FRAME)
        if frame == 5:
            np.testing.assert_array_equal(box, [b, a])
        if frame >= 6:  # a moves 3 px right, b 2 px down a frame: each box keeps its animal
            np.testing.assert_allclose(box[0], b - [0, 2, 0, 0], atol=1e-9)
            np.testing.assert_allclose(box[1], a - [3, 0, 0, 0], atol=1e-9)
        tracks.update(np.stack([animal(b), animal(a)]))
        a, b = a + [3, 0, 0, 0], b + [0, 2, 0, 0]
    assert tracks.detections == 0


def test_seeded_tracks_keep_an_unsure_animals_box_and_lose_one_that_leaves():
    seed = np.array([[10.0, 10, 30, 20], [150.0, 40, 30, 20]])
    tracks = Tracks(None, 2, seeds={0: seed})
    tracks.seek(0)
    tracks.boxes(FRAME)
    tracks.update(np.stack([animal(seed[0], score=0.1), animal(seed[1])]))  # 0 unsure
    tracks.seek(1)
    box = tracks.boxes(FRAME)
    np.testing.assert_allclose(box, seed)  # no detector to ask: the box stays put
    right = seed[1].copy()
    for frame in range(2, 12):  # animal 1 runs right 12 px a frame, out of the image
        tracks.update(np.stack([animal(seed[0]), animal(right)]))
        right = right + [12, 0, 0, 0]
        tracks.seek(frame)
        box = tracks.boxes(FRAME)
    assert np.isnan(box[1]).all()  # gone from the frame: lost, not followed out
    np.testing.assert_allclose(box[0], seed[0])  # the other one still held
    tracks.seek(20)
    assert np.isnan(tracks.boxes(FRAME)[1]).all()  # lost until a seed finds it again


def test_seeds_override_the_detector_and_need_one_row_per_animal():
    det = Scripted([[[10, 10, 30, 20]]])
    drawn = np.array([[60.0, 50, 20, 20]])
    tracks = Tracks(det, 1, every=100, seeds={3: drawn})
    tracks.seek(3)
    np.testing.assert_array_equal(tracks.boxes(FRAME), drawn)
    assert det.calls == 0  # where the user drew the animals, the detector is not asked
    with pytest.raises(ValueError, match="one row per animal"):
        Tracks(None, 2, seeds={0: drawn})
    with pytest.raises(ValueError, match="need seeds"):
        Tracks(None, 2)
