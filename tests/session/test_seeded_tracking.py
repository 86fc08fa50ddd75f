"""A network that sees animals in boxes but has no detector (a species SuperAnimal has none
for) follows each animal from where it is known: drawn boxes, labels, the frame before."""

from __future__ import annotations

import numpy as np
import pytest

from napari_superanimal.errors import SessionError
from napari_superanimal.model.boxes import animal_box
from napari_superanimal.model.inference import PoseEstimator
from napari_superanimal.model.networks import build_network
from napari_superanimal.session import Session

KEYPOINTS = ("nose", "left_ear", "right_ear", "neck", "mid_back", "tail_base", "tail_end")
MICE = ("mouse1", "mouse2")


class Corners(PoseEstimator):
    """In place of the network: confident keypoints on the corners of the box it is shown (the
    rest at the box's centre), so a test sees which box each animal was cropped from; no box,
    no animal (NaN, score 0), as the network's crops give."""

    def predict(self, frames, boxes=None, batch_size=8, subpixel=False):
        out = []
        for x, y, w, h in np.asarray(boxes, float).reshape(-1, 4):
            if np.isnan(x):
                out.append(np.tile([np.nan, np.nan, 0.0], (len(KEYPOINTS), 1)))
                continue
            pts = np.full((len(KEYPOINTS), 3), [x + w / 2, y + h / 2, 0.9])
            pts[:4, :2] = [[x, y], [x + w, y], [x, y + h], [x + w, y + h]]
            out.append(pts)
        return np.asarray(out, np.float32)


@pytest.fixture()
def mice(mouse_video):
    video, _ = mouse_video(n_frames=20, size=(128, 160))
    model = Corners(build_network("light_resnet18", len(KEYPOINTS)), KEYPOINTS, "cpu", crops=True)
    with Session.open(video, model=model, keypoints=KEYPOINTS) as session:
        session.set_individuals(list(MICE))
        yield session


def label(session, frame, animal, nose, tail):
    session.label(frame, "nose", *nose, individual=animal)
    session.label(frame, "tail_base", *tail, individual=animal)


def test_each_animal_is_cropped_from_its_labels_and_followed_both_ways(mice):
    label(mice, 8, "mouse1", (20, 30), (50, 40))
    label(mice, 8, "mouse2", (100, 70), (130, 90))
    poses = mice.predict(range(4, 13))
    assert poses.shape == (9, 2, len(KEYPOINTS), 3)
    for row, (nose, tail) in enumerate((((20, 30), (50, 40)), ((100, 70), (130, 90)))):
        x, y, w, h = animal_box(np.array([nose, tail], float), (128, 160))
        np.testing.assert_allclose(poses[4, row, 0, :2], [x, y], atol=1e-4)  # frame 8
        np.testing.assert_allclose(poses[4, row, 3, :2], [x + w, y + h], atol=1e-4)
    assert np.isfinite(poses[..., :2]).all()  # frames before the labels followed backwards
    # each animal stays on its own side of the frame: nobody took the other's place
    assert (poses[:, 0, 4, 0] < 80).all() and (poses[:, 1, 4, 0] > 80).all()


def test_stepping_on_continues_from_the_frame_before(mice):
    label(mice, 3, "mouse1", (20, 30), (50, 40))
    label(mice, 3, "mouse2", (100, 70), (130, 90))
    mice.predict([3])
    after = mice.predict([4])  # no labels on 4: boxes from 3's confident predictions
    assert np.isfinite(after[..., :2]).all()
    assert after[0, 0, 4, 0] < 80 < after[0, 1, 4, 0]


def test_drawn_boxes_seed_the_animals_where_nothing_is_labeled(mice):
    drawn = {6: np.array([[10.0, 10, 40, 30], [np.nan] * 4])}  # only mouse1 drawn
    poses = mice.predict([6, 7], boxes=drawn)
    np.testing.assert_allclose(poses[0, 0, 0, :2], [10, 10], atol=1e-4)
    assert np.isnan(poses[:, 1, :, :2]).all() and (poses[:, 1, :, 2] == 0).all()


def test_without_anything_known_the_user_is_told_to_draw_or_label(mice):
    with pytest.raises(SessionError, match="draw a box around each animal"):
        mice.predict([2])
