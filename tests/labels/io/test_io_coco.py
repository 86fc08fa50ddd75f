"""COCO keypoints JSON import/export: structure, round trip, sleap-io reads it, bad files."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
import sleap_io as sio
from PIL import Image

from napari_superanimal.errors import LabelFormatError
from napari_superanimal.labels.io.coco import load_coco, save_coco
from napari_superanimal.labels.model import LabelTable
from napari_superanimal.session import Session

KEYPOINTS = ["nose", "left_ear", "right_ear", "tail_base"]
EDGES = [("nose", "left_ear"), ("nose", "tail_base")]


def test_export_structure_images_and_round_trip(session, tmp_path):
    session.label(12, "nose", 10.5, 20.25)
    session.label(12, "tail_base", 110, 70)
    session.label(12, "left_ear", 30, 35)
    session.hide(12, "left_ear")
    session.label(140, "right_ear", 1, 2)
    out = session.export(tmp_path / "coco" / "clip.json", format="coco")
    data = json.loads(out.read_text())
    assert [im["file_name"] for im in data["images"]] == ["clip/img012.png", "clip/img140.png"]
    assert data["images"][0]["width"] == 160 and data["images"][0]["height"] == 96
    assert data["images"][0]["frame_index"] == 12
    ann = data["annotations"][0]
    assert ann["keypoints"] == [10.5, 20.25, 2, 30, 35, 1, 0, 0, 0, 110, 70, 2]
    assert ann["num_keypoints"] == 3
    assert ann["bbox"] == [10.5, 20.25, 99.5, 49.75]  # around the visible points
    cat = data["categories"][0]
    assert cat["keypoints"] == KEYPOINTS and cat["skeleton"] == [[1, 2], [1, 4]]  # 1-based
    png = np.asarray(Image.open(out.parent / "clip" / "img012.png"))
    np.testing.assert_array_equal(png, session.read_frame(12))

    labels = sio.load_coco(str(out))  # the real reader (it opens the PNGs beside the JSON)
    assert labels.skeletons[0].node_names == KEYPOINTS
    assert len(labels.labeled_frames) == 2
    np.testing.assert_array_equal(labels.labeled_frames[0].instances[0].numpy()[0], [10.5, 20.25])

    with Session.open(session.video, keypoints=KEYPOINTS, project=tmp_path / "p2") as fresh:
        assert fresh.import_labels(out) == 2
        assert fresh.labels(12)["nose"].x == 10.5
        assert fresh.labels(12)["left_ear"].state == "hidden"
        assert fresh.labels(12)["left_ear"].x == 30
        assert fresh.labels(140)["right_ear"].y == 2
        assert fresh.skeleton == EDGES


def test_save_load_round_trip_is_exact(tmp_path):
    table = LabelTable.empty(KEYPOINTS, [0, 5, 9], images=["a/img0.png", "a/img5.png", "b.png"])
    table.xy[0] = [[1.1, 2.2], [np.nan, np.nan], [3.3, 4.4], [5.5, 6.6]]
    table.xy[1, 1] = (7.25, 8.5)
    table.hidden[1, 2] = True  # hidden, no position
    table.skeleton = EDGES
    back = load_coco(save_coco(tmp_path / "x.json", table, size=(64, 48)))
    np.testing.assert_array_equal(back.xy, table.xy)
    np.testing.assert_array_equal(back.hidden, table.hidden)
    assert back.images == table.images and back.frames == [0, 5, 9]  # frame_index written
    assert back.skeleton == EDGES and back.keypoints == tuple(KEYPOINTS)


def _coco():
    return {
        "images": [
            {"id": 1, "file_name": "clip/img003.png", "width": 160, "height": 96},
            {"id": 2, "file_name": "clip/img008.png", "width": 160, "height": 96},
        ],
        "annotations": [
            {
                "id": 1,
                "image_id": 1,
                "category_id": 1,
                "keypoints": [1, 2, 2, 3, 4, 2, 0, 0, 0, 5, 6, 1],
            },
            {
                "id": 2,
                "image_id": 2,
                "category_id": 1,
                "keypoints": [11, 12, 2, 13, 14, 2, 15, 16, 2, 17, 18, 2],
            },
        ],
        "categories": [{"id": 1, "name": "mouse", "keypoints": KEYPOINTS, "skeleton": [[1, 2]]}],
    }


def _bad(case):
    data = copy.deepcopy(_coco())
    ann = data["annotations"][1]
    if case == "missing annotations":
        del data["annotations"]
    elif case == "missing keypoints":
        del ann["keypoints"]
    elif case == "wrong length":
        ann["keypoints"] = ann["keypoints"][:-3]
    elif case == "bad visibility":
        ann["keypoints"][2] = 5
    elif case == "null where a number is required":
        ann["keypoints"][0] = None
    elif case == "NaN where a number is required":
        ann["keypoints"][0] = float("nan")
    elif case == "duplicate keypoints":
        data["categories"][0]["keypoints"] = ["nose", "nose", "right_ear", "tail_base"]
    elif case == "out of frame":
        ann["keypoints"][1] = 500
    elif case == "unknown image":
        ann["image_id"] = 9
    elif case == "skeleton index":
        data["categories"][0]["skeleton"] = [[0, 1]]
    elif case == "two animals":
        data["annotations"].append({**ann, "id": 3})
    return data


BAD = {
    "missing annotations": "missing 'annotations' list",
    "missing keypoints": "annotation 2 has no 'keypoints'",
    "wrong length": "annotation 2 has 9 keypoint values; expected 12",
    "bad visibility": "nose has visibility 5",
    "null where a number is required": "nose is labeled (v=2) but its position is None",
    "NaN where a number is required": "nose is labeled (v=2) but its position is nan",
    "duplicate keypoints": "keypoint 'nose' appears twice",
    "out of frame": "nose on clip/img008.png at (11.0, 500.0) is outside the 160x96 frame",
    "unknown image": "annotation 2 names image 9, not listed",
    "skeleton index": "skeleton entry [0, 1] is not a pair of 1-based keypoint indices",
    "two animals": "has two annotations",
}


@pytest.mark.parametrize("case", list(BAD))
def test_malformed_files_name_file_and_problem(tmp_path, case):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(_bad(case)))
    with pytest.raises(LabelFormatError) as err:
        load_coco(path)
    assert str(err.value).startswith(f"{path}: ") and BAD[case] in str(err.value)
    assert "\n" not in str(err.value)


def test_good_file_reads_and_a_bad_one_imports_nothing(session, tmp_path):
    good = tmp_path / "good.json"
    good.write_text(json.dumps(_coco()))
    table = load_coco(good)
    assert table.frames == [3, 8] and table.hidden[0].tolist() == [False, False, False, True]
    session.label(1, "nose", 5, 5)
    bad = tmp_path / "bad.json"
    data = _coco()
    data["images"][1]["file_name"] = "clip/img900.png"  # beyond the 150-frame video
    bad.write_text(json.dumps(data))
    with pytest.raises(LabelFormatError, match="frame 900, outside the video"):
        session.import_labels(bad)
    assert session.labeled_frames() == [1]
    assert session.import_labels(good) == 2
    assert session.labels(3)["tail_base"].state == "hidden"
    assert session.labels(3)["tail_base"].x == 5
