"""Opening a project never rewrites what it holds: faults a lab meets on shared drives."""

from __future__ import annotations

import numpy as np
import pytest

from napari_superanimal.errors import SuperAnimalError
from napari_superanimal.session import Session

KEYPOINTS = ["nose", "left_ear", "right_ear", "tail_base"]


def test_a_lost_project_file_is_not_recreated_with_other_keypoints(video_copy):
    with Session.open(video_copy, keypoints=KEYPOINTS) as session:
        session.label(4, "left_ear", 10, 11)
        folder = session.project.folder
    (folder / "project.json").unlink()
    with pytest.raises(SuperAnimalError) as err:
        Session.open(video_copy, keypoints=["a", "b", "c"])
    message = str(err.value)
    assert "project.json is missing" in message and "left_ear" in message
    assert "\n" not in message
    assert not (folder / "project.json").exists()  # nothing written over the labels
    # the user's own keypoint set brings the project back, labels and all
    with Session.open(video_copy, keypoints=KEYPOINTS) as session:
        assert session.labels(4)["left_ear"].x == 10
        assert session.export(folder.parent / "out", format="dlc-project").is_file()


def test_keypoints_that_differ_from_the_projects_are_refused_naming_both(video_copy):
    with Session.open(video_copy, keypoints=KEYPOINTS) as session:
        session.label(4, "nose", 10, 11)
    with pytest.raises(SuperAnimalError) as err:
        Session.open(video_copy, keypoints=["nose", "tail_base"])
    message = str(err.value)
    assert str(KEYPOINTS) in message and "['nose', 'tail_base']" in message
    with Session.open(video_copy, keypoints=KEYPOINTS) as session:  # the same list: fine
        assert session.labels(4)["nose"].x == 10


@pytest.fixture()
def read_only_copy(video_copy, tmp_path):
    """The video, its frame store and a project with labels and predictions, seen through a
    read-only mount (as a mounted dataset or a colleague's share is)."""
    import subprocess

    with Session.open(video_copy, keypoints=KEYPOINTS) as session:
        session.video.wait()
        session.label(4, "nose", 10, 11)
        session.add_predictions([4, 5], np.full((2, 4, 3), 0.5, np.float32), model_version="m1")
    mount = tmp_path / "mounted"
    mount.mkdir()
    bind = ["mount", "--bind", str(video_copy.parent), str(mount)]
    if subprocess.run(bind, capture_output=True).returncode:
        pytest.skip("read-only media need a bind mount: run as root (CI does)")
    try:
        subprocess.run(["mount", "-o", "remount,ro,bind", str(mount)], check=True)
        yield mount / video_copy.name
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=True)


def test_a_project_on_read_only_media_opens_read_only(read_only_copy, tmp_path, capsys):
    from napari_superanimal.cli import main

    with Session.open(read_only_copy) as session:
        assert session.project.readonly
        assert session.labels(4)["nose"].x == 10  # labels, predictions and frames all read
        assert session.prediction(5)[0, 2] == pytest.approx(0.5)
        assert session.read_frame(7).shape[:2] == session.video.shape[1:3]
        for edit in (
            lambda: session.label(4, "nose", 1, 1),
            lambda: session.delete(4, ["nose"]),
            lambda: session.finetune(steps=5),
        ):
            with pytest.raises(SuperAnimalError, match="read-only") as err:
                edit()
            assert "\n" not in str(err.value)
        assert session.labels(4)["nose"].x == 10
        assert session.export(tmp_path / "out.h5").is_file()  # to a folder that is writable
    assert main(["train", str(read_only_copy), "--steps", "5", "--quiet"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "read-only" in err
    assert main(["export", str(read_only_copy), "--out", str(tmp_path / "cli.h5")]) == 0


def test_edits_survive_a_journal_deleted_while_open_and_a_kill(video_copy, tmp_path):
    # A sync tool or cleanup script deletes labels.sqlite-wal while the project is open, then
    # the process dies: every acknowledged edit must still be there, and the project opens.
    import subprocess
    import sys

    code = (
        "import os, sys\n"
        "from napari_superanimal.session import Session\n"
        f"s = Session.open(sys.argv[1], keypoints={KEYPOINTS!r})\n"
        "s.label(1, 'nose', 1, 1)\n"
        "os.remove(s.project.labels.path.with_name('labels.sqlite-wal'))\n"
        "for f in range(2, 12):\n"
        "    s.label(f, 'nose', f, f)\n"
        "print('done', flush=True)\n"
        "os.kill(os.getpid(), 9)\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(video_copy)], capture_output=True)
    assert b"done" in out.stdout, out.stderr[-2000:]
    with Session.open(video_copy) as session:
        assert session.labeled_frames() == list(range(1, 12))
        assert session.labels(11)["nose"].x == 11
