"""``napari-superanimal demo``: the whole loop on a synthetic video, with or without a display.

It makes a synthetic top-view mouse video with known keypoints, converts it into a frame store,
and runs the real pipeline: a simulated user labels a few frames from the ground truth, a light
network is fine-tuned from scratch (no weights can be downloaded here), every frame is
predicted, the user corrects the frames the model got most wrong, a second round trains, and
every frame is predicted again. The error against the ground truth is reported after each step.
With a display, napari then opens on the session for the user to continue; without one, the
viewer is rendered to ``demo-output/screenshot.png`` under Xvfb and a report is written.
If SuperAnimal TopViewMouse weights are in the local cache, they make the first predictions
(all demo keypoints are TopViewMouse keypoints) and the report says so.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from ..progress import frame_bar
from ..session import Session
from ..video import open_video
from .mouse import KEYPOINTS, make_mouse_video

DEMO_SIZE = (128, 160)  # small enough to fine-tune on a 2-core CPU in about a minute
FIRST_LABELS = 10
CORRECTIONS = 8


def has_display() -> bool:
    """True when a window can be shown (X11 or Wayland)."""
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def run_demo(
    out_dir: str | os.PathLike = "demo-output",
    headless: bool = False,
    n_frames: int = 300,
    steps: int = 300,
) -> int:
    """Run the demo; return a process exit status."""
    out = Path(out_dir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    video_path = out / "synthetic_mouse.mp4"
    shutil.rmtree(out / "synthetic_mouse.superanimal", ignore_errors=True)
    times: dict[str, float] = {}
    t = time.perf_counter()
    print(f"demo: generating a {n_frames}-frame synthetic top-view mouse video -> {video_path}")
    _, truth = make_mouse_video(video_path, n_frames=n_frames, size=DEMO_SIZE)
    times["generate"] = time.perf_counter() - t

    video = open_video(video_path, convert=False, overwrite=True)
    t = time.perf_counter()
    with frame_bar(len(video), "demo: ingest") as bar:
        for done in video.convert_iter():
            bar.update(done - bar.n)
    times["ingest"] = time.perf_counter() - t
    print(f"demo: store {video.store_path} ({len(video)} frames, {times['ingest']:.1f} s)")

    steps_report = []
    with Session.open(video, keypoints=KEYPOINTS) as session:
        superanimal = _superanimal_predictions(session)
        if superanimal is not None:
            steps_report.append(
                ("SuperAnimal TopViewMouse (local weights)", _error(superanimal, truth))
            )
        first = np.linspace(0, len(video) - 1, FIRST_LABELS).astype(int)
        _correct(session, truth, first)
        print(f"demo: the user labels {len(first)} frames; fine-tuning a light network")
        t = time.perf_counter()
        r1 = _round(session, steps)
        times["round 1"] = time.perf_counter() - t
        poses = _predict_all(session, "demo: predict")
        steps_report.append((f"after round 1 ({r1.version}, {len(first)} labeled frames)",
                             _error(poses, truth)))  # fmt: skip
        worst = _worst_frames(poses, truth, exclude=set(first), n=CORRECTIONS)
        _correct(session, truth, worst)
        print(f"demo: the user corrects the {len(worst)} worst frames; fine-tuning again")
        t = time.perf_counter()
        r2 = _round(session, steps // 2)
        times["round 2"] = time.perf_counter() - t
        poses = _predict_all(session, "demo: predict again")
        steps_report.append((f"after round 2 ({r2.version}, +{len(worst)} corrected frames)",
                             _error(poses, truth)))  # fmt: skip
        counts = session.counts()
        project = session.project.folder
    report = {
        "video": str(video_path),
        "frames": len(video),
        "size": list(video.shape[1:3]),
        "fps": video.fps,
        "store": str(video.store_path),
        "project": str(project),
        "keypoints": list(KEYPOINTS),
        "superanimal_weights": superanimal is not None,
        "labeled_frames": counts["touched"],
        "errors": [{"step": name, **err} for name, err in steps_report],
        "seconds": {k: round(v, 1) for k, v in times.items()},
    }
    for name, err in steps_report:
        print(f"demo: {name}: mean error {err['mean_px']:.2f} px, median {err['median_px']:.2f} px")

    if has_display() and not headless:
        from .view import show_in_napari

        (out / "report.json").write_text(json.dumps(report, indent=2))
        show_in_napari(video_path)
        return 0

    shot = out / "screenshot.png"
    status = render_screenshot(video_path, shot)
    report["screenshot"] = str(shot) if status == 0 else None
    (out / "report.json").write_text(json.dumps(report, indent=2))
    (out / "report.md").write_text(_markdown(report))
    print(f"demo: report {out / 'report.md'}")
    if status == 0:
        print(f"demo: screenshot {shot}")
    return status


def _correct(session: Session, truth: np.ndarray, frames) -> None:
    """What a user does in the widget: place each keypoint where it really is."""
    for f in frames:
        for k, name in enumerate(KEYPOINTS):
            session.label(int(f), name, *truth[f, k])


def _round(session: Session, steps: int):
    with frame_bar(steps, "demo: fine-tune") as bar:
        return session.finetune(steps=steps, lr=2e-3, eval_every=50,
                                callback=lambda p: bar.update(p.step - bar.n))  # fmt: skip


def _predict_all(session: Session, desc: str) -> np.ndarray:
    with frame_bar(len(session), desc) as bar:
        return session.predict(progress=lambda done, total: bar.update(done - bar.n))


def _error(poses: np.ndarray, truth: np.ndarray) -> dict:
    d = np.linalg.norm(poses[..., :2] - truth, axis=-1)
    return {"mean_px": float(np.nanmean(d)), "median_px": float(np.nanmedian(d))}


def _worst_frames(poses: np.ndarray, truth: np.ndarray, exclude: set, n: int) -> list[int]:
    per_frame = np.nanmean(np.linalg.norm(poses[..., :2] - truth, axis=-1), axis=1)
    order = [int(f) for f in np.argsort(-per_frame) if int(f) not in exclude]
    return sorted(order[:n])


def _superanimal_predictions(session: Session) -> np.ndarray | None:
    """SuperAnimal TopViewMouse predictions of the demo keypoints, if its weights are cached."""
    from ..zoo import WeightsNotFoundError

    try:
        from ..model.inference import load_model

        model = load_model("superanimal_topviewmouse", download=False)
    except WeightsNotFoundError:
        print("demo: no SuperAnimal weights in the local cache: a light network learns instead")
        return None
    print(f"demo: SuperAnimal weights found ({model.weights}): using them for first predictions")
    channels = [model.keypoints.index(k) for k in KEYPOINTS]
    poses = model.predict_video(session.video)
    return poses[:, channels]


def render_screenshot(video_path: Path, png: Path) -> int:
    """Render the viewer to ``png`` in a subprocess, under Xvfb when there is no display."""
    cmd = [sys.executable, "-m", "napari_superanimal.demo.view", str(video_path), str(png)]
    if not has_display():
        xvfb = shutil.which("xvfb-run")
        if xvfb is None:
            print(
                "demo: no display and no xvfb-run: install Debian's xvfb to get a screenshot",
                file=sys.stderr,
            )
            return 1
        cmd = [xvfb, "-a", "-s", "-screen 0 1400x900x24", *cmd]
    return subprocess.run(cmd, check=False).returncode


def _markdown(report: dict) -> str:
    lines = [
        "# napari-superanimal demo",
        "",
        f"- video: `{report['video']}` ({report['frames']} frames, "
        f"{report['size'][1]}x{report['size'][0]}, {report['fps']:g} fps)",
        f"- frame store: `{report['store']}`; project: `{report['project']}`",
        f"- keypoints: {', '.join(report['keypoints'])}",
        "- SuperAnimal weights used: "
        + ("yes" if report["superanimal_weights"] else "no (none in the local cache)"),
        f"- frames labeled by the simulated user: {report['labeled_frames']}",
        "",
        "| step | mean error (px) | median error (px) |",
        "|---|---|---|",
    ]
    for e in report["errors"]:
        lines.append(f"| {e['step']} | {e['mean_px']:.2f} | {e['median_px']:.2f} |")
    lines += ["", "Seconds: " + ", ".join(f"{k} {v}" for k, v in report["seconds"].items())]
    if report.get("screenshot"):
        lines.append(f"\nScreenshot: `{report['screenshot']}`")
    return "\n".join(lines) + "\n"
