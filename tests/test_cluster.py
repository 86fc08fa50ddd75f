"""Many videos on a dask.distributed cluster: same results as one process, a killed worker
is survived, and the CLI writes every video's project and .h5."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch

from napari_superanimal import open_video
from napari_superanimal.cluster import ModelSpec, get_client, predict_videos
from napari_superanimal.model.checkpoint import save_snapshot
from napari_superanimal.model.inference import load_model
from napari_superanimal.model.networks import build_network

pytestmark = pytest.mark.slow
KEYPOINTS = ("a", "b", "c")


@pytest.fixture()
def videos(index_video, tmp_path):
    paths = []
    for name in ("one.mp4", "two.mp4"):
        path = tmp_path / name
        path.write_bytes(index_video.read_bytes())
        paths.append(path)
    return paths


@pytest.fixture()
def spec(tmp_path):
    torch.manual_seed(0)
    weights = save_snapshot(tmp_path / "light.pt", build_network("light_resnet18", 3))
    return ModelSpec("light", "light_resnet18", str(weights), KEYPOINTS, batch_size=8)


def single_process(path, spec):
    model = load_model(
        spec.name, weights=spec.weights, arch=spec.arch, keypoints=spec.keypoints, device="cpu"
    )
    return model.predict_video(open_video(path))


@pytest.fixture()
def client():
    c = get_client(n_workers=2)
    yield c
    c.close()
    c.cluster.close()


def test_two_workers_give_the_single_process_results(videos, spec, client):
    results = predict_videos(videos, spec, client=client, span=40)
    assert sorted(results) == sorted(str(v) for v in videos)
    for path in videos:
        np.testing.assert_allclose(results[str(path)], single_process(path, spec), atol=1e-4)
    assert all(open_video(v, convert=False).complete for v in videos)  # ingested on the cluster


def test_a_worker_killed_mid_run_is_survived(videos, spec, client):
    pids = list(client.run(os.getpid).values())
    killed = []

    def kill_one_worker(done, total):
        if not killed:
            os.kill(pids[0], signal.SIGKILL)
            killed.append(pids[0])

    results = predict_videos(videos, spec, client=client, span=10, progress=kill_one_worker)
    assert killed
    for path in videos:
        np.testing.assert_allclose(results[str(path)], single_process(path, spec), atol=1e-4)


def test_cli_predicts_several_videos_on_a_local_cluster(videos, tmp_path):
    torch.manual_seed(1)
    weights = save_snapshot(
        tmp_path / "superanimal_topviewmouse_hrnet_w32.pt", build_network("hrnet_w32", 27)
    )
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "napari_superanimal.cli",
            "predict",
            *map(str, videos),
            "--weights",
            str(weights),
            "--workers",
            "2",
            "--quiet",
            "--offline",
            "--full-frame",  # 300 frames; the detector on a cluster: test_cli_predict.py
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    for path in videos:
        h5 = path.with_name(f"{path.stem}_superanimal_topviewmouse_hrnet_w32.h5")
        assert str(h5) in proc.stdout
        df = pd.read_hdf(h5, key="df_with_missing")
        assert df.shape == (150, 27 * 3) and not df.isna().any().any()
        assert path.with_name(f"{path.stem}.superanimal").is_dir()


def test_a_version_trained_on_crops_stays_top_down_on_a_worker(videos, tmp_path):
    """A worker rebuilds a model with everything that makes it predict as it does; a network
    trained on animals' crops never gets whole frames there (where it would place keypoints
    silently wrong): without a detector or boxes it asks for them, as on one machine."""
    from napari_superanimal.cluster import ingest_task, predict_task
    from napari_superanimal.model.calibration import Calibration
    from napari_superanimal.model.inference import estimator_from_snapshot

    torch.manual_seed(0)
    weights = save_snapshot(tmp_path / "crops.pt", build_network("light_resnet18", 3))
    calibration = Calibration(0.8, -0.3, points=6)
    model = estimator_from_snapshot(
        weights, "light_resnet18", KEYPOINTS, input_scale=0.5, crops=True, calibration=calibration
    )
    spec = ModelSpec.of(model)
    assert spec.load().options() == model.options()
    store = ingest_task(str(videos[0]))
    with pytest.raises(ValueError, match="draw a box") as here:
        model.predict_video(open_video(store, convert=False), range(4))
    with pytest.raises(ValueError, match="draw a box") as there:
        predict_task(store, spec, 0, 4)
    assert str(there.value) == str(here.value)
