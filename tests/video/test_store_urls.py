"""Frame stores at fsspec URLs: ``file://`` and ``memory://`` stores hold the same frames as a
local store, a conversion into a URL store resumes from the attributes it wrote, the CLI ingests
and predicts with URL stores on a 2-worker cluster exactly as with local paths, and a bad URL
ends in one line."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import uuid

import numpy as np
import pandas as pd
import pytest
import torch
import zarr

from napari_superanimal import StoreError, open_video
from napari_superanimal.cli import main
from napari_superanimal.model.checkpoint import save_snapshot
from napari_superanimal.model.networks import build_network
from napari_superanimal.video.store import FrameStore
from napari_superanimal.video.synthetic import write_index_video

MODEL = "superanimal_topviewmouse_hrnet_w32"


def memory_url(name: str) -> str:
    """A fresh place in fsspec's in-process memory filesystem (shared by the whole process)."""
    return f"memory://napari-superanimal-tests/{uuid.uuid4().hex}/{name}"


def test_file_url_and_memory_stores_hold_the_local_store_frames(video_copy, tmp_path):
    local = open_video(video_copy, convert=False, shard_frames=32).convert()
    file_url = (tmp_path / "elsewhere" / "clip.frames.zarr").as_uri()
    mem_url = memory_url("clip.frames.zarr")
    for url in (file_url, mem_url):
        open_video(video_copy, store=url, convert=False, shard_frames=32).convert()

    # file:// is a local path (zarr's atomic local store, the lock); other URLs use FsspecStore.
    from_file = open_video(file_url)
    assert from_file.store_path == tmp_path / "elsewhere" / "clip.frames.zarr"
    assert isinstance(from_file.store.group.store, zarr.storage.LocalStore)
    from_memory = open_video(mem_url)
    assert from_memory.store_path == mem_url
    assert isinstance(from_memory.store.group.store, zarr.storage.FsspecStore)
    assert from_memory.name == "clip.mp4" and from_memory.complete

    expected = local.frames.compute()
    for video in (from_file, from_memory):
        assert video.frames.shape == expected.shape
        np.testing.assert_array_equal(video.frames.compute(), expected)
    store = FrameStore.open(mem_url, mode="r")
    assert store.meta["frames_written"] == len(expected) and store.complete
    np.testing.assert_array_equal(store.read(len(expected) - 1), expected[-1])
    assert store.nbytes_on_disk() > 0
    assert FrameStore.is_store(mem_url) and not FrameStore.is_store(memory_url("none.frames.zarr"))


def test_an_interrupted_conversion_into_a_url_store_resumes(video_copy, index_frames):
    url = memory_url("clip.frames.zarr")
    video = open_video(video_copy, store=url, codec="lossless", convert=False, shard_frames=32)
    steps = video.convert_iter()
    next(steps), next(steps)
    steps.close()  # stop after the first shard, as a killed worker would
    assert FrameStore.open(url).meta["frames_written"] == 32  # recorded through FsspecStore
    reopened = open_video(video_copy, store=url, convert=False)
    assert not reopened.complete and reopened.frames_converted == 32
    with pytest.raises(StoreError, match="only 32 of 150 frames written"):
        reopened.store.mark_complete()
    assert next(reopened.convert_iter()) == 32  # resumes after the finished shard
    reopened.convert()
    got = open_video(url).frames.compute()
    np.testing.assert_array_equal(got, index_frames)


@pytest.fixture()
def short_videos(tmp_path):
    folder = tmp_path / "videos"
    folder.mkdir()
    return [write_index_video(folder / f"{name}.mp4", n_frames=24) for name in ("one", "two")]


@pytest.fixture()
def weights(tmp_path):
    torch.manual_seed(1)
    return save_snapshot(tmp_path / f"{MODEL}.pt", build_network("hrnet_w32", 27))


def read_h5(path):
    return pd.read_hdf(path, key="df_with_missing").to_numpy()


@pytest.fixture()
def threaded_cluster():
    """Two workers as threads of this process, so they share its ``memory://`` filesystem."""
    from dask.distributed import LocalCluster

    threads = torch.get_num_threads()
    cluster = LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
    )
    yield cluster
    cluster.close()
    torch.set_num_threads(threads)  # the workers set this process's torch threads


@pytest.mark.slow
def test_cli_with_url_stores_on_a_cluster_equals_local_paths(
    short_videos, weights, tmp_path, threaded_cluster, capsys
):
    common = ["--weights", str(weights), "--quiet", "--offline", "--full-frame"]
    # Reference: each video in one process, its store beside it (converted first, so every
    # frame comes from the store, as on the cluster, rather than from the decoder).
    reference = {}
    for video in short_videos:
        assert main(["ingest", str(video), "--quiet"]) == 0
        assert (
            main(["predict", str(video), "--out", str(tmp_path / f"{video.stem}.h5"), *common]) == 0
        )
        reference[video.stem] = read_h5(tmp_path / f"{video.stem}.h5")
    capsys.readouterr()

    # file:// prefix, a LocalCluster of 2 worker processes, through the console script.
    stores = tmp_path / "stores"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "napari_superanimal.cli",
            "predict",
            *map(str, short_videos),
            "--store-root",
            stores.as_uri(),
            "--workers",
            "2",
            *common,
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    for video in short_videos:
        assert (stores / f"{video.stem}.frames.zarr").is_dir()
        h5 = stores / f"{video.stem}_{MODEL}.h5"  # a file:// store is local: beside it
        assert str(h5) in proc.stdout
        np.testing.assert_allclose(read_h5(h5), reference[video.stem], atol=1e-4)

    # memory:// prefix (FsspecStore on the workers): ingest, then predict from the store URLs.
    root = memory_url("stores")
    address = ["--scheduler", threaded_cluster.scheduler_address]
    assert main(["ingest", *map(str, short_videos), "--store-root", root, *address, "--quiet"]) == 0
    urls = capsys.readouterr().out.split()
    assert urls == [f"{root}/{video.stem}.frames.zarr" for video in short_videos]
    for url, video in zip(urls, short_videos, strict=True):
        assert open_video(url).complete
        np.testing.assert_array_equal(
            open_video(url).frames.compute(), open_video(video, convert=False).frames.compute()
        )
    assert main(["predict", *urls, *address, *common]) == 0
    out = capsys.readouterr().out
    for video in short_videos:
        h5 = video.with_name(f"{video.stem}_{MODEL}.h5")  # beside the store's source video
        assert str(h5) in out
        np.testing.assert_allclose(read_h5(h5), reference[video.stem], atol=1e-4)


def run_cli(capsys, *argv) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--store", "nosuchfs://bucket/clip.frames.zarr"], "unknown storage protocol nosuchfs://"),
        (["--store-root", "nosuchfs://bucket"], "unknown storage protocol nosuchfs://"),
    ],
)
def test_a_bad_store_url_is_one_line_and_a_nonzero_exit(video_copy, capsys, args, message):
    code, err = run_cli(capsys, "ingest", str(video_copy), *args, "--quiet")
    assert code == 1
    assert err.startswith("napari-superanimal: error: ") and err.count("\n") == 1
    assert message in err
    assert not video_copy.with_name("clip.frames.zarr").exists()  # nothing made elsewhere


def test_a_missing_store_url_is_one_line_and_a_nonzero_exit(tmp_path, capsys):
    for url in (memory_url("gone.frames.zarr"), (tmp_path / "gone.frames.zarr").as_uri()):
        code, err = run_cli(capsys, "ingest", url, "--quiet")
        assert code == 1 and err.count("\n") == 1
        assert "no such frame store" in err
    code, err = run_cli(capsys, "ingest", memory_url("clip.mp4"), "--quiet")
    assert code == 1 and "a URL can only name a frame store" in err


def test_a_url_of_a_protocol_without_its_package_says_so(video_copy, capsys):
    if importlib.util.find_spec("s3fs") is not None:
        pytest.skip("s3fs is installed: s3:// would reach the network")
    code, err = run_cli(capsys, "ingest", str(video_copy), "--store", "s3://b/clip.frames.zarr")
    assert code == 1 and err.count("\n") == 1 and "s3fs" in err
