"""Bad input gets a one-line reason (Python and CLI), and never a store that passes as complete."""

from __future__ import annotations

import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import av
import pytest

from napari_superanimal import StoreError, VideoError, open_video
from napari_superanimal.video.store import FrameStore


def make_empty_video(path: Path) -> Path:
    """A valid MP4 whose H.264 track holds no frame."""
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=Fraction(30))
        stream.width, stream.height = 64, 48
        container.start_encoding()
    return path


def truncate(src: Path, dst: Path, keep: float) -> Path:
    data = src.read_bytes()
    dst.write_bytes(data[: int(len(data) * keep)])
    return dst


@pytest.fixture()
def bad_inputs(tmp_path, index_video):
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video\n" * 50)
    return {
        "missing": (tmp_path / "nope.mp4", "no such file"),
        "folder": (tmp_path, "is a folder"),
        "empty file": (_touch(tmp_path / "empty.mp4"), "is empty"),
        "not a video": (text, "not a video FFmpeg can read"),
        "zero frames": (make_empty_video(tmp_path / "zero.mp4"), "has no video frames"),
        "unfinished": (truncate(index_video, tmp_path / "cut.mp4", 0.5), "truncated"),
        "truncated": (truncate(faststart_video(tmp_path), tmp_path / "cut2.mp4", 0.5), "truncated"),
    }


def _touch(path: Path) -> Path:
    path.write_bytes(b"")
    return path


CASES = ["missing", "folder", "empty file", "not a video", "zero frames", "unfinished", "truncated"]


def faststart_video(folder: Path) -> Path:
    from napari_superanimal.video.synthetic import write_index_video

    return write_index_video(folder / "fast.mp4", n_frames=150, faststart=True)


@pytest.mark.parametrize("case", CASES)
def test_bad_video_raises_one_line(bad_inputs, case):
    path, reason = bad_inputs[case]
    with pytest.raises((VideoError, StoreError)) as info:
        open_video(path, convert=False).convert()
    message = str(info.value)
    assert reason in message and "\n" not in message
    assert str(path.name) in message


@pytest.mark.parametrize("case", CASES)
def test_cli_exits_nonzero_with_one_line(bad_inputs, case):
    path, reason = bad_inputs[case]
    proc = subprocess.run(
        [sys.executable, "-m", "napari_superanimal.cli", "ingest", str(path)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("napari-superanimal: error:") and reason in lines[0]
    assert proc.stdout == ""


def test_truncated_video_whose_index_looks_whole_leaves_no_complete_store(tmp_path):
    # Cut inside the last packets: demuxing may still list frames the decoder cannot produce.
    cut = truncate(faststart_video(tmp_path), tmp_path / "tail.mp4", 0.995)
    try:
        video = open_video(cut, convert=False)
    except VideoError as err:
        assert "truncated" in str(err) or "corrupt" in str(err)
        return
    with pytest.raises(VideoError):
        video.convert()
    assert not FrameStore.open(video.store_path).complete


def test_store_from_a_different_source_via_cli(video_copy, tmp_path):
    from napari_superanimal.video.synthetic import write_index_video

    open_video(video_copy, convert=False, shard_frames=32).convert()
    other = write_index_video(tmp_path / "other.mp4", n_frames=20)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "napari_superanimal.cli",
            "ingest",
            str(other),
            "--store",
            str(video_copy.with_name("clip.frames.zarr")),
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1
    assert "different video" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_foreign_folder_is_not_a_store(tmp_path):
    foreign = tmp_path / "foreign.frames.zarr"
    foreign.mkdir()
    (foreign / "zarr.json").write_text('{"zarr_format": 3, "node_type": "group"}')
    with pytest.raises(StoreError, match="not a napari-superanimal frame store"):
        open_video(foreign)


def test_store_from_newer_code_is_refused(video_copy):
    import json

    video = open_video(video_copy, convert=False, shard_frames=32).convert()
    meta_file = video.store_path / "zarr.json"
    meta = json.loads(meta_file.read_text())
    meta["attributes"]["napari_superanimal"]["version"] = 99
    meta_file.write_text(json.dumps(meta))
    with pytest.raises(StoreError, match="newer than this"):
        open_video(video.store_path)


def test_incomplete_store_without_its_source_is_refused(video_copy):
    video = open_video(video_copy, convert=False, shard_frames=32)
    video_copy.unlink()
    with pytest.raises(StoreError, match="is gone"):
        open_video(video.store_path)


def test_cli_ingest_prints_the_store_path(video_copy):
    proc = subprocess.run(
        [sys.executable, "-m", "napari_superanimal.cli", "ingest", str(video_copy), "--quiet"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    store = Path(proc.stdout.strip())
    assert store == video_copy.with_name("clip.frames.zarr").resolve()
    assert FrameStore.open(store).complete


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        ([], "fasterrcnn_resnet50_fpn_v2.pt: not in the local caches"),  # the default detector
        (["--track", "--full-frame"], "--full-frame feeds whole frames"),
        (["--detect-every", "0"], "--detect-every is 1 or more frames"),
        (["--individuals", "0"], "--individuals is 1 or more animals"),
        (["--individuals", "2", "--full-frame"], "not with --roi, --full-frame"),
        (["--detector", "hrnet_w32"], "is a pose model, not a detector"),
        (["--model", "light_resnet18-r9", "--detector", "x"], "needs a SuperAnimal --model"),
        (["--roi", "1,2,3"], "--roi wants X,Y,W,H"),
        (["--roi", "0,0,-5,10"], "positive width and height"),
        (["--arch", "vit_huge"], "unknown model 'vit_huge'"),
        (["--detector", "yolo"], "unknown model 'yolo'"),
    ],
)
def test_cli_predict_rejects_bad_box_options_with_one_line(video_copy, tmp_path, extra, reason):
    from napari_superanimal.model.checkpoint import save_snapshot
    from napari_superanimal.model.networks import build_network

    weights = save_snapshot(tmp_path / "w.pt", build_network("hrnet_w32", 27))
    proc = subprocess.run(
        [sys.executable, "-m", "napari_superanimal.cli", "predict", str(video_copy)]
        + ["--weights", str(weights), "--offline", "--quiet", *extra],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and reason in lines[0], proc.stderr
    assert not list(video_copy.parent.glob("*.h5"))  # nothing written
