"""Frame stores under two writers and mismatched requests: refused in one line, never damaged."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from napari_superanimal import StoreError, open_video
from napari_superanimal.cli import main
from napari_superanimal.video.store import FrameStore
from napari_superanimal.video.synthetic import write_index_video

CONVERT = (
    "import sys; from napari_superanimal import open_video\n"
    "v = open_video(sys.argv[1], codec='lossless', convert=False)\n"
    "for done in v.convert_iter():\n"
    "    print(done, flush=True)\n"
)
INGEST = [sys.executable, "-m", "napari_superanimal.cli", "ingest", "--quiet"]


@pytest.fixture()
def long_video(tmp_path):
    return write_index_video(tmp_path / "long.mp4", n_frames=900, size=(240, 320), gop=120)


def _check_whole(path, n_frames: int) -> None:
    """The store is complete and every frame decodes (a wiped store fails here)."""
    store = FrameStore.open(path.with_name(path.stem + ".frames.zarr"))
    assert store.complete and store.frames_written == n_frames
    video = open_video(path, convert=False)
    for i in (0, n_frames // 2, n_frames - 1):
        assert video.read_frame(i).any()


def test_overwrite_is_refused_while_another_process_converts(long_video):
    proc = subprocess.Popen(
        [sys.executable, "-c", CONVERT, str(long_video)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout.readline() and proc.stdout.readline()  # converting, a shard written
        with pytest.raises(StoreError, match="another process is converting"):
            open_video(long_video, overwrite=True, convert=False)
        assert main(["ingest", "--quiet", "--overwrite", str(long_video)]) == 1
    finally:
        proc.stdout.read()
        assert proc.wait(timeout=120) == 0
    _check_whole(long_video, 900)


def test_two_ingests_started_together_leave_one_whole_store(long_video):
    # Before the lock was taken first, the second one's create emptied the first one's folder:
    # both could exit 0 over a damaged store, or fail on a vanished temporary file.
    procs = [
        subprocess.Popen([*INGEST, str(long_video)], stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    results = [(p.wait(timeout=300), p.stderr.read()) for p in procs]
    assert any(code == 0 for code, _ in results)
    for code, err in results:
        if code:
            lines = err.strip().splitlines()
            assert len(lines) == 1 and "another process is converting" in lines[0]
    _check_whole(long_video, 900)


def test_a_store_recreated_under_an_open_video_is_not_written_into(video_copy):
    a = open_video(video_copy, convert=False, shard_frames=32)
    b = open_video(video_copy, overwrite=True, convert=False, codec="lossless")
    with pytest.raises(StoreError, match="another process re-created this store"):
        a.convert()
    b.convert()
    assert FrameStore.open(b.store_path).meta["storage"]["codec"] == "lossless"


def test_a_codec_other_than_the_stores_is_refused_not_ignored(video_copy, capsys):
    open_video(video_copy, convert=False).convert()  # JPEG, the default
    with pytest.raises(StoreError, match="holds jpeg frames, not lossless"):
        open_video(video_copy, codec="lossless", convert=False)
    assert main(["ingest", "--quiet", "--codec", "lossless", str(video_copy)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "--overwrite" in err
    assert main(["ingest", "--quiet", "--codec", "lossless", "--overwrite", str(video_copy)]) == 0
    video = open_video(video_copy, codec="lossless", convert=False)
    assert video.complete and video.store.meta["storage"]["codec"] == "lossless"
    assert np.asarray(video.read_frame(3)).any()
