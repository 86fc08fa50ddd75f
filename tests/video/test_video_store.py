"""The frame store: what it records, reuse, resuming, and never passing as complete early."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import numpy as np
import pytest
import zarr

from napari_superanimal import StoreError, open_video
from napari_superanimal.video.store import FrameStore
from napari_superanimal.video.synthetic import write_index_video


def test_store_records_what_the_issue_lists(video_copy, index_frames):
    video = open_video(video_copy, convert=False, shard_frames=32).convert()
    meta = FrameStore.open(video.store_path).meta
    assert meta["complete"] is True and meta["frames_written"] == len(index_frames)
    assert meta["video"]["n_frames"] == len(index_frames)
    assert meta["video"]["fps"] == pytest.approx(30.0)
    assert (meta["video"]["height"], meta["video"]["width"]) == (96, 160)
    assert meta["video"]["codec"] == "h264"
    source = meta["source"]
    assert source["path"] == str(video_copy.resolve())
    assert source["size"] == video_copy.stat().st_size
    assert source["mtime"] == pytest.approx(video_copy.stat().st_mtime)
    assert source["hash"].startswith("blake2b-sampled:")
    timestamps = video.timestamps
    assert len(timestamps) == len(index_frames)
    np.testing.assert_allclose(np.diff(timestamps), 1 / 30, atol=1e-6)
    # chunks: one frame each, grouped in shards
    frames = zarr.open_group(video.store_path, mode="r")["frames"]
    assert frames.chunks == (1, 96, 160, 3)
    assert frames.shards[0] > 1
    assert video.store_path.name == "clip.frames.zarr"


def test_reopening_an_unchanged_video_reuses_its_store(video_copy):
    first = open_video(video_copy, convert=False, shard_frames=32).convert()
    shard = next(first.store_path.glob("frames/c/*/0/0/0"))
    stamp = shard.stat().st_mtime_ns
    again = open_video(video_copy)
    assert again.store_path == first.store_path
    assert again.complete
    again.wait()
    assert shard.stat().st_mtime_ns == stamp  # nothing rewritten


def test_a_store_made_from_another_video_is_refused(video_copy, tmp_path):
    open_video(video_copy, convert=False, shard_frames=32).convert()
    other = write_index_video(tmp_path / "other.mp4", n_frames=30)
    with pytest.raises(StoreError, match="different video"):
        open_video(other, store=video_copy.with_name("clip.frames.zarr"))
    rebuilt = open_video(
        other, store=video_copy.with_name("clip.frames.zarr"), overwrite=True, convert=False
    )
    assert len(rebuilt) == 30


def test_interrupted_conversion_resumes_and_matches_a_clean_run(video_copy, index_frames):
    video = open_video(video_copy, codec="lossless", convert=False, shard_frames=32)
    steps = video.convert_iter()
    next(steps), next(steps)
    steps.close()  # stop after the first shard
    reopened = open_video(video_copy, convert=False, shard_frames=32)
    assert not reopened.complete
    assert 0 < reopened.frames_converted < len(index_frames)
    resumed_from = next(reopened.convert_iter())
    assert resumed_from == reopened.frames_converted  # starts after the finished shard
    reopened.convert()
    assert reopened.complete
    got = np.stack([reopened.read_frame(i) for i in range(len(index_frames))])
    np.testing.assert_array_equal(got, index_frames)


def test_a_killed_conversion_is_never_reported_complete_and_resumes(tmp_path):
    path = write_index_video(tmp_path / "long.mp4", n_frames=900, size=(240, 320), gop=120)
    code = (
        "import sys; from napari_superanimal import open_video\n"
        "v = open_video(sys.argv[1], codec='lossless', convert=False)\n"
        "for done in v.convert_iter():\n"
        "    print(done, flush=True)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(path)], stdout=subprocess.PIPE, text=True
    )
    first = proc.stdout.readline()  # the conversion has started
    second = proc.stdout.readline()  # one shard is on disk
    assert first and second
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    store = FrameStore.open(path.with_name("long.frames.zarr"))
    assert not store.complete
    assert store.frames_written < 900
    video = open_video(path, convert=False)
    assert not video.complete
    video.convert()
    assert video.complete
    assert FrameStore.open(video.store_path).complete


def test_mark_complete_refuses_while_frames_are_missing(video_copy):
    video = open_video(video_copy, convert=False, shard_frames=32)
    with pytest.raises(StoreError, match="only 0 of"):
        video.store.mark_complete()
    assert not FrameStore.open(video.store_path).complete


def test_two_converters_never_write_one_store(video_copy):
    a = open_video(video_copy, convert=False, shard_frames=32)
    b = open_video(video_copy, convert=False, shard_frames=32)
    steps = a.convert_iter()
    next(steps)
    with pytest.raises(StoreError, match="another process is converting"):
        b.convert()
    steps.close()
    b.convert()
    assert b.complete


def test_background_conversion_from_python(video_copy):
    video = open_video(video_copy)
    assert video.frames.shape == (150, 96, 160, 3)  # usable before conversion ends
    video.wait(timeout=60)
    assert video.complete


def test_a_stop_as_the_last_shard_settles_still_completes_the_store(video_copy, index_frames):
    """Closing the video while its last shard is written (the dock's detach) leaves every
    frame written: the store is complete, and opening it again converts nothing."""
    n = len(index_frames)
    video = open_video(video_copy, codec="lossless", convert=False, shard_frames=n // 3)
    for done in video.convert_iter():
        if done >= n - n // 3:  # the last shard is on its way
            video._stop.set()  # what stop_conversion sets, a moment too late to matter
    assert video.complete
    reopened = open_video(video_copy, convert=False, shard_frames=n // 3)
    assert reopened.complete
    reopened.convert()  # nothing to do, and no error
    np.testing.assert_array_equal(reopened.read_frame(n - 1), index_frames[n - 1])
