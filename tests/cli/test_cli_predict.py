"""``predict`` with a model the user trained: its version name, its exported snapshot, a cluster."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from fixtures.zoo import MOBILENET
from napari_superanimal.cli import main
from napari_superanimal.model.networks import build_network
from napari_superanimal.model.versions import ModelVersions
from napari_superanimal.session import Session

KEYPOINTS = ["nose", "left_ear", "right_ear", "tail_base"]
VERSION = "light_resnet18-r1"


@pytest.fixture()
def trained(video_copy):
    """A project beside the video with one trained version (as a Fine-tune round leaves it),
    and what that version predicts on every frame."""
    torch.manual_seed(3)
    with Session.open(video_copy, keypoints=KEYPOINTS) as session:
        versions = ModelVersions(session.project)
        info = {"arch": "light_resnet18", "keypoints": KEYPOINTS, "input_scale": 0.5}
        snapshot = versions.save(VERSION, build_network("light_resnet18", 4), info)
        session.video.wait()  # what predict reads: the converted store
        expect = versions.load(VERSION, device="cpu").predict_video(session.video)
    return video_copy, snapshot, expect


def _h5(path):
    return pd.read_hdf(path, key="df_with_missing").to_numpy().reshape(-1, len(KEYPOINTS), 3)


def test_predict_with_a_version_trained_in_the_project(trained, capsys):
    video, _, expect = trained
    assert main(["predict", str(video), "--model", VERSION, "--offline", "--quiet"]) == 0
    out = capsys.readouterr().out.strip().splitlines()[-1]
    np.testing.assert_allclose(_h5(out), expect, atol=1e-4)
    with Session.open(video) as session:  # the project holds them under that version
        assert VERSION in session.versions.known()


def test_predict_with_an_exported_snapshot_elsewhere(trained, tmp_path, capsys):
    video, snapshot, expect = trained
    other = tmp_path / "elsewhere" / "clip.mp4"
    other.parent.mkdir()
    other.write_bytes(video.read_bytes())
    args = ["predict", str(other), "--model", VERSION, "--weights", str(snapshot), "--offline"]
    assert main([*args, "--quiet"]) == 0
    out = capsys.readouterr().out.strip().splitlines()[-1]
    np.testing.assert_allclose(_h5(out), expect, atol=1e-4)


@pytest.mark.slow
@pytest.mark.parametrize("cluster", ["--workers", "--scheduler"])
def test_predict_with_a_version_on_a_dask_cluster(trained, capsys, cluster):
    from dask.distributed import LocalCluster

    video, _, expect = trained
    args = ["predict", str(video), "--model", VERSION, "--offline", "--quiet"]
    if cluster == "--workers":  # a local cluster the command starts
        assert main([*args, "--workers", "1"]) == 0
    else:  # a scheduler already running (a lab's cluster): the workers load the version
        with LocalCluster(n_workers=1, processes=True, dashboard_address=None) as running:
            assert main([*args, "--scheduler", running.scheduler_address]) == 0
    out = capsys.readouterr().out.strip().splitlines()[-1]
    np.testing.assert_allclose(_h5(out), expect, atol=1e-4)


@pytest.mark.slow
def test_superanimal_predicts_top_down_alone_and_on_a_cluster(mouse_video, zoo_cache, capsys):
    """The CLI crops around the detector's boxes on one video and on a cluster alike, and
    ``--full-frame`` feeds whole frames instead."""
    zoo_cache(detectors=(MOBILENET,))
    videos = [mouse_video(n_frames=3, seed=s, name=f"m{s}.mp4")[0] for s in (1, 2)]
    common = ["--detector", MOBILENET, "--offline", "--quiet"]
    alone = {}
    for video in videos:
        assert main(["predict", str(video), *common, "--out", str(video.with_suffix(".h5"))]) == 0
        alone[video] = pd.read_hdf(video.with_suffix(".h5"), key="df_with_missing").to_numpy()
    with Session.open(videos[0], "superanimal_topviewmouse", detector=MOBILENET) as s:
        expect = s.model.predict_video(s.video).reshape(3, -1)
    np.testing.assert_allclose(alone[videos[0]], expect, atol=1e-4)
    capsys.readouterr()
    assert main(["predict", *map(str, videos), *common, "--workers", "2"]) == 0
    for out, video in zip(capsys.readouterr().out.strip().splitlines()[-2:], videos, strict=True):
        np.testing.assert_allclose(
            pd.read_hdf(out, key="df_with_missing").to_numpy(), alone[video], atol=1e-4
        )
    whole = videos[0].with_name("whole.h5")
    args = ["predict", str(videos[0]), "--full-frame", "--offline", "--quiet", "--out", str(whole)]
    assert main(args) == 0
    assert not np.allclose(pd.read_hdf(whole, key="df_with_missing").to_numpy(), expect, atol=1)


@pytest.mark.slow
def test_several_animals_keep_their_rows_in_a_multi_animal_h5(mouse_video, zoo_cache, capsys):
    from movement.io import load_poses

    zoo_cache(detectors=(MOBILENET,))
    video, _ = mouse_video(n_frames=4, seed=3)
    args = ["predict", str(video), "--detector", MOBILENET, "--individuals", "2", "--offline"]
    assert main([*args, "--quiet"]) == 0
    captured = capsys.readouterr()
    out = captured.out.strip().splitlines()[-1]
    assert "go to the .h5 only" in captured.err  # said, not silently dropped
    with Session.open(video, "superanimal_topviewmouse", detector=MOBILENET) as s:
        expect = s.model.predict_animals(s.video, 2)
    ds = load_poses.from_dlc_file(out, fps=30)
    assert list(ds.individuals.values) == ["animal0", "animal1"]
    got = ds.position.values.transpose(0, 3, 2, 1)  # (time, individuals, keypoints, space)
    np.testing.assert_allclose(got, expect[..., :2], atol=1e-4)


@pytest.mark.slow
def test_a_project_with_animals_keeps_each_ones_predictions(mouse_video, zoo_cache, capsys):
    """predict follows the project's animals, keeps them in the project and names them in the
    .h5; the session predicts them too, each in its row from one batch to the next."""
    from movement.io import load_poses

    from napari_superanimal.model.identities import match_animals

    zoo_cache(detectors=(MOBILENET,))
    video, _ = mouse_video(n_frames=4, seed=3)
    with Session.open(video, keypoints=None, detector=MOBILENET) as s:
        s.set_individuals(["m1", "m2"])
    args = ["predict", str(video), "--detector", MOBILENET, "--offline", "--quiet"]
    assert main([*args, "--individuals", "3"]) != 0
    assert "labels 2 animals (m1, m2), not --individuals 3" in capsys.readouterr().err
    assert main(args) == 0
    out = capsys.readouterr().out.strip().splitlines()[-1]
    with Session.open(video, "superanimal_topviewmouse", detector=MOBILENET) as s:
        expect = s.model.predict_animals(s.video, 2)
        np.testing.assert_allclose(s.all_predictions(), expect, atol=1e-4)
        ds = load_poses.from_dlc_file(out, fps=30)
        assert list(ds.individuals.values) == ["m1", "m2"]

        s.add_predictions(range(4), np.full_like(expect, np.nan))  # forget them
        s.predict([0, 1])
        s.predict([2, 3])  # another batch: the tracker starts again
        np.testing.assert_allclose(s.all_predictions()[:2], expect[:2], atol=1e-4)
        alone = s.model.predict_animals(s.video, 2, [2, 3])
        order = match_animals(expect[1], alone[0])  # each animal continues frame 1's
        np.testing.assert_allclose(s.all_predictions()[2:], alone[:, order], atol=1e-4)
