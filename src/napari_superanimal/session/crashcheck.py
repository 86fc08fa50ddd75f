"""Check that label edits survive a killed process on this disk.

A child process edits labels through :class:`~napari_superanimal.session.Session` (the code path
the napari widget uses) and prints each edit once the call returns; it is killed with SIGKILL at
random moments, again and again. After each kill the project is reopened: every acknowledged
edit must be there (the one in flight may or may not be) and ``PRAGMA integrity_check`` must
pass. Useful before trusting a network or cloud-synced folder with labels.

Usage::

    python -m napari_superanimal.session.crashcheck VIDEO [--project DIR] [--kills 200]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

KEYPOINTS = ("nose", "left_ear", "right_ear", "tail_base")
#: The writer runs as this module (not ``__name__``: run with ``-m``, that is ``__main__``).
MODULE = "napari_superanimal.session.crashcheck"


def edit_for(i: int, n_frames: int, width: int, height: int) -> tuple[int, str, float, float]:
    """The ``i``-th edit of the sequence: (frame, keypoint, x, y), deterministic."""
    frame = (i * 7) % n_frames
    keypoint = KEYPOINTS[i % len(KEYPOINTS)]
    return frame, keypoint, float(i % width), float((i // width) % height) + 0.25


def _write(video: str, project: str, start: int) -> None:
    from .session import Session

    with Session.open(video, keypoints=KEYPOINTS, project=project) as session:
        t, h, w = session.video.shape[:3]
        for i in range(start, start + 10**9):
            frame, keypoint, x, y = edit_for(i, t, w, h)
            session.label(frame, keypoint, x, y)
            print(i, flush=True)  # acknowledged: the commit returned


def run(
    video: str | os.PathLike,
    project: str | os.PathLike,
    kills: int = 20,
    seed: int = 0,
    max_wait: float = 0.3,
    log=None,
) -> dict:
    """Kill a writer ``kills`` times; returns counts, and the first lost edits if any."""
    from .session import Session

    rng = random.Random(seed)
    acked: list[int] = []
    lost: list[int] = []
    broken = 0
    started = time.perf_counter()
    for k in range(kills):
        start = acked[-1] + 1 if acked else 0
        proc = subprocess.Popen(
            [sys.executable, "-m", MODULE, "--write", str(video), str(project), str(start)],
            stdout=subprocess.PIPE,
            text=True,
        )
        first = proc.stdout.readline()
        if not first:
            raise RuntimeError(f"the writer did not start (exit {proc.wait()})")
        acked.append(int(first))
        time.sleep(rng.uniform(0.0, max_wait))
        os.kill(proc.pid, signal.SIGKILL)
        rest, _ = proc.communicate()
        acked.extend(int(line) for line in rest.split())
        with Session.open(video, keypoints=KEYPOINTS, project=project) as session:
            broken += not session.project.labels.integrity_ok()
            lost.extend(_lost(session, acked))
        if log is not None:
            log(f"kill {k + 1}/{kills}: {len(acked)} edits acknowledged, {len(lost)} lost")
        if lost:
            break
    return {
        "kills": k + 1,
        "acknowledged": len(acked),
        "lost": lost[:10],
        "integrity_failures": broken,
        "seconds": time.perf_counter() - started,
    }


def _lost(session, acked: list[int]) -> list[int]:
    """Acknowledged edits whose latest value is missing (a later in-flight one may win)."""
    t, h, w = session.video.shape[:3]
    latest: dict[tuple[int, str], int] = {}
    for i in acked:
        frame, keypoint, _, _ = edit_for(i, t, w, h)
        latest[frame, keypoint] = i
    in_flight = acked[-1] + 1
    allowed_extra = edit_for(in_flight, t, w, h)
    lost = []
    for (frame, keypoint), i in latest.items():
        point = session.labels(frame).get(keypoint)
        _, _, x, y = edit_for(i, t, w, h)
        ok = point is not None and (point.x, point.y) == (x, y)
        if not ok and point is not None and (frame, keypoint) == allowed_extra[:2]:
            ok = (point.x, point.y) == allowed_extra[2:]
        if not ok:
            lost.append(i)
    return sorted(lost)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--write", nargs=3, metavar=("VIDEO", "PROJECT", "START"), help=argparse.SUPPRESS
    )
    parser.add_argument("video", nargs="?")
    parser.add_argument("--project", help="project folder (default: a new one beside the video)")
    parser.add_argument("--kills", type=int, default=200)
    args = parser.parse_args(argv)
    if args.write:
        _write(args.write[0], args.write[1], int(args.write[2]))
        return 0
    if not args.video:
        parser.error("give a video")
    project = args.project or str(Path(args.video).with_suffix(".crashcheck.superanimal"))
    result = run(args.video, project, kills=args.kills, log=print)
    print(json.dumps(result))
    return 0 if not result["lost"] and not result["integrity_failures"] else 1


if __name__ == "__main__":
    sys.exit(main())
