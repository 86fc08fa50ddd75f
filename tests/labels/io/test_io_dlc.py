"""DeepLabCut import/export: projects, CollectedData .h5/.csv, predictions, PNG-only projects.

The DeepLabCut files in these tests are written the way DeepLabCut writes them (pandas,
``df_with_missing``, ``labeled-data/<video>/img<N>.png``), not by the code under test.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image

from fixtures.paths import shared_data
from napari_superanimal.errors import LabelFormatError, VideoError
from napari_superanimal.labels.io.dlc import (
    load_dlc_config,
    load_dlc_labels,
    load_dlc_predictions,
    load_dlc_project,
    save_dlc_labels,
    save_dlc_predictions,
)
from napari_superanimal.session import Session
from napari_superanimal.video import open_video
from napari_superanimal.video.images import images_to_store

BODYPARTS = ["snout", "leftear", "rightear", "tailbase"]
KEYPOINTS = BODYPARTS  # the session the import tests open (conftest.py)
W, H = 160, 96  # the size of conftest's index video


def dlc_frame(rows: dict[int, list], video="clip", scorer="me", bodyparts=BODYPARTS, width=3):
    """CollectedData as DeepLabCut < 2.3 writes it: a string index of image paths."""
    cols = pd.MultiIndex.from_product(
        [[scorer], bodyparts, ["x", "y"]], names=["scorer", "bodyparts", "coords"]
    )
    index = [f"labeled-data/{video}/img{f:0{width}d}.png" for f in rows]
    return pd.DataFrame(np.array(list(rows.values()), float), index=index, columns=cols)


ROWS = {
    3: [10.5, 20.25, 30, 40, 50, 60, 70, 80],
    17: [11, 21, np.nan, np.nan, 51, 61, 71.125, 81],
    42: [np.nan] * 8,  # extracted, never labeled
}


def make_project(root: Path, rows=ROWS, video="clip", png=(W, H), df=None, config=None) -> Path:
    """A DLC project folder with config.yaml, CollectedData .h5 + .csv and PNG frames."""
    root.mkdir(parents=True, exist_ok=True)
    cfg = {
        "Task": "openfield",
        "scorer": "me",
        "date": "Jan1",
        "project_path": str(root),
        "video_sets": {f"/videos/{video}.mp4": {"crop": f"0, {W}, 0, {H}"}},
        "bodyparts": BODYPARTS,
        "skeleton": [["snout", "leftear"], ["snout", "rightear"]],
        "SuperAnimalConversionTables": {"superanimal_topviewmouse": {"snout": "nose"}},
        **(config or {}),
    }
    (root / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    folder = root / "labeled-data" / video
    folder.mkdir(parents=True, exist_ok=True)
    df = dlc_frame(rows, video) if df is None else df
    if all(dtype.kind == "f" for dtype in df.dtypes):  # text cells only fit the CSV
        df.to_hdf(folder / "CollectedData_me.h5", key="df_with_missing", mode="w", format="table")
    df.to_csv(folder / "CollectedData_me.csv")
    if png:
        for name in df.index:
            Image.new("RGB", png, (40, 80, 120)).save(root / name)
    return root


def test_load_project_reads_config_and_labels(tmp_path):
    project = load_dlc_project(make_project(tmp_path / "p"))
    cfg = project.config
    assert cfg.bodyparts == tuple(BODYPARTS)
    assert cfg.skeleton == [("snout", "leftear"), ("snout", "rightear")]
    assert cfg.conversion_tables == {"superanimal_topviewmouse": {"snout": "nose"}}
    table = project.labels["clip"]
    assert table.frames == [3, 17, 42]  # from img003.png, img017.png, img042.png
    assert table.images[0] == "labeled-data/clip/img003.png"
    assert table.xy[0, 0].tolist() == [10.5, 20.25]
    assert np.isnan(table.xy[1, 1]).all() and np.isnan(table.xy[2]).all()
    assert table.xy[1, 3].tolist() == [71.125, 81]


@pytest.mark.parametrize("style", ["path", "multi"])
def test_round_trip_is_lossless_and_deeplabcut_reads_it(tmp_path, style):
    root = make_project(tmp_path / "p")
    src = root / "labeled-data" / "clip" / "CollectedData_me.h5"
    original = pd.read_hdf(src, "df_with_missing")
    table = load_dlc_labels(src)
    out = save_dlc_labels(tmp_path / "out" / "CollectedData_me.h5", table, index_style=style)
    back = pd.read_hdf(out, "df_with_missing")  # DeepLabCut's own read
    assert list(back.columns.names) == ["scorer", "bodyparts", "coords"]
    assert list(back.columns) == list(original.columns)  # bodypart order kept
    np.testing.assert_array_equal(back.to_numpy(), original.to_numpy())  # NaN included
    if style == "multi":  # DeepLabCut >= 2.3: a MultiIndex of path parts
        assert isinstance(back.index, pd.MultiIndex)
        assert ["/".join(i) for i in back.index] == list(original.index)
    else:
        assert list(back.index) == list(original.index)
    # the CSV beside it, read as DeepLabCut reads it
    index_col = [0, 1, 2] if style == "multi" else 0
    csv = pd.read_csv(out.with_suffix(".csv"), header=[0, 1, 2], index_col=index_col)
    np.testing.assert_array_equal(csv.to_numpy(), original.to_numpy())
    again = load_dlc_labels(out, check_images=False)
    np.testing.assert_array_equal(again.xy, table.xy)
    assert again.images == table.images and again.keypoints == table.keypoints


def test_csv_is_read_when_there_is_no_h5(tmp_path):
    root = make_project(tmp_path / "p")
    (root / "labeled-data" / "clip" / "CollectedData_me.h5").unlink()
    table = load_dlc_project(root).labels["clip"]
    assert table.frames == [3, 17, 42]
    np.testing.assert_array_equal(table.xy.reshape(3, -1), np.array(list(ROWS.values())))


def _bad_cases():
    good = dlc_frame(ROWS)
    no_y = good.drop(columns=("me", "leftear", "y"))
    dup = dlc_frame(ROWS, bodyparts=["snout", "leftear", "rightear", "snout"])
    half = dlc_frame({3: [10, np.nan] + [1] * 6})
    outside = dlc_frame({3: [W + 5, 10] + [1] * 6})
    other_set = dlc_frame(ROWS, bodyparts=["snout", "leftear", "rightear", "tail"])
    text = good.astype(object)
    text.iloc[0, 0] = "ten"
    return {
        "missing column": (no_y, "has no 'y' column"),
        "duplicate bodypart": (dup, "appears twice"),
        "NaN where a number is required": (half, "NaN for the other"),
        "out of frame": (outside, "outside the 160x96 frame"),
        "keypoint set": (other_set, "does not match the project"),
        "not a number": (text, "not a number"),
    }


@pytest.mark.parametrize("case", list(_bad_cases()))
def test_malformed_collected_data_names_file_and_problem(tmp_path, case):
    df, reason = _bad_cases()[case]
    root = make_project(tmp_path / "p", df=df)
    with pytest.raises(LabelFormatError) as err:
        load_dlc_project(root)
    message = str(err.value)
    assert "CollectedData_me." in message and reason in message
    assert "\n" not in message


def test_config_with_duplicate_bodyparts_is_refused(tmp_path):
    root = make_project(tmp_path / "p", config={"bodyparts": ["a", "b", "a"]})
    with pytest.raises(LabelFormatError, match=r"config.yaml: bodypart 'a' appears twice"):
        load_dlc_config(root)


def test_two_animals_are_refused_with_a_clear_reason(tmp_path):
    cols = pd.MultiIndex.from_product(
        [["me"], ["a1", "a2"], BODYPARTS, ["x", "y"]],
        names=["scorer", "individuals", "bodyparts", "coords"],
    )
    df = pd.DataFrame(np.ones((1, 16)), index=["labeled-data/clip/img003.png"], columns=cols)
    root = make_project(tmp_path / "p", df=df)
    with pytest.raises(LabelFormatError, match="2 animals"):
        load_dlc_project(root)


# -- into and out of a session -----------------------------------------------------------------
def test_import_project_into_session_maps_img_numbers_to_frames(session, tmp_path):
    session.label(17, "leftear", 5, 5)  # the file has NaN here: the import removes it
    session.label(90, "snout", 1, 2)  # a frame the file does not list: untouched
    n = session.import_labels(make_project(tmp_path / "p"))
    assert n == 2  # frames 3 and 17; 42 is all NaN and had no labels
    assert session.labels(3)["snout"].x == 10.5 and session.labels(3)["snout"].y == 20.25
    assert set(session.labels(17)) == {"snout", "rightear", "tailbase"}
    assert session.labels(90)["snout"].x == 1
    assert session.labeled_frames() == [3, 17, 90]
    assert session.skeleton == [("snout", "leftear"), ("snout", "rightear")]
    assert session.undo() == 3  # one undo reverts the whole import
    assert session.labeled_frames() == [17, 90]
    assert session.labels(17)["leftear"].x == 5
    assert set(session.labels(17)) == {"leftear"}


def test_a_bad_row_imports_nothing(session, tmp_path):
    rows = {**ROWS, 99: [W + 50, 10] + [1] * 6}  # the last row is outside the 160x96 frame
    root = make_project(tmp_path / "p", rows=rows, png=None)
    session.label(5, "snout", 1, 1)
    with pytest.raises(LabelFormatError, match=r"img099.png.*outside the 160x96 frame"):
        session.import_labels(root)
    assert session.labeled_frames() == [5]
    assert session.undo() == 5  # the last edit is still the user's own
    assert session.project.labels.labeled_frames(session.video_key) == []


def test_a_csv_that_repeats_a_bodypart_is_refused_and_labels_stay(session, tmp_path):
    # napari-deeplabcut's #219: pandas renames the repeated CSV columns to x.1 / y.1; read as
    # if they were not there, the import replaced the labels of those frames with 3 keypoints
    df = dlc_frame(ROWS, bodyparts=["snout", "leftear", "rightear", "snout"])
    root = make_project(tmp_path / "p", df=df, png=None)
    (root / "labeled-data" / "clip" / "CollectedData_me.h5").unlink(missing_ok=True)
    session.label(3, "tailbase", 7, 8)
    with pytest.raises(LabelFormatError, match=r"CollectedData_me.csv: bodypart 'snout' appears"):
        session.import_labels(root)
    assert set(session.labels(3)) == {"tailbase"} and session.labeled_frames() == [3]


def test_import_refuses_other_keypoints_and_frames_outside_the_video(session, tmp_path):
    df = dlc_frame(ROWS, bodyparts=["nose", "leftear", "rightear", "tailbase"])
    names = ["nose", "leftear", "rightear", "tailbase"]
    config = {"bodyparts": names, "skeleton": [], "SuperAnimalConversionTables": {}}
    root = make_project(tmp_path / "a", df=df, config=config)
    with pytest.raises(LabelFormatError, match="does not match the project"):
        session.import_labels(root)
    with pytest.raises(LabelFormatError, match="frame 500, outside the video"):
        session.import_labels(make_project(tmp_path / "b", rows={500: [1] * 8}, png=None))
    assert session.labeled_frames() == []


def test_export_dlc_project_round_trips_through_deeplabcut_files(session, tmp_path):
    session.import_labels(make_project(tmp_path / "p"))
    session.hide(3, "tailbase")  # DeepLabCut has no "occluded": written as NaN
    out = tmp_path / "export"
    config = session.export(out, format="dlc-project", scorer="ann")
    cfg = yaml.safe_load(config.read_text())
    assert cfg["bodyparts"] == BODYPARTS and cfg["scorer"] == "ann"
    assert cfg["skeleton"] == [["snout", "leftear"], ["snout", "rightear"]]
    folder = out / "labeled-data" / "clip"
    df = pd.read_hdf(folder / "CollectedData_ann.h5", "df_with_missing")
    assert [i[-1] for i in df.index] == ["img003.png", "img017.png"]  # 150 frames: 3 digits
    assert df.loc[("labeled-data", "clip", "img003.png"), ("ann", "snout", "x")] == 10.5
    assert np.isnan(df.loc[("labeled-data", "clip", "img003.png"), ("ann", "tailbase", "x")])
    png = np.asarray(Image.open(folder / "img017.png"))
    np.testing.assert_array_equal(png, session.read_frame(17))
    assert str(session.video.source_path) in cfg["video_sets"]
    # and back: a fresh session imports what was exported
    with Session.open(session.video, keypoints=BODYPARTS, project=tmp_path / "p2") as fresh:
        assert fresh.import_labels(out) == 2
        assert fresh.labels(17)["tailbase"].x == 71.125
        assert "tailbase" not in fresh.labels(3)


def test_predictions_h5_loads_in_movement(session, tmp_path):
    from movement.io import load_poses

    poses = np.random.default_rng(0).uniform(5, 90, (len(session), 4, 3)).astype(np.float32)
    poses[..., 2] = np.linspace(0.1, 0.9, len(session))[:, None]
    session.add_predictions(range(len(session)), poses, model_version="fake-v1")
    session.label(10, "snout", 7.5, 8.5)
    out = session.export(tmp_path / "clipDLC_fake.h5")  # format="dlc-h5", the default
    ds = load_poses.from_dlc_file(out, fps=30)
    assert ds.position.shape == (len(session), 2, 4, 1)  # time, space, keypoints, individuals
    assert list(ds.keypoints.values) == BODYPARTS
    np.testing.assert_allclose(ds.position.values[20, :, 1, 0], poses[20, 1, :2], rtol=1e-6)
    np.testing.assert_allclose(ds.confidence.values[20, :, 0], poses[20, :, 2], rtol=1e-6)
    assert ds.position.values[10, :, 0, 0].tolist() == [7.5, 8.5]  # the label wins
    assert ds.confidence.values[10, 0, 0] == 1.0


# -- projects with PNG frames and no video -----------------------------------------------------
def test_png_only_project_opens_as_a_session(tmp_path):
    root = make_project(tmp_path / "p", png=None)
    frames = tmp_path / "p" / "labeled-data" / "clip"
    rng = np.random.default_rng(1)
    pixels = {}
    for f in (3, 17, 42):
        pixels[f] = rng.integers(0, 255, (H, W, 3), dtype=np.uint8)
        Image.fromarray(pixels[f]).save(frames / f"img{f:03d}.png")
    store = images_to_store(frames, tmp_path / "clip.frames.zarr")
    with Session.open(store, keypoints=BODYPARTS, project=tmp_path / "clip.superanimal") as s:
        assert len(s) == 3
        np.testing.assert_array_equal(s.read_frame(1), pixels[17])  # lossless, name order
        assert s.import_labels(root) == 2
        assert s.labels(0)["snout"].x == 10.5  # img003.png is the store's frame 0
        assert s.labeled_frames() == [0, 1]
        out = s.export(tmp_path / "again", format="dlc-project", scorer="me")
    df = pd.read_hdf(out.parent / "labeled-data" / "clip" / "CollectedData_me.h5")
    assert [i[-1] for i in df.index] == ["img003.png", "img017.png"]  # the original names
    # the project reopens from its folder: the store is its video
    with Session.open(store, project=tmp_path / "clip.superanimal") as again:
        assert again.labeled_frames() == [0, 1]


def test_images_of_different_sizes_are_refused_or_padded(tmp_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    Image.new("RGB", (40, 30), (255, 0, 0)).save(folder / "img1.png")
    Image.new("RGB", (32, 36), (0, 255, 0)).save(folder / "img2.png")
    with pytest.raises(VideoError, match=r"img2.png: is 32x36 but img1.png is 40x30"):
        images_to_store(folder, tmp_path / "a.frames.zarr")
    assert not (tmp_path / "a.frames.zarr").exists()  # nothing written
    video = open_video(images_to_store(folder, tmp_path / "b.frames.zarr", pad=True))
    assert video.shape == (2, 36, 40, 3)
    second = video.read_frame(1)
    assert second[:36, :32].tolist() == np.full((36, 32, 3), [0, 255, 0]).tolist()
    assert not second[:, 32:].any()  # padded right and bottom: coordinates unchanged


def test_real_reaching_project_imports(tmp_path):
    reaching = shared_data("reaching")
    project = load_dlc_project(reaching)
    table = project.labels["reachingvideo1"]
    assert project.config.bodyparts == ("Hand", "Finger1", "Tongue", "Joystick1", "Joystick2")
    assert len(table) == 55 and table.frames[0] == 5
    original = pd.read_hdf(reaching / "labeled-data/reachingvideo1/CollectedData_Mackenzie.h5")
    out = save_dlc_labels(tmp_path / "CollectedData_Mackenzie.h5", table)
    assert pd.read_hdf(out, "df_with_missing").equals(original)  # byte-for-byte values, index
    # its PNGs differ in size (832x747 and 640x470): only padded do they make one store
    frames = reaching / "labeled-data" / "reachingvideo1"
    with pytest.raises(VideoError, match="same size"):
        images_to_store(frames, tmp_path / "r.frames.zarr")
    store = images_to_store(frames, tmp_path / "r.frames.zarr", pad=True)
    with Session.open(store, keypoints=project.config.bodyparts, project=tmp_path / "r") as s:
        assert s.import_labels(reaching) == 55
        assert s.labels(0)["Hand"].x == original.iloc[0][("Mackenzie", "Hand", "x")]
        assert "Tongue" not in s.labels(0)  # NaN in the file


def test_prediction_files_take_deeplabcuts_single_and_multi_animal_layouts(tmp_path):
    from movement.io import load_poses

    rng = np.random.default_rng(1)
    one = rng.uniform(5, 90, (6, 4, 3)).astype(np.float32)
    one[..., 2] = 0.7
    path = save_dlc_predictions(tmp_path / "oneDLC_sa.h5", one, BODYPARTS, scorer="sa")
    # one animal: no individuals level, as analyze_videos writes a single-animal project's
    assert pd.read_hdf(path).columns.names == ["scorer", "bodyparts", "coords"]
    np.testing.assert_allclose(load_dlc_predictions(path).xy, one[..., :2], rtol=1e-6)
    assert load_poses.from_dlc_file(path, fps=30).position.shape == (6, 2, 4, 1)

    three = rng.uniform(5, 90, (6, 3, 4, 3)).astype(np.float32)
    three[..., 2] = 0.8
    path = save_dlc_predictions(tmp_path / "threeDLC_sa.h5", three, BODYPARTS, scorer="sa")
    df = pd.read_hdf(path)
    assert df.columns.names == ["scorer", "individuals", "bodyparts", "coords"]
    ds = load_poses.from_dlc_file(path, fps=30)
    assert list(ds.individuals.values) == ["animal0", "animal1", "animal2"]
    np.testing.assert_allclose(ds.position.values[4, :, 2, 1], three[4, 1, 2, :2], rtol=1e-6)
