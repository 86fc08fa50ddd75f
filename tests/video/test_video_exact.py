"""Frame exactness: every path to a frame gives the frame sequential decoding gives."""

from __future__ import annotations

import av
import numpy as np
import pytest

from napari_superanimal import open_video
from napari_superanimal.video.decode import FrameReader
from napari_superanimal.video.probe import index_video as make_index
from napari_superanimal.video.synthetic import decode_all, read_index, write_index_video


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def test_test_video_really_has_b_frames_and_a_long_gop(index_video):
    # The fixture must be the hard case: packets out of display order, few keyframes.
    with av.open(str(index_video)) as container:
        packets = [p for p in container.demux(video=0) if p.size]
    pts = [p.pts for p in packets]
    assert pts != sorted(pts), "no B-frames: decode order equals display order"
    assert sum(p.is_keyframe for p in packets) <= 3


def test_reference_frames_carry_their_index(index_frames):
    assert [read_index(f) for f in index_frames] == list(range(len(index_frames)))


def test_on_demand_seek_is_frame_exact_in_random_order(index_video, index_frames):
    reader = FrameReader(index_video, make_index(index_video))
    order = np.random.default_rng(1).permutation(len(index_frames))
    for i in order:
        np.testing.assert_array_equal(reader.read(int(i)), index_frames[i], err_msg=f"frame {i}")


def test_lossless_store_is_frame_exact_in_random_order(video_copy, index_frames):
    video = open_video(video_copy, codec="lossless", convert=False, shard_frames=32)
    video.convert()
    assert video.complete
    order = np.random.default_rng(2).permutation(len(index_frames))
    for i in order:
        np.testing.assert_array_equal(video.read_frame(int(i)), index_frames[i])
    # and through the dask array, which is what napari and the models read
    picks = order[:10]
    got = np.stack([np.asarray(video.frames[int(i)]) for i in picks])
    np.testing.assert_array_equal(got, index_frames[picks])


def test_unconverted_frames_come_from_the_source_exactly(video_copy, index_frames):
    video = open_video(video_copy, codec="lossless", convert=False, shard_frames=32)
    assert video.frames_converted == 0
    for i in np.random.default_rng(3).permutation(len(index_frames))[:40]:
        np.testing.assert_array_equal(np.asarray(video.frames[int(i)]), index_frames[i])


def test_half_converted_video_mixes_store_and_source_exactly(video_copy, index_frames):
    video = open_video(video_copy, codec="lossless", convert=False, shard_frames=32)
    steps = video.convert_iter()
    next(steps), next(steps)  # the start, then the first shard
    steps.close()
    done = video.frames_converted
    assert 0 < done < len(video)
    for i in (0, done - 1, done, len(video) - 1):
        np.testing.assert_array_equal(video.read_frame(i), index_frames[i])


def test_default_jpeg_store_keeps_psnr_and_frame_identity(video_copy, index_frames):
    video = open_video(video_copy, convert=False, shard_frames=32)
    video.convert()
    assert video.store.meta["storage"]["codec"] == "jpeg"
    for i in range(0, len(index_frames), 7):
        frame = video.read_frame(i)
        assert read_index(frame) == i
        assert (
            psnr(frame, index_frames[i]) >= 38
        )  # synthetic high-contrast texture; real video: docs
    assert video.store.nbytes_on_disk() < 30 * video_copy.stat().st_size


@pytest.mark.parametrize("codec", ["lossless", "jpeg"])
def test_gray_video_is_stored_with_one_channel_and_read_as_rgb(tmp_path, codec):
    path = write_index_video(tmp_path / "gray.mp4", n_frames=40, gray=True, gop=20)
    reference = decode_all(path)
    assert np.array_equal(reference[..., 0], reference[..., 2])
    video = open_video(path, codec=codec, convert=False).convert()
    assert video.store.frames.shape[-1] == 1
    assert video.frames.shape == (40, 96, 160, 3)
    for i in range(40):
        frame = video.read_frame(i)
        assert frame.shape == (96, 160, 3)
        if codec == "lossless":
            np.testing.assert_array_equal(frame, reference[i])
        else:
            assert read_index(frame) == i and psnr(frame, reference[i]) >= 38


def test_colour_video_is_stored_with_three_channels(video_copy):
    video = open_video(video_copy, convert=False, shard_frames=32)
    assert video.store.frames.shape[-1] == 3


@pytest.mark.parametrize(
    ("suffix", "codec"), [(".mkv", "libx264"), (".mov", "libx264"), (".avi", "mpeg4")]
)
def test_other_containers_are_frame_exact_too(tmp_path, suffix, codec):
    path = write_index_video(
        tmp_path / f"clip{suffix}", n_frames=60, gop=25, codec=codec, bframes=2
    )
    reference = decode_all(path)
    video = open_video(path, codec="lossless", convert=False, shard_frames=16)
    assert len(video) == len(reference) == 60
    for i in np.random.default_rng(4).permutation(60)[:20]:
        np.testing.assert_array_equal(video.read_frame(int(i)), reference[i])
    video.convert()
    for i in range(0, 60, 7):
        np.testing.assert_array_equal(video.read_frame(i), reference[i])


@pytest.mark.parametrize("gray", [False, True])
@pytest.mark.parametrize("codec", ["lossless", "jpeg"])
def test_a_frame_read_before_conversion_is_the_frame_read_after(tmp_path, codec, gray):
    # Predictions made while a video converts must not change once it is converted: a frame
    # decoded from the source is given back as the store will hold it (its codec applied).
    path = write_index_video(tmp_path / "v.mp4", n_frames=40, gray=gray, gop=20)
    video = open_video(path, codec=codec, convert=False).ready()
    assert video.frames_converted == 0
    before = [video.read_frame(i) for i in range(1, 40, 3)]
    video.convert()
    after = [video.read_frame(i) for i in range(1, 40, 3)]
    for i, (b, a) in enumerate(zip(before, after, strict=True)):
        np.testing.assert_array_equal(b, a, err_msg=f"frame {1 + 3 * i}")
