"""How many held-out keypoints the reaching rounds place on the frames' caption.

The reaching close-ups (832x747) carry a white "BASELINE" caption in their top-left corner
(x 151-234, y 23-35, the same on every such frame); nothing is labeled there. A network trained
on a few labels that cannot find a keypoint puts its peak there, with a middling score. This
script reads the rounds ``bench_finetune.py`` left in ``_work/`` (each project keeps its round's
version), and earlier rounds copied aside (``--before DIR``), predicts the held-out frames with
each, and counts the keypoints placed within ``MARGIN`` px of the caption, beside the round's
mean error with and without them. Writes ``results/finetune_caption.json``.

Usage::

    python benchmarks/bench_caption.py --before _work/before-mistakes
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import numpy as np

import _reaching
from _common import WORK, machine, print_table, save
from bench_finetune import reaching_video
from napari_superanimal.session import Session

CAPTION = (151, 23, 234, 35)  # x0, y0, x1, y1 of the caption's white pixels (frame pixels)
MARGIN = 20.0  # px: two of the benchmark's PCK radii
ROUND = re.compile(r"reaching-(?P<arch>\w+)-(?P<labels>\d+)-auto-(?P<seed>\d+)\.superanimal")


def on_caption(xy: np.ndarray) -> np.ndarray:
    """Which predicted ``(..., 2)`` points lie within :data:`MARGIN` of the caption."""
    x0, y0, x1, y1 = CAPTION
    dx = np.maximum(np.maximum(x0 - xy[..., 0], xy[..., 0] - x1), 0)
    dy = np.maximum(np.maximum(y0 - xy[..., 1], xy[..., 1] - y1), 0)
    return np.hypot(dx, dy) <= MARGIN


def score(video, folder: Path, when: str) -> dict:
    match = ROUND.fullmatch(folder.name)
    n, seed = int(match["labels"]), int(match["seed"])
    _, _, xy = _reaching.load_labels()
    _, held = _reaching.split(len(xy), n)
    with Session.open(video, project=folder) as session:
        (version,) = session.versions.trained()
        model = session.versions.load(version)
        pred = model.predict(np.stack([session.read_frame(i) for i in held]))
    err = np.linalg.norm(pred[..., :2] - xy[held], axis=-1)
    known = np.isfinite(err)
    caption = on_caption(pred[..., :2]) & known
    return {
        "round": when,
        "arch": match["arch"],
        "labels": n,
        "seed": seed,
        "points": int(known.sum()),
        "on_caption": int(caption.sum()),
        "mean_px": float(err[known].mean()),
        "mean_px_off_caption": float(err[known & ~caption].mean()),
        "far_off_caption": int((err[known & ~caption] > 60).sum()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, default=None, help="earlier rounds, copied aside")
    args = parser.parse_args()
    video = reaching_video()
    rounds = [(p, "now") for p in sorted(WORK.glob("reaching-*-auto-*.superanimal"))]
    if args.before is not None:
        rounds += [(p, "before") for p in sorted(args.before.glob("reaching-*.superanimal"))]
    rows = [score(video, p, when) for p, when in rounds if ROUND.fullmatch(p.name)]
    rows.sort(key=lambda r: (r["labels"], r["seed"], r["round"] != "before"))
    columns = ["round", "labels", "seed", "points", "on_caption", "mean_px"]
    print_table(rows, [*columns, "mean_px_off_caption", "far_off_caption"])
    save("finetune_caption", {"machine": machine(), "rows": rows})


if __name__ == "__main__":
    main()
