"""Frame suggestions (issue "Import and export ... suggest which frame to fix next").

Does the combined ranking find the frames a model gets most wrong faster than uniform sampling?
On the synthetic mouse video (``demo/mouse.py``: known keypoints on every frame), predictions
are the ground truth plus errors of known kinds (the "model of known errors", below), and 10
random frames count as already labeled. For each strategy we take its first 20 suggestions and
report the share of them that fall among the worst 10% of unlabeled frames by true error (mean
keypoint distance to the truth, pixels). Uniform sampling finds 10% on average by definition;
``uniform`` here is the evenly spaced variant the code offers. Each error model is drawn with 5
seeds; we report the mean and the range.

The model of known errors (per seed), on top of Gaussian noise (1.5 px) and ordinary
likelihoods (~0.92, tail tip ~0.85) on every keypoint:

- **glitches**: 2% of frames, one keypoint thrown 20-60 px for that frame only; its likelihood
  drops to U(0.1, 0.7) (overlapping the ordinary range of a bad keypoint, not cleanly apart);
- **swaps**: 4 bursts of 5-25 frames with left and right ear exchanged; likelihood barely drops
  (N(0.8, 0.08)); the positions only jump at the start and the end of a burst;
- **rare place**: when the mouse is near the right wall (the 7% of frames furthest right), the
  tail base and tail tip drift smoothly up to 25 px off, *confidently* (ordinary likelihoods,
  no jumps): only the look of the frames (diversity) can point at these;
- **false alarms**: 3% of frames have 1-2 keypoints with low likelihood U(0.25, 0.7) but correct
  positions (a blurred frame the model hesitates on but gets right).

Columns ``glitch``, ``swap``, ``rare``, ``false alarm``: how many of the 20 suggestions fell on
frames of each kind (mean over seeds).

Not measured yet: the same with errors of a real light model trained on a few frames.

Usage: ``python benchmarks/bench_suggest.py [--frames 2000] [--seeds 5]``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from _common import WORK, machine, print_table, save
from napari_superanimal import open_video
from napari_superanimal.demo.mouse import make_mouse_video
from napari_superanimal.suggest import compute_thumbnails, suggest_frames

STRATEGIES = ("uniform", "confidence", "jumps", "diversity", "combined")
N_SUGGEST = 20
N_LABELED = 10
KINDS = ("glitch", "swap", "rare", "false alarm")
EAR_L, EAR_R, TAIL_BASE, TAIL_END, MID_BACK = 1, 2, 5, 6, 4


def make_video(n_frames: int):
    """The synthetic mouse video (cached in ``_work``) with its ground truth and frame store."""
    folder = WORK / "suggest"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"mouse-{n_frames}.mp4"
    truth_file = path.with_suffix(".keypoints.npz")
    if not truth_file.exists():
        make_mouse_video(path, n_frames=n_frames, seed=0)
    truth = np.load(truth_file)["keypoints"].astype(np.float64)
    video = open_video(path)
    video.wait()
    return video, truth


def known_errors(truth: np.ndarray, seed: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Predictions ``(T, K, 3)`` = truth + the errors of the module docstring; frame masks."""
    rng = np.random.default_rng(seed)
    n, k = truth.shape[:2]
    poses = np.empty((n, k, 3))
    poses[:, :, :2] = truth + rng.normal(0, 1.5, truth.shape)
    base = np.full(k, 0.92)
    base[TAIL_END] = 0.85
    poses[:, :, 2] = np.clip(rng.normal(base, 0.04, (n, k)), 0, 1)
    kinds = {name: np.zeros(n, bool) for name in KINDS}

    glitch = rng.choice(n, int(0.02 * n), replace=False)
    for f in glitch:
        kp = rng.integers(k)
        angle = rng.uniform(0, 2 * np.pi)
        poses[f, kp, :2] += rng.uniform(20, 60) * np.array([np.cos(angle), np.sin(angle)])
        poses[f, kp, 2] = rng.uniform(0.1, 0.7)
    kinds["glitch"][glitch] = True

    for _ in range(4):
        length = int(rng.integers(5, 26))
        start = int(rng.integers(0, n - length))
        span = slice(start, start + length)
        poses[span, [EAR_L, EAR_R], :2] = poses[span, [EAR_R, EAR_L], :2]
        poses[span, [EAR_L, EAR_R], 2] = np.clip(rng.normal(0.8, 0.08, (length, 2)), 0, 1)
        kinds["swap"][span] = True

    x = truth[:, MID_BACK, 0]
    edge = np.quantile(x, 0.93)
    depth = np.clip((x - edge) / (x.max() - edge + 1e-9), 0, 1)
    drift = 25 * depth[:, None] * np.array([0.6, 0.8])  # smooth in time: x moves smoothly
    poses[:, TAIL_BASE, :2] += 0.6 * drift
    poses[:, TAIL_END, :2] += drift
    kinds["rare"] = depth > 0

    alarm = rng.choice(n, int(0.03 * n), replace=False)
    for f in alarm:
        kps = rng.choice(k, int(rng.integers(1, 3)), replace=False)
        poses[f, kps, 2] = rng.uniform(0.25, 0.7, len(kps))
    kinds["false alarm"][alarm] = True
    kinds["false alarm"] &= ~(kinds["glitch"] | kinds["swap"] | kinds["rare"])
    return poses, kinds


def frame_error(poses: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """``(T,)`` mean distance of the predicted keypoints to the truth, pixels."""
    return np.linalg.norm(poses[:, :, :2] - truth, axis=2).mean(axis=1)


def evaluate(poses, truth, labeled, thumbs, kinds=None) -> dict[str, dict]:
    """Share of the worst 10% (unlabeled) frames among each strategy's first 20 suggestions."""
    error = frame_error(poses, truth)
    free = np.setdiff1d(np.arange(len(poses)), labeled)
    worst = free[np.argsort(-error[free])][: int(round(0.1 * len(free)))]
    out = {}
    for strategy in STRATEGIES:
        t = time.perf_counter()
        picks = suggest_frames(poses, labeled, N_SUGGEST, strategy, thumbnails=thumbs)
        ms = (time.perf_counter() - t) * 1e3
        assert not np.isin(picks, labeled).any()
        row = {"share": np.isin(picks, worst).mean(), "ms": ms, "n": len(picks)}
        for name, mask in (kinds or {}).items():
            row[name] = int(mask[picks].sum())
        out[strategy] = row
    return out


def summarise(runs: list[dict[str, dict]], with_kinds: bool) -> list[dict]:
    rows = []
    uniform_mean = np.mean([r["uniform"]["share"] for r in runs])
    for strategy in STRATEGIES:
        shares = np.array([r[strategy]["share"] for r in runs])
        row = {
            "strategy": strategy,
            "worst-10% share in first 20 (mean)": f"{100 * shares.mean():.0f}%",
            "range": f"{100 * shares.min():.0f}-{100 * shares.max():.0f}%",
            "x uniform": shares.mean() / uniform_mean if uniform_mean else None,
            "x random (10%)": shares.mean() / 0.10,
            "ms per call": float(np.median([r[strategy]["ms"] for r in runs])),
        }
        if with_kinds:
            for name in KINDS:
                row[name] = float(np.mean([r[strategy][name] for r in runs]))
        rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--frames", type=int, default=2000)
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args()

    video, truth = make_video(args.frames)
    t = time.perf_counter()
    thumbs = compute_thumbnails(video.frames, n_samples=500)
    thumb_s = time.perf_counter() - t
    runs, payload = [], {"machine": machine(), "frames": len(truth), "thumbnails_s": thumb_s}
    for seed in range(args.seeds):
        rng = np.random.default_rng(1000 + seed)
        labeled = np.sort(rng.choice(len(truth), N_LABELED, replace=False))
        poses, kinds = known_errors(truth, seed)
        runs.append(evaluate(poses, truth, labeled, thumbs, kinds))
    rows = summarise(runs, with_kinds=True)
    kind_share = {k: float(np.mean(known_errors(truth, 0)[1][k])) for k in KINDS}
    print(f"\nmachine: {machine()}")
    print(
        f"{len(truth)} frames, {N_LABELED} labeled, {args.seeds} seeds; thumbnails of 500 "
        f"frames read in {thumb_s:.1f} s; frames of each kind (seed 0): "
        + ", ".join(f"{k} {100 * v:.1f}%" for k, v in kind_share.items())
        + "\n"
    )
    print_table(rows, list(rows[0]))
    payload["known_errors"] = rows

    # cost on an hour-long video: 100k frames x 27 keypoints, no thumbnails
    rng = np.random.default_rng(0)
    big = rng.normal(0, 1, (100_000, 27, 3)).cumsum(axis=0)
    big[:, :, 2] = rng.uniform(0.5, 1, (100_000, 27))
    timing = []
    for strategy in ("confidence", "jumps", "combined"):
        t = time.perf_counter()
        suggest_frames(big, range(0, 100_000, 20), N_SUGGEST, strategy)
        timing.append(
            {"strategy": strategy, "100k frames x 27 keypoints (s)": time.perf_counter() - t}
        )
    print()
    print_table(timing, list(timing[0]))
    payload["timing_100k"] = timing

    save("bench_suggest", payload)


if __name__ == "__main__":
    main()
