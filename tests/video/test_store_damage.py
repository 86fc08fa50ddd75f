"""A damaged frame store: never black or wrong frames; a one-line error naming the frames,
``verify`` listing the damage, ``ingest`` re-converting only what is damaged."""

from __future__ import annotations

import uuid

import numpy as np
import pytest

from napari_superanimal import StoreError, open_video
from napari_superanimal.cli import main
from napari_superanimal.video import store as store_module
from napari_superanimal.video.lock import UnlockedStoreWarning
from napari_superanimal.video.store import FrameStore
from napari_superanimal.video.synthetic import read_index

SHARD = 32  # frames per shard in these stores: 150 frames = shards 0..4


def _converted(video_copy, codec="jpeg"):
    video = open_video(video_copy, convert=False, shard_frames=SHARD, codec=codec).convert()
    return video, [video.read_frame(i) for i in range(len(video))]


def _shard_file(video, shard: int):
    return video.store_path / "frames" / "c" / str(shard) / "0" / "0" / "0"


def _flip_a_byte_in_a_chunk(path, offset=200):
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF  # early in the file: chunk bytes, not the shard index at its end
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("codec", ["jpeg", "lossless"])
@pytest.mark.parametrize("fault", ["deleted", "truncated", "flipped"])
def test_a_damaged_shard_is_an_error_naming_its_frames_never_a_wrong_frame(
    video_copy, codec, fault
):
    video, _ = _converted(video_copy, codec)
    shard = _shard_file(video, 2)  # frames 64-95
    if fault == "deleted":
        shard.unlink()
    elif fault == "truncated":
        shard.write_bytes(shard.read_bytes()[: shard.stat().st_size // 2])
    else:
        _flip_a_byte_in_a_chunk(shard)
    reopened = open_video(video_copy)  # opening stays fast: nothing is checked yet
    assert reopened.complete
    damaged = (64,) if fault == "flipped" else (64, 80, 95)  # one chunk, or the whole shard
    for i in damaged:
        with pytest.raises(StoreError) as err:
            reopened.read_frame(i)
        message = str(err.value)
        assert f"frame {i} is damaged" in message and "frames 64-95" in message
        assert "ingest" in message and "\n" not in message
    intact = [0, 63, 96, 149] + ([65, 80, 95] if fault == "flipped" else [])
    for i in intact:  # the rest reads right
        assert read_index(reopened.read_frame(i)) == i


@pytest.mark.parametrize("second", ["flipped", "truncated"])
def test_verify_lists_the_damage_and_ingest_reconverts_only_that(video_copy, capsys, second):
    video, before = _converted(video_copy)
    store = video.store_path
    _shard_file(video, 1).unlink()
    shard = _shard_file(video, 3)
    if second == "flipped":
        _flip_a_byte_in_a_chunk(shard)
    else:  # a truncated shard: zarr cannot even merge a write into it
        shard.write_bytes(shard.read_bytes()[: shard.stat().st_size // 2])
    untouched = {n: _shard_file(video, n).read_bytes() for n in (0, 2, 4)}
    mtimes = {n: _shard_file(video, n).stat().st_mtime_ns for n in (0, 2, 4)}

    assert main(["verify", str(store), "--quiet"]) == 1
    out = capsys.readouterr().out
    assert "frames 32-63: its shard file is missing" in out
    assert "frames 96-127: " in out
    assert "64 of 150 frames damaged" in out

    assert main(["ingest", str(video_copy), "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "frames 32-63" in err and "frames 96-127" in err and "re-converting" in err
    for n in (0, 2, 4):  # the intact shards were not rewritten
        assert _shard_file(video, n).read_bytes() == untouched[n]
        assert _shard_file(video, n).stat().st_mtime_ns == mtimes[n]
    assert main(["verify", str(video_copy), "--quiet"]) == 0  # a video names its store
    assert "150 frames ok (complete; checksums)" in capsys.readouterr().out
    repaired = open_video(video_copy)
    for i in range(len(repaired)):
        np.testing.assert_array_equal(repaired.read_frame(i), before[i])


def test_ingest_of_an_intact_store_rewrites_nothing(video_copy, capsys):
    video, _ = _converted(video_copy)
    mtimes = [_shard_file(video, n).stat().st_mtime_ns for n in range(5)]
    assert main(["ingest", str(video_copy), "--quiet"]) == 0
    assert capsys.readouterr().err == ""
    assert [_shard_file(video, n).stat().st_mtime_ns for n in range(5)] == mtimes


def test_a_store_made_before_checksums_is_read_and_verified_in_full(
    video_copy, monkeypatch, capsys
):
    old_pipeline = store_module._codec_pipeline

    def without_checksums(codec, quality, pix_fmt):
        pipeline = old_pipeline(codec, quality, pix_fmt)
        return {**pipeline, "compressors": None}

    monkeypatch.setattr(store_module, "_codec_pipeline", without_checksums)
    video, before = _converted(video_copy)
    meta = dict(video.store.meta)
    meta["storage"] = {k: v for k, v in meta["storage"].items() if k != "checksum"}
    video.store.group.attrs[store_module.ATTR] = meta  # as such a store was written
    monkeypatch.undo()

    old = open_video(video_copy)
    assert [read_index(old.read_frame(i)) for i in (0, 77, 149)] == [0, 77, 149]
    assert main(["verify", str(video.store_path), "--quiet"]) == 0
    assert "decoded, no checksums" in capsys.readouterr().out
    _shard_file(video, 4).unlink()  # still: a missing shard is damage, not black frames
    with pytest.raises(StoreError, match="frame 140 is damaged"):
        open_video(video_copy).read_frame(140)


def test_a_store_at_a_url_says_that_two_writers_are_possible(video_copy):
    url = f"memory://napari-superanimal-tests/{uuid.uuid4().hex}/clip.frames.zarr"
    with pytest.warns(UnlockedStoreWarning, match="cannot be locked"):
        open_video(video_copy, store=url, convert=False, shard_frames=SHARD).convert()
    assert FrameStore.open(url, mode="r").complete
