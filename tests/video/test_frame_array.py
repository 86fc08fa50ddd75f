"""The array napari's layer holds: numpy indexing gives what the dask frames give."""

from __future__ import annotations

import numpy as np
import pytest

from napari_superanimal import open_video
from napari_superanimal.video.frame_array import FrameArray
from napari_superanimal.video.synthetic import read_index


@pytest.mark.parametrize(
    "key",
    [
        7,
        -1,
        np.int64(149),
        (3, slice(10, 20), slice(None), 1),
        slice(140, None, 4),
        [5, 1, 77],
        (Ellipsis, 0),
        (slice(0, 3), Ellipsis, slice(None, None, 2)),
    ],
)
def test_indexing_matches_the_dask_frames(video_copy, key):
    video = open_video(video_copy, convert=False, shard_frames=32).convert()
    array = FrameArray(video)
    assert (array.shape, array.dtype, array.ndim) == (video.frames.shape, np.uint8, 4)
    np.testing.assert_array_equal(array[key], video.frames[key].compute())


def test_frames_read_before_conversion_are_the_right_ones(video_copy):
    video = open_video(video_copy, convert=False).ready()
    array = FrameArray(video)
    assert [read_index(frame) for frame in array[[0, 60, 149]]] == [0, 60, 149]


def test_bad_indices_are_refused(video_copy):
    array = FrameArray(open_video(video_copy, convert=False))
    with pytest.raises(IndexError, match="out of range"):
        array[150]
    with pytest.raises(IndexError, match="too many indices"):
        array[0, 0, 0, 0, 0]
