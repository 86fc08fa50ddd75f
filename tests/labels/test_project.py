"""Projects: creation beside a video, predictions apart from labels, clear refusals."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from napari_superanimal.errors import ProjectError
from napari_superanimal.labels.project import Project

KP = ("nose", "left_ear", "tail_base")


def test_a_video_opened_alone_gets_a_project_beside_it(tmp_path):
    video = tmp_path / "mouse.mp4"
    video.write_bytes(b"")
    with Project.for_video(video, KP) as project:
        assert project.folder == tmp_path / "mouse.superanimal"
        assert project.keypoints == KP
        assert "mouse.mp4" in project.videos
        project.labels.set_point("mouse.mp4", 3, "nose", 1, 2)
    with Project.for_video(video, KP) as again:  # reopened, not recreated
        assert again.labels.frame("mouse.mp4", 3)["nose"].x == 1


def test_predictions_are_stored_per_model_version_and_never_touch_labels(tmp_path):
    with Project.create(tmp_path / "p", KP) as project:
        project.labels.set_point("m.mp4", 5, "nose", 10, 10)
        poses = np.random.default_rng(0).random((50, 3, 3)).astype(np.float32)
        project.save_predictions("m.mp4", "v1", poses)
        np.testing.assert_array_equal(project.frame_predictions("m.mp4", 5), poses[5])
        newer = poses + 1
        project.save_predictions("m.mp4", "v2", newer[:10], frames=range(10), n_frames=50)
        np.testing.assert_array_equal(project.frame_predictions("m.mp4", 5), newer[5])
        assert project.frame_predictions("m.mp4", 20) is None  # v2 has not predicted it yet
        np.testing.assert_array_equal(project.frame_predictions("m.mp4", 20, "v1"), poses[20])
        point = project.labels.frame("m.mp4", 5)["nose"]
        assert (point.x, point.y, point.state) == (10, 10, "labeled")


def test_a_model_with_other_keypoints_is_refused_clearly(tmp_path):
    with Project.create(tmp_path / "p", KP) as project:
        project.check_model("light", KP)
        with pytest.raises(ProjectError, match="predicts 27 keypoints.*labels 3"):
            project.check_model("superanimal_topviewmouse_hrnet_w32", [f"k{i}" for i in range(27)])


def test_foreign_and_newer_projects_are_refused(tmp_path):
    with pytest.raises(ProjectError, match="not a napari-superanimal project"):
        Project.open(tmp_path)
    Project.create(tmp_path / "p", KP).close()
    meta_file = tmp_path / "p" / "project.json"
    meta = json.loads(meta_file.read_text())
    meta["version"] = 7
    meta_file.write_text(json.dumps(meta))
    with pytest.raises(ProjectError, match="newer than this"):
        Project.open(tmp_path / "p")
    with pytest.raises(ProjectError, match="already holds a project"):
        Project.create(tmp_path / "p", KP)


def test_bad_keypoint_sets_are_refused(tmp_path):
    with pytest.raises(ProjectError, match="unique"):
        Project.create(tmp_path / "a", ["nose", "nose"])
    with pytest.raises(ProjectError, match="unknown keypoints"):
        Project.create(tmp_path / "b", KP, skeleton=[("nose", "tail_end")])


def test_one_rule_finds_a_videos_project_wherever_its_store_is(video_copy, tmp_path):
    """Beside the video; for a store known alone (built from images), beside the store named
    after it; the same answer for the Session, the CLI and the widget."""
    from napari_superanimal.labels.project import project_folder
    from napari_superanimal.video import open_video

    beside = video_copy.with_name("clip.superanimal")
    assert project_folder(open_video(video_copy, convert=False)) == beside
    elsewhere = open_video(video_copy, store=tmp_path / "stores" / "clip.frames.zarr")
    elsewhere.wait()
    assert project_folder(elsewhere) == beside  # the store's folder does not matter
    assert project_folder(open_video(elsewhere.store_path)) == beside  # nor opening the store
    images = tmp_path / "shots" / "frames.frames.zarr"
    assert project_folder(images) == tmp_path / "shots" / "frames.superanimal"
    assert project_folder("s3://lab/x/a.frames.zarr") == Path.cwd() / "a.superanimal"
