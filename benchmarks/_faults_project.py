"""Faults on projects, training and files, for ``bench_faults.py``.

Each fault is ``fault(ctx, rng) -> counts`` (the columns of ``bench_faults.COLUMNS``); ``ctx``
is a :class:`Context` made once per benchmark run. A fault whose feature fails outright (a
command that must work and exits non-zero) raises: the table never hides a broken feature.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from napari_superanimal.errors import SuperAnimalError

CLI = [sys.executable, "-m", "napari_superanimal.cli"]
VERSION = "light_resnet18-r1"


@dataclass
class Context:
    work: Path
    video: Path  # the index video (its frames carry their own number), converted
    keypoints: list[str]
    mouse: Path  # a short mouse video with a project beside it: 10 labeled frames, VERSION active
    job: Path  # a long training round of that project, saved for a child to run
    mounts: bool  # this process may bind-mount (root): read-only media can be injected


def make_context(work: Path, video: Path, keypoints: list[str]) -> Context:
    import torch

    from napari_superanimal import open_video
    from napari_superanimal.demo.mouse import KEYPOINTS, make_mouse_video
    from napari_superanimal.model.networks import build_network
    from napari_superanimal.session import Session
    from napari_superanimal.train.job import prepare_round

    (work / "mouse").mkdir()
    mouse, truth = make_mouse_video(work / "mouse" / "mouse.mp4", n_frames=60, size=(128, 160))
    torch.manual_seed(0)
    with Session.open(open_video(mouse), keypoints=KEYPOINTS) as session:
        session.video.wait()
        for f in range(0, 60, 6):
            for i, name in enumerate(KEYPOINTS):
                session.label(f, name, *truth[f, i])
        info = {"arch": "light_resnet18", "keypoints": list(KEYPOINTS), "input_scale": 1.0}
        session.versions.save(VERSION, build_network("light_resnet18", len(KEYPOINTS)), info)
        session.use_model(VERSION)
        job = work / "job.pt"
        torch.save(prepare_round(session, steps=5000, seed=0, jitter_frames=0), job)
    probe = work / "probe-mount"
    probe.mkdir()
    mounts = subprocess.run(["mount", "--bind", str(work), str(probe)], capture_output=True)
    if mounts.returncode == 0:
        subprocess.run(["umount", "-l", str(probe)], check=True)
    return Context(work, video, list(keypoints), mouse, job, mounts.returncode == 0)


def _quiet_main(argv: list[str]) -> int:
    """The CLI in this process, its output swallowed (a table follows)."""
    from napari_superanimal.cli import main

    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        return main(argv)


def _copy_converted(ctx: Context, folder: Path) -> Path:
    """The index video and its converted store in ``folder``."""
    folder.mkdir(parents=True)
    video = folder / ctx.video.name
    shutil.copy2(ctx.video, video)
    store = ctx.video.with_name(ctx.video.stem + ".frames.zarr")
    shutil.copytree(store, video.with_name(store.name))
    return video


def _labels_of(session, frames) -> dict:
    return {f: {k: (p.x, p.y) for k, p in session.labels(f).items()} for f in frames}


# -- read-only media --------------------------------------------------------------------------
def read_only_media(ctx: Context, rng) -> dict:
    """A project with labels behind a read-only bind mount (a mounted dataset, a colleague's
    share): it must open, read every label, refuse every edit and ``train`` in one line, and
    export elsewhere."""
    from napari_superanimal.session import Session

    if not ctx.mounts:
        raise SystemExit("read-only media need a bind mount: run bench_faults.py as root")
    folder = ctx.work / f"ro-{rng.random():.9f}"
    video = _copy_converted(ctx, folder / "data")
    frames = rng.sample(range(100), rng.randint(1, 8))
    with Session.open(video, keypoints=ctx.keypoints) as session:
        for f in frames:
            session.label(f, rng.choice(ctx.keypoints), f + 0.5, 2.0)
        before = _labels_of(session, frames)
    mount = folder / "mounted"
    mount.mkdir()
    subprocess.run(["mount", "--bind", str(video.parent), str(mount)], check=True)
    try:
        subprocess.run(["mount", "-o", "remount,ro,bind", str(mount)], check=True)
        seen = mount / video.name
        accepted = 0
        with Session.open(seen) as session:
            lost = sum(1 for f in frames if _labels_of(session, [f]) != {f: before[f]})
            for edit in (
                lambda: session.label(frames[0], ctx.keypoints[0], 1.0, 1.0),
                lambda: session.delete(frames[0], ctx.keypoints),
            ):
                try:
                    edit()
                    accepted += 1
                except SuperAnimalError:
                    pass
        accepted += _quiet_main(["train", str(seen), "--steps", "5", "--quiet"]) == 0
        out = folder / "export.h5"
        if _quiet_main(["export", str(seen), "--out", str(out)]) != 0 or not out.is_file():
            raise SystemExit("export of a read-only project to a writable folder failed")
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=True)
    shutil.rmtree(folder, ignore_errors=True)
    return {"acknowledged": len(frames), "lost": lost, "wrong_exit_0": accepted}


# -- two writers --------------------------------------------------------------------------------
HOLDER = """
import sys, time
from napari_superanimal.session import Session
s = Session.open(sys.argv[1], keypoints=sys.argv[3].split(","), project=sys.argv[2])
for f in range(int(sys.argv[4])):
    s.label(f, "nose", f, f + 0.25)
    print(f, flush=True)
print("holding", flush=True)
time.sleep(600)
"""


def two_label_writers(ctx: Context, rng) -> dict:
    """A project open in one process (a viewer) and opened again elsewhere (a second viewer,
    a script): the second must be refused; the first one's edits survive its SIGKILL."""
    from napari_superanimal.session import Session

    project = ctx.work / f"writers-{rng.random():.9f}.superanimal"
    n = rng.randint(1, 20)
    args = [str(ctx.video), str(project), ",".join(ctx.keypoints), str(n)]
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, *args], stdout=subprocess.PIPE, text=True
    )
    acknowledged = []
    for line in holder.stdout:
        if line.strip() == "holding":
            break
        acknowledged.append(int(line))
    second_opened = 0
    try:
        Session.open(ctx.video, project=project).close()
        second_opened = 1
    except SuperAnimalError:
        pass
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    with Session.open(ctx.video, project=project) as session:
        lost = sum(1 for f in acknowledged if session.labels(f).get("nose") is None)
    shutil.rmtree(project, ignore_errors=True)
    return {"acknowledged": len(acknowledged), "lost": lost, "wrong_exit_0": second_opened}


# -- training ---------------------------------------------------------------------------------
VIEWER = """
import sys, time, torch
from napari_superanimal.train.process import RoundProcess
round_ = RoundProcess(torch.load(sys.argv[1], weights_only=False))
for kind, _ in round_.events(block=True):
    if kind == "progress":
        break
print(round_.folder, round_.process.pid, flush=True)
time.sleep(float(sys.argv[2]))
"""


def _alive(pid: int) -> bool:
    try:
        return "\nState:\tZ" not in Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False


def orphaned_training_child(ctx: Context, rng) -> dict:
    """The viewer SIGKILLed while its Fine-tune round trains in a child: within 90 s the child
    must be gone and its temp folder (job, log) with it."""
    viewer = subprocess.Popen(
        [sys.executable, "-c", VIEWER, str(ctx.job), f"{rng.uniform(0, 2):.2f}"],
        stdout=subprocess.PIPE,
        text=True,
    )
    folder, child = viewer.stdout.readline().split()
    time.sleep(rng.uniform(0, 1.5))
    viewer.send_signal(signal.SIGKILL)
    viewer.wait()
    deadline = time.monotonic() + 90
    while (Path(folder).exists() or _alive(int(child))) and time.monotonic() < deadline:
        time.sleep(0.2)
    left = Path(folder).exists() or _alive(int(child))
    if _alive(int(child)):
        os.kill(int(child), signal.SIGKILL)
    shutil.rmtree(folder, ignore_errors=True)
    return {"wrong_exit_0": int(left)}


def kill_during_train(ctx: Context, rng) -> dict:
    """``train`` SIGKILLed at a random moment (importing, training, or writing the new version):
    labels stay, and the project opens with a model that loads and predicts (the previous one,
    or the new version whole)."""
    from napari_superanimal.session import Session

    with Session.open(ctx.mouse) as session:
        frames = session.labeled_frames()
        before = _labels_of(session, frames)
    steps = rng.randint(5, 40)
    proc = subprocess.Popen(
        [*CLI, "train", str(ctx.mouse), "--steps", str(steps), "--quiet"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(rng.uniform(2.0, 14.0))
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    broken = 0
    try:
        with Session.open(ctx.mouse) as session:
            lost = sum(1 for f in frames if _labels_of(session, [f])[f] != before[f])
            model = session.load_active_model()
            broken = int(not np.isfinite(model.predict(session.read_frame(3))).all())
            for version in session.versions.trained():
                session.versions.load(version, device="cpu")  # every listed version loads
    except SuperAnimalError:
        lost, broken = 0, 1
    return {"acknowledged": len(frames), "lost": lost, "wrong_exit_0": broken}


def predict_project_model(ctx: Context, rng) -> dict:
    """``predict --model VERSION`` with a version trained in the project, on one video or on a
    dask cluster: the keypoints must be the ones the Session's model gives."""
    import pandas as pd

    from napari_superanimal.session import Session

    out = ctx.work / f"predict-{rng.random():.9f}.h5"
    args = [*CLI, "predict", str(ctx.mouse), "--model", VERSION, "--offline", "--quiet"]
    args += ["--out", str(out)]
    if rng.random() < 0.5:
        args += ["--workers", "1"]  # through dask.distributed
    proc = subprocess.run(args, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"predict --model {VERSION} failed: {proc.stderr.strip()[-300:]}")
    got = pd.read_hdf(out, key="df_with_missing").to_numpy()
    with Session.open(ctx.mouse) as session:
        frames = rng.sample(range(len(session)), 4)
        model = session.versions.load(VERSION, device="cpu")
        expect = model.predict(np.stack([session.read_frame(f) for f in frames]))
    got = got.reshape(len(got), -1, 3)[frames]
    out.unlink()
    return {"wrong_exit_0": int(not np.allclose(got, expect, atol=1e-3))}


# -- files ------------------------------------------------------------------------------------
def export_from_elsewhere(ctx: Context, rng) -> dict:
    """``export`` run from another folder, with a relative ``--out``: the DeepLabCut
    ``video_sets`` and the ``.slp`` video must name the video wherever the file is read from."""
    import sleap_io as sio
    import yaml

    shell = ctx.work / f"shell-{rng.random():.9f}"
    shell.mkdir()
    here = Path.cwd()
    os.chdir(shell)
    try:
        fmt = rng.choice(["dlc-project", "slp"])
        out = "out-dlc" if fmt == "dlc-project" else "out.slp"
        code = _quiet_main(["export", os.path.relpath(ctx.mouse), "--format", fmt, "--out", out])
    finally:
        os.chdir(here)
    os.chdir(ctx.work.parent)  # the file is read from yet another folder
    try:
        if fmt == "dlc-project":
            config = yaml.safe_load((shell / out / "config.yaml").read_text())
            named = [Path(key) for key in config["video_sets"]]
        else:
            labels = sio.load_slp(str(shell / out), open_videos=False)
            named = [Path(v.filename) for v in labels.videos]
        wrong = not named or any(p.resolve() != ctx.mouse.resolve() for p in named)
    finally:
        os.chdir(here)
    shutil.rmtree(shell, ignore_errors=True)
    return {"wrong_exit_0": int(code == 0 and wrong)}


EVIL = """
import os, sys, torch
class Payload:
    def __reduce__(self):
        return (os.system, ("touch " + sys.argv[2],))
torch.save({"state_dict": Payload()}, sys.argv[1])
"""


def malicious_files(ctx: Context, rng) -> dict:
    """A snapshot whose pickle runs a command, or a DeepLabCut ``config.yaml`` with a Python
    tag, handed to ``predict --weights`` / ``import``: nothing runs, the command exits non-zero."""
    folder = ctx.work / f"evil-{rng.random():.9f}"
    folder.mkdir()
    marker = folder / "ran"
    if rng.random() < 0.5:
        weights = folder / "snapshot.pt"
        subprocess.run([sys.executable, "-c", EVIL, str(weights), str(marker)], check=True)
        arch = rng.choice(["hrnet_w32", "resnet_50"])
        argv = ["predict", str(ctx.mouse), "--weights", str(weights), "--arch", arch]
        argv += ["--offline", "--quiet", "--out", str(folder / "p.h5")]
    else:
        project = folder / "dlc"
        (project / "labeled-data" / "mouse").mkdir(parents=True)
        (project / "config.yaml").write_text(
            f"Task: evil\nscorer: me\nbodyparts: !!python/object/apply:os.system "
            f'["touch {marker}"]\nvideo_sets: {{}}\n'
        )
        argv = ["import", str(ctx.mouse), str(project)]
    code = _quiet_main(argv)
    ran = marker.exists()
    shutil.rmtree(folder, ignore_errors=True)
    return {"wrong_exit_0": int(ran or code == 0)}


def bad_video(ctx: Context, rng, check_store) -> dict:
    """An empty file, a text file named ``.mp4``, or the video cut at a random byte, ingested:
    exit non-zero with one line (more raises), or exit 0 only with a whole store that reads
    back right."""
    folder = ctx.work / f"bad-{rng.random():.9f}"
    folder.mkdir()
    video = folder / "clip.mp4"
    kind = rng.choice(["empty", "text", "cut"])
    if kind == "empty":
        video.write_bytes(b"")
    elif kind == "text":
        video.write_text("not a video\n" * rng.randint(1, 100))
    else:
        data = ctx.video.read_bytes()
        video.write_bytes(data[: rng.randint(1, len(data) - 1)])
    proc = subprocess.run([*CLI, "ingest", "--quiet", str(video)], capture_output=True, text=True)
    state = check_store(video)
    if proc.returncode != 0 and proc.stderr.strip().count("\n"):
        raise SystemExit(f"ingest of a bad video ({kind}) said more than one line: {proc.stderr}")
    wrong = proc.returncode == 0 and not (state["complete"] and state["whole"])
    shutil.rmtree(folder, ignore_errors=True)
    return {"silent_wrong_frames": state["silent_wrong"], "wrong_exit_0": int(wrong)}
