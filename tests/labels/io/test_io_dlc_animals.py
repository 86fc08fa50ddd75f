"""DeepLabCut multi-animal projects: import into a project's individuals, export back.

The DeepLabCut files here are written as DeepLabCut 3 writes them (pandas, ``df_with_missing``,
columns ``scorer / individuals / bodyparts / coords``, rows a MultiIndex of the image path's
parts; config keys as ``deeplabcut.create_new_project(multianimal=True)`` sets them), not by the
code under test.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from napari_superanimal.errors import LabelFormatError, SuperAnimalError
from napari_superanimal.labels.io.dlc import load_dlc_config, load_dlc_project

KEYPOINTS = ["snout", "leftear", "rightear", "tailbase"]
MICE = ["mouse1", "mouse2"]
W, H = 160, 96  # the size of conftest's index video


def animals_frame(rows: dict[int, dict[str, list]], individuals=MICE, scorer="me") -> pd.DataFrame:
    """CollectedData of a multi-animal project: ``rows[frame][individual]`` is 8 numbers."""
    cols = pd.MultiIndex.from_product(
        [[scorer], individuals, KEYPOINTS, ["x", "y"]],
        names=["scorer", "individuals", "bodyparts", "coords"],
    )
    index = pd.MultiIndex.from_tuples([("labeled-data", "clip", f"img{f:03d}.png") for f in rows])
    values = [sum((r.get(a, [np.nan] * 8) for a in individuals), []) for r in rows.values()]
    return pd.DataFrame(np.array(values, float), index=index, columns=cols)


ROWS = {
    4: {"mouse1": [10, 11, 12, 13, 14, 15, 16, 17], "mouse2": [100, 50, 101, 51, 102, 52, 103, 53]},
    9: {"mouse1": [20.5, 21, np.nan, np.nan, 24, 25, 26, 27]},  # mouse2 not in view
}


def make_project(root: Path, rows=ROWS, individuals=MICE, unique=()) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    cfg = {
        "Task": "mice",
        "scorer": "me",
        "date": "Jan1",
        "multianimalproject": True,
        "identity": False,
        "project_path": str(root),
        "video_sets": {"/videos/clip.mp4": {"crop": f"0, {W}, 0, {H}"}},
        "individuals": list(individuals),
        "uniquebodyparts": list(unique),
        "multianimalbodyparts": KEYPOINTS,
        "bodyparts": "MULTI!",
        "skeleton": [["snout", "leftear"]],
    }
    (root / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    folder = root / "labeled-data" / "clip"
    folder.mkdir(parents=True, exist_ok=True)
    animals_frame(rows, list(dict.fromkeys(individuals))).to_hdf(
        folder / "CollectedData_me.h5", key="df_with_missing", mode="w", format="fixed"
    )
    return root


def test_a_multi_animal_project_imports_each_animals_points(session, tmp_path):
    project = make_project(tmp_path / "dlc")
    assert session.import_labels(project) == 2
    assert session.individuals == ("mouse1", "mouse2")  # a project without labels takes them
    assert session.labels(4, "mouse2")["tailbase"].x == 103
    assert session.labels(4, "mouse1")["snout"].y == 11
    assert "leftear" not in session.labels(9, "mouse1") and session.labels(9, "mouse2") == {}
    assert session.skeleton == [("snout", "leftear")]
    assert session.undo() == 4 and session.animals(4) == {}  # one import, one undo


def test_the_export_is_a_multi_animal_project_that_reads_back_as_it_was(session, tmp_path):
    session.import_labels(make_project(tmp_path / "dlc"))
    session.label(9, "snout", 60, 30, individual="mouse2")
    out = session.export(tmp_path / "out", format="dlc-project", scorer="me")
    config = yaml.safe_load(out.read_text())
    assert config["multianimalproject"] is True and config["bodyparts"] == "MULTI!"
    assert config["individuals"] == MICE and config["multianimalbodyparts"] == KEYPOINTS
    assert config["uniquebodyparts"] == []
    df = pd.read_hdf(out.parent / "labeled-data/clip/CollectedData_me.h5", "df_with_missing")
    assert list(df.columns.names) == ["scorer", "individuals", "bodyparts", "coords"]
    assert df.loc[("labeled-data", "clip", "img009.png"), ("me", "mouse2", "snout", "x")] == 60
    back = load_dlc_project(out.parent, check_images=False).labels["clip"]
    assert back.individuals == ("mouse1", "mouse2")
    np.testing.assert_array_equal(back.tables["mouse1"].xy[0].ravel(), ROWS[4]["mouse1"])


def test_an_import_whose_animals_differ_from_the_projects_is_refused_naming_both(session, tmp_path):
    session.set_individuals(["a", "b", "c"])
    session.label(1, "snout", 5, 5, individual="a")
    with pytest.raises(LabelFormatError) as err:
        session.import_labels(make_project(tmp_path / "dlc"))
    message = str(err.value)
    assert "['mouse1', 'mouse2']" in message and "['a', 'b', 'c']" in message
    assert "\n" not in message
    assert session.labeled_frames() == [1]  # nothing imported


def test_a_single_animal_file_into_a_project_of_several_is_refused(session, tmp_path):
    from napari_superanimal.labels.io.dlc import save_dlc_labels
    from napari_superanimal.labels.model import LabelTable

    session.set_individuals(MICE)
    table = LabelTable.empty(KEYPOINTS, [2], images=["labeled-data/clip/img002.png"])
    table.xy[0, 0] = (1, 2)
    file = save_dlc_labels(tmp_path / "labeled-data/clip/CollectedData_me.h5", table, "me")
    with pytest.raises(LabelFormatError, match=r"\(one animal\).*\['mouse1', 'mouse2'\]"):
        session.import_labels(file)


@pytest.mark.parametrize(
    "change, match",
    [
        ({"unique": ["snout"]}, "bodypart 'snout' appears twice"),
        ({"individuals": ["mouse1", "mouse1"]}, "individual 'mouse1' appears twice"),
    ],
)
def test_what_multi_animal_import_does_not_handle_is_said_in_one_line(tmp_path, change, match):
    root = make_project(tmp_path / "dlc", **change)
    with pytest.raises(LabelFormatError, match=match) as err:
        load_dlc_config(root)
    assert "\n" not in str(err.value)


def test_a_file_whose_animals_are_not_its_configs_is_refused(tmp_path):
    root = make_project(tmp_path / "dlc")
    config = yaml.safe_load((root / "config.yaml").read_text())
    config["individuals"] = ["mouse1", "mouse3"]
    (root / "config.yaml").write_text(yaml.safe_dump(config))
    with pytest.raises(LabelFormatError, match=r"'mouse2'\].*config names \['mouse1', 'mouse3'"):
        load_dlc_project(root)


def test_several_animals_export_to_sleap_tracks_and_coco_annotations_and_come_back(
    session, tmp_path, video_copy
):
    """Each animal is a SLEAP track and a COCO annotation naming it; either file imports
    into a new project as the same animals with the same points."""
    from napari_superanimal import open_video
    from napari_superanimal.session import Session

    session.import_labels(make_project(tmp_path / "dlc"))
    expected = {f: session.animals(f) for f in session.labeled_frames()}
    for format, name in (("slp", "out.slp"), ("coco", "coco/out.json")):
        out = session.export(tmp_path / name, format=format, images=False)
        with Session.open(
            open_video(video_copy, convert=False),
            keypoints=KEYPOINTS,
            project=tmp_path / f"again-{format}",
        ) as again:
            again.import_labels(out)
            assert again.individuals == tuple(MICE)
            assert {f: again.animals(f) for f in again.labeled_frames()} == expected


def test_unique_bodyparts_are_the_scenes_points_and_go_back_to_deeplabcut(session, tmp_path):
    """DeepLabCut's uniquebodyparts (its individual "single") import as the project's unique
    keypoints, labeled whichever animal is chosen, and export back under "single"."""
    root = make_project(tmp_path / "dlc", unique=["arena_corner"])
    file = root / "labeled-data/clip/CollectedData_me.h5"
    df = pd.read_hdf(file, "df_with_missing")
    corner = pd.DataFrame(
        [[5.0, 6.0], [np.nan, np.nan]],
        index=df.index,
        columns=pd.MultiIndex.from_product(
            [["me"], ["single"], ["arena_corner"], ["x", "y"]], names=df.columns.names
        ),
    )
    pd.concat([df, corner], axis=1).to_hdf(file, key="df_with_missing", mode="w")
    session.import_labels(root)
    assert session.unique_keypoints == ("arena_corner",)
    assert (session.labels(4, "single")["arena_corner"].x, session.animals(4).keys()) == (
        5.0,
        {"mouse1", "mouse2", "single"},
    )
    session.label(9, "arena_corner", 7, 8, individual="mouse2")  # the scene's, not mouse2's
    assert session.labels(9, "single")["arena_corner"].y == 8
    assert "arena_corner" not in session.labels(9, "mouse2")
    shown = [(p.individual, p.keypoint) for p in session.points(9)]
    assert ("single", "arena_corner") in shown
    with pytest.raises(SuperAnimalError, match="slp has no place for them: export as dlc-project"):
        session.export(tmp_path / "out.slp", format="slp")

    out = session.export(tmp_path / "out", format="dlc-project", scorer="me")
    config = load_dlc_config(out)
    assert config.unique == ("arena_corner",) and config.individuals == tuple(MICE)
    back = load_dlc_project(out.parent, check_images=False).labels["clip"]
    assert back.unique.keypoints == ("arena_corner",)
    np.testing.assert_array_equal(back.unique.xy[:, 0], [[5.0, 6.0], [7.0, 8.0]])


def test_unique_keypoints_belong_to_projects_with_animals_and_never_clash(video_copy):
    from napari_superanimal import open_video
    from napari_superanimal.session import Session

    with Session.open(open_video(video_copy, convert=False), keypoints=KEYPOINTS) as s:
        with pytest.raises(SuperAnimalError, match="name its animals first"):
            s.set_unique_keypoints(["corner"])
        s.set_individuals(MICE)
        with pytest.raises(SuperAnimalError, match="new, distinct names \\(snout are the"):
            s.set_unique_keypoints(["snout"])
        with pytest.raises(SuperAnimalError, match="'single' is DeepLabCut's name"):
            s.set_individuals(["single"])
        s.set_unique_keypoints(["corner"])
        s.label(3, "corner", 1, 1)  # no individual needed: it is the scene's
        with pytest.raises(SuperAnimalError, match="unique keypoints are labeled"):
            s.set_unique_keypoints([])
        assert s.undo() == 3 and s.labeled_frames() == []
