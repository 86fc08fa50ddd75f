"""``napari-superanimal demo``: the pipeline on a synthetic video, with or without a display.

Today the demo makes a synthetic top-view mouse video with known keypoints, converts it into a
frame store, and then either opens napari on it (a display is present) or renders what the user
would see to ``demo-output/screenshot.png`` under Xvfb and writes a short report.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from ..progress import frame_bar
from ..video import open_video
from .mouse import KEYPOINTS, make_mouse_video


def has_display() -> bool:
    """True when a window can be shown (X11 or Wayland)."""
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def run_demo(
    out_dir: str | os.PathLike = "demo-output", headless: bool = False, n_frames: int = 300
) -> int:
    """Run the demo; return a process exit status."""
    out = Path(out_dir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    video_path = out / "synthetic_mouse.mp4"
    t0 = time.perf_counter()
    print(f"demo: generating a {n_frames}-frame synthetic top-view mouse video -> {video_path}")
    make_mouse_video(video_path, n_frames=n_frames)
    t_gen = time.perf_counter() - t0

    video = open_video(video_path, convert=False, overwrite=True)
    t1 = time.perf_counter()
    with frame_bar(len(video), "demo: ingest") as bar:
        for done in video.convert_iter():
            bar.update(done - bar.n)
    t_ingest = time.perf_counter() - t1
    report = {
        "video": str(video_path),
        "frames": len(video),
        "size": list(video.shape[1:3]),
        "fps": video.fps,
        "store": str(video.store_path),
        "store_bytes": video.store.nbytes_on_disk(),
        "source_bytes": video_path.stat().st_size,
        "keypoints": list(KEYPOINTS),
        "seconds": {"generate": round(t_gen, 2), "ingest": round(t_ingest, 2)},
    }
    print(f"demo: store {video.store_path} ({len(video)} frames, {t_ingest:.1f} s)")

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
    ratio = report["store_bytes"] / max(1, report["source_bytes"])
    lines = [
        "# napari-superanimal demo",
        "",
        f"- video: `{report['video']}` ({report['frames']} frames, "
        f"{report['size'][1]}x{report['size'][0]}, {report['fps']:g} fps)",
        f"- frame store: `{report['store']}` ({report['store_bytes'] / 1e6:.1f} MB, "
        f"{ratio:.1f}x the source)",
        f"- generate {report['seconds']['generate']} s, ingest {report['seconds']['ingest']} s",
        f"- keypoints (ground truth): {', '.join(report['keypoints'])}",
    ]
    if report.get("screenshot"):
        lines.append(f"- screenshot: `{report['screenshot']}`")
    return "\n".join(lines) + "\n"
