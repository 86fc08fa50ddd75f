"""``napari-superanimal demo``: the whole loop on a synthetic video, with or without a display.

It makes a synthetic top-view mouse video with known keypoints, converts it into a frame store,
and runs the real pipeline as a user would, deciding with the product's own features only:

1. the Suggestions (:meth:`~napari_superanimal.session.Session.suggest`, with no model yet:
   frames that look different from each other) pick the first frames to label; a simulated
   user places their keypoints (from the ground truth: the only thing the truth is used for);
2. a light network is fine-tuned from scratch (no weights can be downloaded here) and every
   frame is predicted;
3. the Suggestions (low confidence, temporal jumps, diversity) pick the frames to correct; the
   user corrects them; a second round trains; every frame is predicted again.

The report gives, after each round, the error against the truth on the frames nobody labeled
(neither in round 1 nor as a correction) and says how every labeled frame was chosen. The
headless part here imports no napari; the CLI's ``demo`` command then renders a screenshot
under Xvfb (``demo-output/screenshot.png``) or, with a display, opens napari on the session.
If SuperAnimal TopViewMouse weights are in the local cache, they make a first prediction too and
the report says so.

``animals=2`` (or 3) runs the same loop on mice whose paths cross (:mod:`.crossing`) and
adds each round's identity switches to the report.

Example::

    report = run_demo("demo-output", n_frames=300, seed=0)
    report["errors"][-1]["unlabeled_median_px"]
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
#: The two rounds, as a user runs them from the Fine-tune panel (its defaults). A second round at
#: twice that rate (and half the steps) made the frames nobody labeled worse in 2 of 3 seeds.
ROUNDS = ({"steps": 300, "lr": 1e-3}, {"steps": 300, "lr": 1e-3})


def has_display() -> bool:
    """True when a window can be shown (X11 or Wayland)."""
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def run_demo(
    out_dir: str | os.PathLike = "demo-output",
    n_frames: int = 300,
    seed: int = 0,
    rounds: tuple[dict, dict] = ROUNDS,
    animals: int = 1,
) -> dict:
    """Run the loop headless; returns the report (also written as ``report.json``).
    ``rounds``: the settings of the two fine-tuning rounds (see ``Session.finetune``);
    ``animals``: 2 or 3 runs it on mice that cross (:mod:`.crossing`)."""
    out = Path(out_dir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    if animals > 1:
        from .crossing import run_crossing_demo

        return _finish(run_crossing_demo(out, n_frames, animals, seed, rounds, DEMO_SIZE))
    video_path = out / "synthetic_mouse.mp4"
    shutil.rmtree(out / "synthetic_mouse.superanimal", ignore_errors=True)
    times: dict[str, float] = {}
    t = time.perf_counter()
    print(f"demo: generating a {n_frames}-frame synthetic top-view mouse video -> {video_path}")
    _, truth = make_mouse_video(video_path, n_frames=n_frames, size=DEMO_SIZE, seed=seed)
    times["generate"] = time.perf_counter() - t
    video = ingest(video_path, times)
    with Session.open(video, keypoints=KEYPOINTS) as session:
        superanimal = _superanimal_predictions(session)
        report, unlabeled = run_loop(session, truth, _correct, _row, rounds, seed, times)
    if superanimal is not None:
        row = _row("SuperAnimal TopViewMouse (local weights)", superanimal, truth, unlabeled)
        report["errors"].insert(0, row)
    report.update(video=str(video_path), seed=seed, superanimal_weights=superanimal is not None)
    report["out"] = str(out)
    return _finish(report)


def _finish(report: dict) -> dict:
    """Say each step's error (and identity switches) and write ``report.json``."""
    for row in report["errors"]:
        switches = row.get("identity_switches")
        said = "" if switches is None else f"{switches} identity switches; "
        print(
            f"demo: {row['step']}: {said}on the {report['unlabeled_frames']} frames nobody "
            f"labeled, mean {row['unlabeled_mean_px']:.2f} px, median "
            f"{row['unlabeled_median_px']:.2f} px"
        )
    (Path(report["out"]) / "report.json").write_text(json.dumps(report, indent=2))
    return report


def ingest(video_path: Path, times: dict):
    """The video converted into its frame store, with a progress bar."""
    video = open_video(video_path, convert=False, overwrite=True)
    t = time.perf_counter()
    with frame_bar(len(video), "demo: ingest") as bar:
        for done in video.convert_iter():
            bar.update(done - bar.n)
    times["ingest"] = time.perf_counter() - t
    print(f"demo: store {video.store_path} ({len(video)} frames, {times['ingest']:.1f} s)")
    return video


def run_loop(session: Session, truth, label, row, rounds, seed: int, times: dict):
    """The two rounds as a user runs them: Suggestions pick frames, ``label(session, truth,
    frames)`` plays the user there, a round trains, every frame is predicted; then again with
    frames to correct. ``row(step, poses, truth, unlabeled, result)`` measures each round.
    Returns the report's common part and the frames nobody labeled."""
    chosen = {}
    first = session.suggest(n=FIRST_LABELS)  # no model yet: frames unlike each other
    chosen["round 1"] = {"frames": sorted(first), "how": "Suggestions (diversity: no model)"}
    label(session, truth, first)
    print(f"demo: the user labels {len(first)} suggested frames; fine-tuning a light network")
    t = time.perf_counter()
    r1 = _round(session, rounds[0], seed)
    times["round 1"] = time.perf_counter() - t
    poses1 = _predict_all(session, "demo: predict")
    fixes = session.suggest(n=CORRECTIONS)  # low confidence, jumps, (swaps,) diversity
    how = (
        "low confidence, temporal jumps, likely swaps, diversity"
        if session.individuals
        else ("low confidence, temporal jumps, diversity")
    )
    chosen["round 2"] = {"frames": sorted(fixes), "how": f"Suggestions (combined: {how})"}
    label(session, truth, fixes)
    print(f"demo: the user corrects {len(fixes)} suggested frames; fine-tuning again")
    t = time.perf_counter()
    r2 = _round(session, rounds[1], seed)
    times["round 2"] = time.perf_counter() - t
    poses2 = _predict_all(session, "demo: predict again")
    labeled = set(session.labeled_frames())
    unlabeled = np.array([f for f in range(len(session)) if f not in labeled])
    rows = [
        row(
            f"after round 1 ({r1.version}, {len(first)} labeled frames)",
            poses1,
            truth,
            unlabeled,
            r1,
        ),
        row(
            f"after round 2 ({r2.version}, +{len(fixes)} corrected frames)",
            poses2,
            truth,
            unlabeled,
            r2,
        ),
    ]
    video = session.video
    return {
        "frames": len(video),
        "size": list(video.shape[1:3]),
        "fps": video.fps,
        "store": str(video.store_path),
        "project": str(session.project.folder),
        "keypoints": list(session.keypoints),
        "labeled_frames": session.counts()["touched"],
        "unlabeled_frames": len(unlabeled),
        "chosen": chosen,
        "errors": rows,
        "seconds": {k: round(v, 1) for k, v in times.items()},
    }, unlabeled


def _correct(session: Session, truth: np.ndarray, frames) -> None:
    """What a user does in the widget: place each keypoint where it really is."""
    for f in frames:
        for k, name in enumerate(KEYPOINTS):
            session.label(int(f), name, *truth[f, k])


def _round(session: Session, settings: dict, seed: int):
    with frame_bar(settings["steps"], "demo: fine-tune") as bar:
        return session.finetune(
            **settings, eval_every=50, seed=seed, callback=lambda p: bar.update(p.step - bar.n)
        )


def _predict_all(session: Session, desc: str) -> np.ndarray:
    with frame_bar(len(session), desc) as bar:
        return session.predict(progress=lambda done, total: bar.update(done - bar.n))


def _row(step: str, poses: np.ndarray, truth: np.ndarray, unlabeled: np.ndarray, result=None):
    """One line of the report: error on the frames nobody labeled (and the round's own test
    error, measured on labeled frames that chose nothing)."""
    d = np.linalg.norm(poses[unlabeled, :, :2] - truth[unlabeled], axis=-1)
    row = {
        "step": step,
        "unlabeled_mean_px": float(np.nanmean(d)),
        "unlabeled_median_px": float(np.nanmedian(d)),
    }
    if result is not None:
        row["round_test_px"] = result.test_after["pixels"]
    return row


def _superanimal_predictions(session: Session) -> np.ndarray | None:
    """SuperAnimal TopViewMouse predictions of the demo keypoints, if its weights are cached."""
    from ..errors import WeightsNotFoundError

    try:
        from ..model.inference import load_model

        model = load_model("superanimal_topviewmouse", download=False)
    except WeightsNotFoundError as err:
        print(f"demo: a light network learns instead of SuperAnimal: {err}")
        return None
    print(f"demo: SuperAnimal weights found ({model.weights}): using them for first predictions")
    channels = [model.keypoints.index(k) for k in KEYPOINTS]
    poses = model.predict_video(session.video)
    return poses[:, channels]


def render_screenshot(report: dict) -> int:
    """Render the viewer on the demo's session to ``screenshot.png`` in a subprocess, under
    Xvfb when there is no display; records it in the report."""
    png = Path(report["out"]) / "screenshot.png"
    cmd = [sys.executable, "-m", "napari_superanimal.demo.view", report["video"], str(png)]
    if not has_display():
        xvfb = shutil.which("xvfb-run")
        if xvfb is None:
            print(
                "demo: no display and no xvfb-run: install Debian's xvfb to get a screenshot",
                file=sys.stderr,
            )
            return 1
        cmd = [xvfb, "-a", "-s", "-screen 0 1400x900x24", *cmd]
    status = subprocess.run(cmd, check=False).returncode
    report["screenshot"] = str(png) if status == 0 else None
    if status == 0:
        print(f"demo: screenshot {png}")
    return status


def write_report(report: dict) -> Path:
    """``report.json`` and ``report.md`` in the demo's folder."""
    out = Path(report["out"])
    (out / "report.json").write_text(json.dumps(report, indent=2))
    path = out / "report.md"
    path.write_text(_markdown(report))
    print(f"demo: report {path}")
    return path


def _markdown(report: dict) -> str:
    lines = [
        "# napari-superanimal demo",
        "",
        f"- video: `{report['video']}` ({report['frames']} frames, "
        f"{report['size'][1]}x{report['size'][0]}, {report['fps']:g} fps, seed {report['seed']})",
        f"- frame store: `{report['store']}`; project: `{report['project']}`",
        f"- keypoints: {', '.join(report['keypoints'])}",
        *(
            [f"- animals: {', '.join(report['animals'])} (their paths cross)"]
            if "animals" in report
            else []
        ),
        "- SuperAnimal weights used: "
        + ("yes" if report["superanimal_weights"] else "no (none in the local cache)"),
        f"- frames labeled by the simulated user: {report['labeled_frames']}; "
        f"frames nobody labeled: {report['unlabeled_frames']}",
        "",
        "How the labeled frames were chosen (never from the ground truth):",
        "",
    ]
    for name, c in report["chosen"].items():
        lines.append(f"- {name}: {c['how']}: frames {', '.join(map(str, c['frames']))}")
    lines += [
        "",
        "Error against the truth on the frames nobody labeled:",
        "",
        "| step | mean error (px) | median error (px) | round's test error (px) |"
        + (" identity switches (whole video) |" if "animals" in report else ""),
        "|---|---|---|---|" + ("---|" if "animals" in report else ""),
    ]
    for e in report["errors"]:
        test = e.get("round_test_px")
        test = "-" if test is None else f"{test:.2f}"
        switches = f" {e['identity_switches']} |" if "identity_switches" in e else ""
        lines.append(
            f"| {e['step']} | {e['unlabeled_mean_px']:.2f} | "
            f"{e['unlabeled_median_px']:.2f} | {test} |{switches}"
        )
    lines += ["", "Seconds: " + ", ".join(f"{k} {v}" for k, v in report["seconds"].items())]
    if report.get("screenshot"):
        lines.append(f"\nScreenshot: `{report['screenshot']}`")
    return "\n".join(lines) + "\n"
