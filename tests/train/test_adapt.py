"""Video adaptation on the synthetic mouse video (light network, CPU).

A model fine-tuned on 10 labeled frames predicts every 2nd frame; its confident keypoints train
it for DeepLabCut's 4 epochs. Measured when this test was written (seeded): mean frame-to-frame
displacement 9.9 -> 7.3 px, jump share 4.8 % -> 3.4 %, median error on frames nobody labeled
4.9 -> 7.2 px; with the packages of 2026-12-04 (same seed, same code) the displacement still
falls by more than 10 % but the jump share rose 5.6 % -> 6.6 %, and with lossless frames the
displacement fell 9 % while the jump share fell 4.8 % -> 3.4 %: on one 120-frame video the tail
metric moves by about a point either way. So the stated tolerance: adaptation must lower the
mean displacement by 10 % and not raise the median acceleration, may raise the jump share by at
most 2 points, and may raise the median error on unseen frames by at most 3 px (a second short
round on the same labels alone raises it by 1.2 px).
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from napari_superanimal import open_video
from napari_superanimal.demo.mouse import KEYPOINTS, make_mouse_video
from napari_superanimal.errors import TrainingError
from napari_superanimal.metrics.jitter import compare
from napari_superanimal.session import Session
from napari_superanimal.train.adapt import adapt, adaptation_job
from napari_superanimal.train.finetune import Control
from napari_superanimal.train.samples import pseudo_samples, snapshot_labels, training_samples

pytestmark = pytest.mark.slow
LABELED = list(range(0, 120, 12))
UNSEEN = [f for f in range(120) if f not in LABELED]


@pytest.fixture(scope="module")
def mouse(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mouse")
    return make_mouse_video(folder / "mouse.mp4", n_frames=120, size=(128, 160), seed=1)


@pytest.fixture(scope="module")
def base(mouse, tmp_path_factory):
    """A light model fine-tuned on 10 frames (as test_finetune's round)."""
    path, truth = mouse
    project = tmp_path_factory.mktemp("p") / "mouse.superanimal"
    session = Session.open(open_video(path, convert=False), keypoints=KEYPOINTS, project=project)
    for f in LABELED:
        for i, name in enumerate(KEYPOINTS):
            session.label(f, name, *truth[f, i])
    result = session.finetune(steps=300, lr=2e-3, eval_every=50, seed=0)
    yield session, result
    session.close()


def test_adaptation_lowers_jitter_without_losing_much_accuracy(base, mouse):
    session, first = base
    _, truth = mouse
    # a round from scratch measures jitter after only (nothing before it worth measuring)
    assert first.info["jitter"]["before"] is None
    assert first.info["jitter"]["after"]["all"]["pairs"] > 0
    frames = list(range(120))
    before = first.estimator.predict_video(session.video, frames)
    result = session.adapt(every=2)
    assert result is not None and session.model_version == result.version
    info = session.model_versions()[result.version]
    assert info["adapted"] is True and info["parent"] == first.version
    assert info["pseudo_threshold"] == 0.1 and info["steps"] == 30  # 4 epochs of 60 frames
    assert len(info["pseudo_frames"]["mouse.mp4"]) == 50  # 60 sampled, 10 of them labeled
    after = result.estimator.predict_video(session.video, frames)
    report = compare(before, after, KEYPOINTS)
    b, a = report["before"]["all"], report["after"]["all"]
    assert a["mean_displacement"] < 0.9 * b["mean_displacement"], (b, a)
    assert a["jump_share"] <= b["jump_share"] + 0.02, (b["jump_share"], a["jump_share"])
    assert a["median_acceleration"] <= b["median_acceleration"]
    # the version's own record, on its clip sample (the whole of this short video)
    recorded = info["jitter"]
    assert recorded["after"]["all"]["mean_displacement"] == pytest.approx(a["mean_displacement"])
    assert recorded["before"]["all"]["mean_displacement"] == pytest.approx(b["mean_displacement"])
    err = lambda p: np.median(np.linalg.norm(p[UNSEEN, :, :2] - truth[UNSEEN], axis=-1))  # noqa: E731
    assert err(after) <= err(before) + 3.0, (err(before), err(after))
    session.use_model(first.version)  # later tests start from the fine-tuned model


def test_pseudo_labels_never_replace_user_labels(base, mouse):
    session, first = base
    _, truth = mouse
    session.use_model(first.version)
    session.label(6, "nose", 10.0, 10.0)  # a user label the model would never predict
    session.hide(8, "tail_end")  # a frame with nothing but a hidden keypoint
    try:
        session.predict(frames=[4, 6, 8])
        labels = snapshot_labels(session)
        predictions = {f: session.prediction(f) for f in (4, 6, 8)}
        samples = {s.frame: s for s in pseudo_samples(labels, predictions, [4, 6, 8])}
        assert 6 not in samples  # a frame with user points trains on them, not on pseudo-labels
        assert not samples[8].visible[KEYPOINTS.index("tail_end")]  # hidden stays untargeted
        assert samples[8].visible.sum() == len(KEYPOINTS) - 1 and samples[4].visible.all()
        assert not samples[4].labeled.any()  # never counted as the user's own points
        user = {s.frame: s for s in training_samples(labels, predictions)}[6]
        np.testing.assert_array_equal(user.keypoints[0], [10.0, 10.0])  # the user's nose wins
        # what an adaptation round starts from: the user's points as they are now
        job = adaptation_job(session, every=2)
        assert job.adaptation.frames == list(range(0, 120, 2)) and job.settings.steps is None
        np.testing.assert_array_equal(job.labels[6].points[0], [10.0, 10.0])
        assert job.labels[8].touched[KEYPOINTS.index("tail_end")]
        assert not job.labels[8].labeled.any()
        assert session.labels(6)["nose"].x == 10.0 and session.labels(8)["tail_end"].state == (
            "hidden"
        )
    finally:
        session.delete(6, ["nose"])
        session.delete(8, ["tail_end"])


def test_cancel_leaves_the_previous_version_active(base):
    session, first = base
    session.use_model(first.version)
    versions = set(session.model_versions())
    control = Control()

    def cancel_at_3(p):
        if p.step == 3:
            control.cancel.set()

    assert session.adapt(every=4, steps=50, control=control, callback=cancel_at_3) is None
    assert session.model_version == first.version
    assert set(session.model_versions()) == versions
    cancelled = Control()
    cancelled.cancel.set()  # cancelled while the sampled frames are predicted
    assert adapt(session, every=3, control=cancelled) is None


def test_adaptation_needs_a_model(mouse, tmp_path):
    path, _ = mouse
    video = open_video(path, convert=False)
    with (
        Session.open(video, keypoints=KEYPOINTS, project=tmp_path / "p") as session,
        pytest.raises(TrainingError, match="starts from a model"),
    ):
        session.adapt()


def test_cli_adapt_and_smoothed_export(mouse, tmp_path):
    path, truth = mouse
    video = tmp_path / "clip.mp4"
    video.write_bytes(path.read_bytes())
    with Session.open(video, keypoints=KEYPOINTS) as session:
        for f in (0, 40, 80):
            for i, name in enumerate(KEYPOINTS):
                session.label(f, name, *truth[f, i])
        session.finetune(steps=10, jitter_frames=0)
    cli = [sys.executable, "-m", "napari_superanimal.cli"]
    proc = subprocess.run(
        [*cli, "adapt", str(video), "--steps", "5", "--every", "20", "--quiet"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.startswith("light_resnet18-r2 (adapted): jitter"), proc.stdout
    with Session.open(video) as session:
        assert session.model_versions()["light_resnet18-r2"]["adapted"] is True
        assert session.model_version == "light_resnet18-r2"
    bad = subprocess.run(
        [*cli, "adapt", str(tmp_path / "nothing.mp4")], capture_output=True, text=True
    )
    assert bad.returncode == 1 and len(bad.stderr.strip().splitlines()) == 1
    out = tmp_path / "smooth.h5"
    proc = subprocess.run(
        [*cli, "export", str(video), "--out", str(out), "--smooth", "median"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    from napari_superanimal.labels.io.dlc import read_export_metadata

    assert read_export_metadata(out)["smoothing"]["method"] == "median"
