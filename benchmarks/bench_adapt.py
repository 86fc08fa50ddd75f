"""Video adaptation on the open-field mouse video: jitter before and after, wall time of a round.

``../shared/data/openfield/m3v1mp4.mp4`` (2,330 frames, 640x480, one dark mouse on a white
arena) has no human labels and no pretrained weights are reachable here, so "a model
fine-tuned on a few frames" is built honestly from **heuristic labels**:

- on ``--frames`` frames spread over the video, the mouse is the largest dark blob (grey < 80,
  opened with a 7x7 square so the lighter, thin tail drops out) inside the arena;
- snout and tailbase are the two ends of the blob's principal axis (its extent along the
  axis), the snout being the end the mouse moves towards (centroid 10 frames later; frames
  where it moves less than 8 px are skipped);
- the ears sit 28 % of the way from the snout to the tailbase, 0.55 blob half-widths to either
  side of the axis (left = to the animal's left seen from above).

These are NOT ground truth: they are coarse and sometimes wrong (a mouse walking backwards
swaps snout and tailbase), so no accuracy is claimed; 10 more heuristic frames, never trained
on, give a "px from heuristic" column as a rough check only. Frames are halved first
(``--scale``, as ``bench_finetune --scale``) and crops are 256 px (``--crop``), so each crop
shows most of the arena: at full size with crops around the mouse, a light network trained
from scratch on 20 frames never learnt to find the mouse in a whole frame (held-out error
~190 px). It fine-tunes on ``--frames`` frames for ``--steps`` steps, then one adaptation round
runs with DeepLabCut's defaults (every 10th frame, pseudo-threshold 0.1, 4 epochs, batch 8).
Jitter is measured on ``--clips`` runs of ``--clip-len`` consecutive frames, in original
pixels, the jump cut taken from the model before adaptation.

Run: ``.venv/bin/python benchmarks/bench_adapt.py`` (about 10 min on 2 CPU cores).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

import numpy as np
from scipy import ndimage

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import SHARED_DATA, WORK, machine, print_table, save  # noqa: E402
from napari_superanimal import open_video  # noqa: E402
from napari_superanimal.metrics.jitter import compare  # noqa: E402
from napari_superanimal.session import Session  # noqa: E402

VIDEO = SHARED_DATA / "openfield" / "m3v1mp4.mp4"
KEYPOINTS = ("snout", "leftear", "rightear", "tailbase")  # the video's config.yaml bodyparts
ARENA = (slice(50, 465), slice(15, 615))  # rows, cols inside the walls


def blob(frame: np.ndarray):
    """Centroid, principal axis (unit), half-length and half-width of the dark mouse body."""
    grey = frame.mean(-1)
    mask = np.zeros(grey.shape, bool)
    mask[ARENA] = grey[ARENA] < 80
    mask = ndimage.binary_opening(mask, np.ones((7, 7)))
    labels, n = ndimage.label(mask)
    if n == 0:
        return None
    sizes = ndimage.sum(mask, labels, range(1, n + 1))
    ys, xs = np.nonzero(labels == 1 + int(np.argmax(sizes)))
    if len(xs) < 300:
        return None
    pts = np.stack([xs, ys], 1).astype(float) + 0.5
    centre = pts.mean(0)
    evals, evecs = np.linalg.eigh(np.cov((pts - centre).T))
    axis = evecs[:, 1]
    along = (pts - centre) @ axis
    across = (pts - centre) @ evecs[:, 0]
    return centre, axis, along, np.percentile(np.abs(across), 95)


def heuristic_labels(video, n_frames: int) -> dict[int, np.ndarray]:
    """``{frame: (4, 2)}`` heuristic snout, ears, tailbase (see the module docstring)."""
    out = {}
    for f in np.linspace(20, len(video) - 30, 4 * n_frames).astype(int):
        now, later = blob(video.read_frame(int(f))), blob(video.read_frame(int(f) + 10))
        if now is None or later is None:
            continue
        centre, axis, along, half_width = now
        motion = later[0] - centre
        if np.linalg.norm(motion) < 8:
            continue
        if motion @ axis < 0:
            axis, along = -axis, -along
        snout = centre + along.max() * axis
        tailbase = centre + along.min() * axis
        ear_centre = snout + 0.28 * (tailbase - snout)
        left = np.array([axis[1], -axis[0]])  # image y points down: the animal's left
        ears = [ear_centre + 0.55 * half_width * left, ear_centre - 0.55 * half_width * left]
        out[int(f)] = np.array([snout, ears[0], ears[1], tailbase])
        if len(out) == n_frames:
            break
    return out


def clips(n: int, count: int, length: int) -> list[int]:
    starts = np.linspace(100, n - length - 100, count).astype(int)
    return [f for s in starts for f in range(s, s + length)]


def scaled_video(scale: float):
    """The video resized by ``scale`` (lossless FFV1, made once), as a frame store."""
    import av
    from PIL import Image

    width, height = int(640 * scale), int(480 * scale)
    path = WORK / f"openfield-x{scale:g}.mkv"
    if not path.exists():
        with av.open(str(VIDEO)) as src, av.open(str(path), "w") as out:
            stream = out.add_stream("ffv1", rate=30)
            stream.width, stream.height, stream.pix_fmt = width, height, "bgr0"
            for frame in src.decode(video=0):
                small = Image.fromarray(frame.to_ndarray(format="rgb24")).resize(
                    (width, height), Image.BILINEAR
                )
                out.mux(stream.encode(av.VideoFrame.from_ndarray(np.asarray(small), "rgb24")))
            out.mux(stream.encode())
    video = open_video(path, codec="lossless")
    video.wait()
    return video


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--frames", type=int, default=20, help="heuristically labeled frames")
    ap.add_argument("--steps", type=int, default=600, help="fine-tuning steps before adapting")
    ap.add_argument(
        "--scale", type=float, default=0.5, help="resize frames first (as bench_finetune)"
    )
    ap.add_argument("--crop", type=int, default=256, help="training crop side (px, scaled frames)")
    ap.add_argument("--clips", type=int, default=3)
    ap.add_argument("--clip-len", type=int, default=100)
    args = ap.parse_args(argv)
    if not VIDEO.exists():
        print(f"skipped: {VIDEO} not found")
        return 0
    WORK.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    original = open_video(VIDEO, store=WORK / "openfield.frames.zarr")
    original.wait()
    video = scaled_video(args.scale) if args.scale != 1 else original
    prepare_s = time.perf_counter() - t0
    folder = WORK / "openfield.superanimal"
    shutil.rmtree(folder, ignore_errors=True)
    session = Session.open(video, keypoints=KEYPOINTS, project=folder)
    labels = heuristic_labels(original, args.frames + 10)  # original pixels
    check = list(labels)[1::2][:10]  # 10 frames kept aside to compare with, never trained on
    train = [f for f in labels if f not in check][: args.frames]
    for f in train:
        for name, (x, y) in zip(KEYPOINTS, labels[f] * args.scale, strict=True):
            session.label(f, name, float(x), float(y))
    round_settings = {"seed": 0, "jitter_frames": 0, "crop_size": args.crop}
    t = time.perf_counter()
    base = session.finetune(steps=args.steps, lr=2e-3, eval_every=50, **round_settings)
    finetune_s = time.perf_counter() - t
    t = time.perf_counter()
    adapted = session.adapt(**round_settings)
    adapt_s = time.perf_counter() - t
    at = clips(len(video), args.clips, args.clip_len)
    poses = {}
    for which, result in (("before", base), ("after", adapted)):
        p = result.estimator.predict_video(video, at)
        p[..., :2] /= args.scale  # original pixels
        poses[which] = p
    report = compare(poses["before"], poses["after"], KEYPOINTS, at)
    truth = np.stack([labels[f] for f in check])
    agreement = {}
    for which, result in (("before", base), ("after", adapted)):
        p = result.estimator.predict(np.stack([video.read_frame(f) for f in check]))
        d = np.linalg.norm(p[..., :2] / args.scale - truth, axis=-1)
        agreement[which] = {k: float(np.median(d[:, i])) for i, k in enumerate(KEYPOINTS)}
    rows = []
    for which in ("before", "after"):
        m = report[which]
        for name in (*KEYPOINTS, "all"):
            v = m["all"] if name == "all" else m["keypoints"][name]
            rows.append(
                {
                    "model": which,
                    "keypoint": name,
                    **{
                        k: v[k]
                        for k in (
                            "median_displacement",
                            "mean_displacement",
                            "median_acceleration",
                            "jump_share",
                            "low_confidence_share",
                        )
                    },
                    "px from heuristic": agreement[which].get(name),
                }
            )
    table = print_table(rows, list(rows[0]))
    info = adapted.info
    summary = {
        "machine": machine(),
        "date": time.strftime("%Y-%m-%d"),
        "scale": args.scale,
        "crop": args.crop,
        "labeled_frames": train,
        "check_frames": check,
        "finetune_seconds": finetune_s,
        "finetune_steps": base.info["steps"],
        "adapt_seconds": adapt_s,
        "adapt_steps": info["steps"],
        "adapt_ended_by": info["ended_by"],
        "pseudo_frames": len(info["pseudo_frames"][session.video_key]),
        "pseudo_keypoints": info["pseudo_keypoints"],
        "prepare_seconds": prepare_s,
        "jitter": report,
        "agreement_with_heuristic_px": agreement,
        "table": table,
    }
    print({k: v for k, v in summary.items() if k not in ("jitter", "table")})
    save("bench_adapt", summary)
    session.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
