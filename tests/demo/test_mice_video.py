"""The crossing-mice video: two or three mice whose paths cross, identities known."""

from __future__ import annotations

import numpy as np
import pytest

from napari_superanimal.demo.mice import make_mice_video, mice_paths
from napari_superanimal.video import open_video


def test_mice_meet_in_the_middle_and_the_truth_keeps_who_is_who(tmp_path):
    path, truth = make_mice_video(tmp_path / "mice.mp4", n_frames=160, n_mice=3, size=(128, 160))
    assert truth.shape == (160, 3, 7, 2)
    centres = truth[:, :, 4]  # mid_back
    gaps = np.linalg.norm(centres[:, 0] - centres[:, 1], axis=1)
    assert gaps.min() < 15 and gaps.max() > 60  # they meet, then part
    assert (np.linalg.norm(np.diff(centres, axis=0), axis=-1) < 6).all()  # no mouse teleports
    video = open_video(path, convert=False)
    assert len(video) == 160 and video.shape[1:3] == (128, 160)
    saved = np.load(path.with_suffix(".keypoints.npz"))["keypoints"]
    np.testing.assert_array_equal(saved, truth)


def test_the_crossing_video_has_two_or_three_mice():
    with pytest.raises(ValueError, match="2 or 3 mice"):
        mice_paths(10, 4, 128, 160)
