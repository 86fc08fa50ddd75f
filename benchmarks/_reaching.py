"""The reaching benchmark's data and fixed split, shared by our runs and DeepLabCut's baseline.

``../shared/data/reaching/``: a DeepLabCut project with 55 labeled frames (PNG files, 40 of
832x747 and 15 of 640x470; no video) and 5 bodyparts. The split is a seeded permutation of the
frames sorted by file name; the last 20 of it are held out, training uses the first ``n``.
Errors are over the (frame, keypoint) pairs the human labeled on held-out frames. Needs only
numpy and pandas (DeepLabCut's venv runs it too).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "reaching"
VIDEO = "reachingvideo1"
SCORER = "Mackenzie"
HELDOUT = 20
SEED = 0
LABEL_COUNTS = (5, 10, 20, 35)
BUDGET_SECONDS = 8 * 60


def load_labels(data: Path = DATA) -> tuple[list[str], list[str], np.ndarray]:
    """Image paths (relative to the project), bodyparts and ``(N, K, 2)`` labels (NaN = none)."""
    table = pd.read_csv(
        data / "labeled-data" / VIDEO / f"CollectedData_{SCORER}.csv", header=[0, 1, 2], index_col=0
    )
    table = table.sort_index()
    bodyparts = list(dict.fromkeys(table.columns.get_level_values("bodyparts")))
    xy = table.to_numpy(dtype=np.float64).reshape(len(table), len(bodyparts), 2)
    return list(table.index), bodyparts, xy


def split(n_images: int, n_train: int, seed: int = SEED) -> tuple[list[int], list[int]]:
    """Indices (into the sorted images) to train on and to hold out."""
    order = np.random.default_rng(seed).permutation(n_images)
    held = sorted(int(i) for i in order[-HELDOUT:])
    train = sorted(int(i) for i in order[:n_train])
    if n_train > n_images - HELDOUT:
        raise ValueError(f"only {n_images - HELDOUT} frames are not held out")
    return train, held


def errors(pred_xy: np.ndarray, truth_xy: np.ndarray) -> dict:
    """Mean / median pixel error and PCK@5/10 over the labeled keypoints of held-out frames."""
    labeled = np.isfinite(truth_xy).all(-1)
    d = np.linalg.norm(pred_xy - truth_xy, axis=-1)[labeled]
    d = np.where(np.isfinite(d), d, np.inf)  # a missing prediction counts as a miss
    finite = d[np.isfinite(d)]
    return {
        "mean_px": float(finite.mean()) if len(finite) else float("nan"),
        "median_px": float(np.median(d)),
        "pck5": float((d <= 5).mean()),
        "pck10": float((d <= 10).mean()),
        "points": int(labeled.sum()),
    }


SURE = 0.9  # a score the user would accept without looking
FAR_PX = 30.0  # a "confident miss" is a sure point farther than this


def confidence(pred_xy: np.ndarray, scores: np.ndarray, truth_xy: np.ndarray) -> dict:
    """How far a score can be trusted, over the labeled keypoints of held-out frames.

    ``sure_share``: share of keypoints scoring >= ``SURE``; ``sure_far``: how many of those are
    farther than ``FAR_PX``; ``ece10``: expected calibration error of the score as the
    probability of "within 10 px" (10 equal-width bins over [0, 1], weighted by count)."""
    labeled = np.isfinite(truth_xy).all(-1)
    d = np.linalg.norm(pred_xy - truth_xy, axis=-1)[labeled]
    d = np.where(np.isfinite(d), d, np.inf)
    s = np.nan_to_num(np.asarray(scores, np.float64)[labeled], nan=0.0)
    hit = (d <= 10).astype(np.float64)
    bins = np.minimum((s * 10).astype(int), 9)
    ece = sum(
        abs(hit[bins == b].mean() - s[bins == b].mean()) * (bins == b).sum()
        for b in range(10)
        if (bins == b).any()
    ) / max(len(s), 1)
    sure = s >= SURE
    return {
        "sure_share": float(sure.mean()),
        "sure_far": int((sure & (d > FAR_PX)).sum()),
        "sure_max_px": float(d[sure].max()) if sure.any() else float("nan"),
        "ece10": float(ece),
    }
