"""The command line's ``import`` and ``export --format``: files out that the real readers take,
and one-line errors with a non-zero exit for bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sleap_io as sio
import yaml
from PIL import Image

from napari_superanimal.cli import main
from napari_superanimal.session import Session
from napari_superanimal.video import open_video

BODYPARTS = ["snout", "tailbase"]


def dlc_project(root, rows, size=(160, 96)):
    root.mkdir(parents=True)
    cfg = {"scorer": "me", "bodyparts": BODYPARTS, "skeleton": [BODYPARTS]}
    (root / "config.yaml").write_text(yaml.safe_dump(cfg))
    folder = root / "labeled-data" / "clip"
    folder.mkdir(parents=True)
    cols = pd.MultiIndex.from_product(
        [["me"], BODYPARTS, ["x", "y"]], names=["scorer", "bodyparts", "coords"]
    )
    index = [f"labeled-data/clip/img{f:03d}.png" for f in rows]
    df = pd.DataFrame(np.array(list(rows.values()), float), index=index, columns=cols)
    df.to_hdf(folder / "CollectedData_me.h5", key="df_with_missing", mode="w")
    for name in index:
        Image.new("RGB", size).save(root / name)
    return root


@pytest.fixture()
def video(video_copy):
    # the project beside the video, with this test's keypoints
    with Session.open(open_video(video_copy, convert=False), keypoints=BODYPARTS):
        pass
    return video_copy


def test_import_then_export_every_format(video, tmp_path, capsys):
    src = dlc_project(tmp_path / "dlc", {4: [1.5, 2.5, 3, 4], 20: [5, 6, np.nan, np.nan]})
    assert main(["import", str(video), str(src)]) == 0
    assert "2 frames imported" in capsys.readouterr().out
    slp = tmp_path / "out.slp"
    assert main(["export", str(video), "--format", "slp", "--out", str(slp)]) == 0
    labels = sio.load_slp(str(slp), open_videos=False)
    assert sorted(lf.frame_idx for lf in labels.labeled_frames) == [4, 20]
    coco = tmp_path / "coco" / "out.json"
    assert main(["export", str(video), "--format", "coco", "--out", str(coco)]) == 0
    assert (coco.parent / "clip" / "img004.png").is_file()
    out = tmp_path / "dlc-out"
    assert main(["export", str(video), "--format", "dlc-project", "--out", str(out)]) == 0
    df = pd.read_hdf(out / "labeled-data" / "clip" / "CollectedData_napari-superanimal.h5")
    assert df.iloc[0].tolist() == [1.5, 2.5, 3, 4]
    assert main(["export", str(video), "--out", str(tmp_path / "poses.h5")]) == 0  # dlc-h5
    assert pd.read_hdf(tmp_path / "poses.h5").shape == (150, 6)


def test_bad_file_exits_nonzero_with_one_line_and_imports_nothing(video, tmp_path, capsys):
    src = dlc_project(tmp_path / "dlc", {4: [1, 2, 3, 4], 9: [500, 2, 3, 4]})
    assert main(["import", str(video), str(src)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert "CollectedData_me.h5" in err and "snout on labeled-data/clip/img009.png" in err
    with Session.open(video) as session:
        assert session.labeled_frames() == []
    assert main(["import", str(video), str(tmp_path / "nothing.slp")]) == 1
    assert "no such file" in capsys.readouterr().err


def test_import_into_a_folder_of_images(tmp_path, capsys):
    src = dlc_project(tmp_path / "dlc", {4: [1, 2, 3, 4], 9: [5, 6, 7, 8]}, size=(40, 30))
    Image.new("RGB", (30, 20)).save(src / "labeled-data" / "clip" / "img011.png")
    frames = src / "labeled-data" / "clip"
    store, project = tmp_path / "clip.frames.zarr", tmp_path / "clip.superanimal"
    args = ["import", str(frames), str(src), "--store", str(store), "--project", str(project)]
    assert main(args) == 1
    assert "all images of a folder must have the same size" in capsys.readouterr().err
    assert main([*args, "--pad"]) == 0
    with Session.open(store, project=project) as session:
        assert session.keypoints == tuple(BODYPARTS)
        assert session.labeled_frames() == [0, 1]  # img004, img009 of img004/009/011
        assert session.labels(1)["tailbase"].x == 7


def test_exported_paths_resolve_from_anywhere(video, tmp_path, monkeypatch, capsys):
    # run from the video's folder with relative names, as a user in a shell does; the files
    # must still name the video once read from elsewhere
    src = dlc_project(tmp_path / "dlc", {4: [1.5, 2.5, 3, 4]})
    monkeypatch.chdir(video.parent)
    assert main(["import", video.name, str(src)]) == 0
    assert main(["export", video.name, "--format", "dlc-project", "--out", "dlc-out"]) == 0
    assert main(["export", video.name, "--format", "slp", "--out", "out.slp"]) == 0
    config = yaml.safe_load((video.parent / "dlc-out" / "config.yaml").read_text())
    monkeypatch.chdir(tmp_path.parent)
    for key in config["video_sets"]:
        assert Path(key).is_absolute() and Path(key).resolve() == video.resolve()
    labels = sio.load_slp(str(video.parent / "out.slp"), open_videos=False)
    filename = Path(labels.videos[0].filename)
    assert filename.is_absolute() and filename.resolve() == video.resolve()
