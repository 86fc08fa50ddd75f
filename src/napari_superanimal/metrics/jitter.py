"""How steady a model's keypoints are over consecutive frames, without any labels.

A model that is right on average can still be useless for behaviour if its keypoints shake
from frame to frame. Three numbers per keypoint, over runs of consecutive frames:

- **median displacement** (px/frame): the median distance a keypoint moves between two
  consecutive frames where it is confident in both. The animal's own motion is part of it, so
  compare models on the same frames; the **median acceleration** (px/frame², the size of the
  second difference ``p[t+1] - 2 p[t] + p[t-1]``) is near 0 for smooth motion however fast and
  grows with jitter, so it isolates the shake.
- **jump share**: the share of those frame pairs whose displacement is implausible, i.e. larger
  than ``median + 5 x 1.4826 x MAD`` of that keypoint's displacements (five robust standard
  deviations above its typical motion) and at least 8 px (two heatmap cells at stride 4, below
  which a move is within decoding quantisation). A keypoint that flips to the wrong body part
  and back shows up here. When comparing two models, the cut comes from the first (``compare``),
  so a model that shakes less is not judged against a stricter cut.
- **low-confidence share**: the share of frames where the keypoint's score is below the
  threshold (default 0.1, DeepLabCut's ``pseudo_threshold``/``pcutoff`` for SuperAnimal video
  inference) or it has no position.

``"all"`` pools every keypoint's pairs and frames.

Example::

    import numpy as np
    from napari_superanimal.metrics.jitter import jitter_metrics
    poses = np.zeros((100, 2, 3)); poses[..., 2] = 0.9; poses[::10, 0, 0] = 30.0
    m = jitter_metrics(poses, ["nose", "tail"])
    m["keypoints"]["nose"]["jump_share"]          # ~0.2: every 10th frame jumps out and back
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

CONFIDENCE = 0.1  # DeepLabCut's pseudo_threshold / pcutoff for SuperAnimal video inference
JUMP_SPREADS = 5.0  # robust standard deviations above the median displacement
MIN_JUMP_PX = 8.0  # two heatmap cells at stride 4
MAD_TO_SD = 1.4826  # MAD of a normal distribution x 1.4826 = its standard deviation
JITTER_FRAMES = 120  # frames a training round predicts before and after (3 clips of 40)


def jitter_metrics(
    poses: np.ndarray,
    keypoints: Sequence[str] | None = None,
    frames: Sequence[int] | None = None,
    threshold: float = CONFIDENCE,
    jump_px: dict[str, float] | None = None,
) -> dict:
    """Jitter of ``(T, K, 3)`` x, y, score ``poses`` on ``frames`` (default ``0..T-1``).

    Only pairs of frames whose indices follow each other count, so ``frames`` may be several
    clips. ``jump_px`` fixes the jump cut per keypoint (as returned in a previous result's
    ``keypoints[name]["jump_px"]``) instead of deriving it from these poses. Returns a JSON-ready
    dict: ``{"threshold", "frames", "keypoints": {name: {...}}, "all": {...}}``.
    """
    poses = np.asarray(poses, dtype=np.float64)
    if poses.ndim != 3 or poses.shape[-1] != 3:
        raise ValueError(f"poses must be (T, K, 3) x, y, score, got {poses.shape}")
    n, k = poses.shape[:2]
    names = list(keypoints) if keypoints is not None else [str(i) for i in range(k)]
    if len(names) != k:
        raise ValueError(f"{len(names)} keypoint names for poses with {k} keypoints")
    index = np.arange(n) if frames is None else np.asarray(list(frames), int)
    if len(index) != n:
        raise ValueError(f"{len(index)} frame indices for {n} poses")
    confident = np.isfinite(poses[..., :2]).all(-1) & (np.nan_to_num(poses[..., 2]) >= threshold)
    follows = np.diff(index) == 1  # (T-1,): frame t+1 is the next frame after t
    step = np.linalg.norm(np.diff(poses[..., :2], axis=0), axis=-1)  # (T-1, K)
    pair_ok = follows[:, None] & confident[1:] & confident[:-1]
    accel = np.linalg.norm(poses[2:, :, :2] - 2 * poses[1:-1, :, :2] + poses[:-2, :, :2], axis=-1)
    accel_ok = (follows[1:] & follows[:-1])[:, None] & confident[2:] & confident[1:-1]
    accel_ok &= confident[:-2]

    per, all_d, all_a, all_jumps = {}, [], [], 0
    for i, name in enumerate(names):
        d = step[pair_ok[:, i], i]
        a = accel[accel_ok[:, i], i]
        cut = (jump_px or {}).get(name)
        if cut is None:
            cut = jump_cut(d)
        jumps = int((d > cut).sum())
        per[name] = _summary(d, a, jumps, confident[:, i]) | {"jump_px": cut}
        all_d.append(d)
        all_a.append(a)
        all_jumps += jumps
    summary = _summary(np.concatenate(all_d), np.concatenate(all_a), all_jumps, confident.ravel())
    return {"threshold": threshold, "frames": n, "keypoints": per, "all": summary}


def jump_cut(displacements: np.ndarray) -> float:
    """The displacement (px) above which a move is implausible for this keypoint."""
    d = np.asarray(displacements, float)
    if len(d) == 0:
        return MIN_JUMP_PX
    median = float(np.median(d))
    spread = MAD_TO_SD * float(np.median(np.abs(d - median)))
    return max(MIN_JUMP_PX, median + JUMP_SPREADS * spread)


def compare(
    before: np.ndarray,
    after: np.ndarray,
    keypoints: Sequence[str] | None = None,
    frames: Sequence[int] | None = None,
    threshold: float = CONFIDENCE,
) -> dict:
    """Jitter of two models' poses on the same frames, the jump cut taken from ``before``."""
    first = jitter_metrics(before, keypoints, frames, threshold)
    cuts = {name: m["jump_px"] for name, m in first["keypoints"].items()}
    return {"before": first, "after": jitter_metrics(after, keypoints, frames, threshold, cuts)}


def clip_frames(n_frames: int, total: int = JITTER_FRAMES, clips: int = 3) -> list[int]:
    """``clips`` runs of consecutive frames, ``total`` frames in all, spread evenly over a video
    of ``n_frames`` (all of it when it is short): the sample jitter is measured on."""
    if n_frames <= total:
        return list(range(n_frames))
    length = max(3, total // clips)
    starts = np.linspace(0, n_frames - length, clips).round().astype(int)
    return sorted({f for s in starts for f in range(s, s + length)})


def describe(before: dict | None, after: dict | None = None) -> str:
    """A one-line summary (the ``"all"`` numbers), ``before -> after`` when both are given."""

    def pick(m, key, scale=1.0, fmt="{:.1f}"):
        v = None if m is None else m["all"].get(key)
        return "n/a" if v is None else fmt.format(v * scale)

    parts = []
    for key, label, scale, fmt, unit in (
        ("median_displacement", "jitter", 1.0, "{:.2f}", " px/frame"),
        ("median_acceleration", "shake", 1.0, "{:.2f}", " px/frame²"),
        ("jump_share", "jumps", 100.0, "{:.1f}", "%"),
        ("low_confidence_share", "low confidence", 100.0, "{:.0f}", "%"),
    ):
        text = pick(before, key, scale, fmt)
        if after is not None:
            text += " -> " + pick(after, key, scale, fmt)
        parts.append(f"{label} {text}{unit}")
    return ", ".join(parts)


def _summary(d: np.ndarray, a: np.ndarray, jumps: int, confident: np.ndarray) -> dict:
    return {
        "median_displacement": float(np.median(d)) if len(d) else None,
        "mean_displacement": float(np.mean(d)) if len(d) else None,
        "median_acceleration": float(np.median(a)) if len(a) else None,
        "jump_share": jumps / len(d) if len(d) else None,
        "low_confidence_share": float(1 - confident.mean()) if confident.size else None,
        "pairs": len(d),
    }
