"""Unsupervised video adaptation: the model learns this video from its own confident keypoints.

The SuperAnimal paper's (Ye et al., 2024) second tool: before anyone labels a frame, predict a
sample of the video with the current model, keep the confident keypoints as pseudo-labels and
train briefly on them with the usual augmentation. The model gets used to this video's
lighting, background and animal, and its keypoints shake less from frame to frame.

Defaults follow DeepLabCut 3's ``video_inference_superanimal(video_adapt=True)``
(``deeplabcut/modelzoo/video_inference.py`` and ``deeplabcut/utils/pseudo_label.py``): every
10th frame becomes a pseudo-labeled image, keypoints scoring below ``pseudo_threshold=0.1`` are
dropped, the pose model trains ``pose_epochs=4`` epochs over them in batches of
``video_adapt_batch_size=8``. Where DeepLabCut writes a dropped keypoint as ``(0, 0)``, here it
simply has no target (weight 0). DeepLabCut also adapts its detector (``detector_epochs=4``,
boxes kept above ``bbox_threshold=0.9``); sessions here predict whole frames or fixed regions,
so there is no detector to adapt.

The round is :func:`~.finetune.finetune` with the pseudo-labels as extra samples, so it shares
the augmentation, memory replay on the user's frames, Stop/Cancel and progress. The user's
points always win: a frame with labeled or accepted points trains on them (plus memory replay
for the untouched keypoints, as in fine-tuning), and a keypoint the user hid never gets a
pseudo-label. The new version's info says ``"adapted": true``.

Example::

    result = adapt(session)                      # or session.adapt()
    result.info["jitter"]["before"]["all"], result.info["jitter"]["after"]["all"]
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from .finetune import Control, RoundResult, Sample, TrainingError, finetune

PSEUDO_THRESHOLD = 0.1  # DeepLabCut's pseudo_threshold
EVERY = 10  # DeepLabCut keeps every 10th frame of the video as a pseudo-labeled image
POSE_EPOCHS = 4  # DeepLabCut's pose_epochs
BATCH_SIZE = 8  # DeepLabCut's video_adapt_batch_size
MAX_FRAMES = 240  # ours: at most this many pseudo-labeled frames are held in memory
PREDICT_CHUNK = 16  # frames predicted between checks for Cancel


def adaptation_frames(n_frames: int, every: int = EVERY, max_frames: int = MAX_FRAMES) -> list[int]:
    """Every ``every``-th frame, thinned evenly to at most ``max_frames``."""
    frames = np.arange(0, n_frames, max(1, int(every)))
    if len(frames) > max_frames:
        frames = frames[np.linspace(0, len(frames) - 1, max_frames).round().astype(int)]
    return [int(f) for f in frames]


def pseudo_samples(session, frames, threshold: float = PSEUDO_THRESHOLD) -> list[Sample]:
    """Pseudo-labels from the session's stored predictions on ``frames``.

    Skips frames with the user's labeled or accepted points (they train as labeled frames) and
    frames without any confident keypoint; a keypoint the user hid gets no pseudo-label.
    """
    names = session.keypoints
    samples = []
    for frame in frames:
        pred = session.prediction(frame)
        if pred is None:
            continue
        labels = session.labels(frame)
        if any(p.state in ("labeled", "accepted") for p in labels.values()):
            continue
        untouched = np.array([name not in labels for name in names])
        keep = untouched & np.isfinite(pred[:, :2]).all(1) & (pred[:, 2] >= threshold)
        if not keep.any():
            continue
        points = np.where(keep[:, None], pred[:, :2], np.nan).astype(np.float64)
        samples.append(Sample(int(frame), points, keep, np.zeros(len(names), bool)))
    return samples


def adapt(
    session,
    *,
    pseudo_threshold: float = PSEUDO_THRESHOLD,
    every: int = EVERY,
    max_frames: int = MAX_FRAMES,
    epochs: float = POSE_EPOCHS,
    steps: int | None = None,
    batch_size: int = BATCH_SIZE,
    lr: float = 5e-4,
    time_budget: float | None = None,
    seed: int = 0,
    callback=None,
    control: Control | None = None,
    predict_progress: Callable[[int, int], None] | None = None,
    **settings,
) -> RoundResult | None:
    """Adapt the session's model to its video; returns the new version (None if cancelled).

    ``steps`` defaults to ``epochs`` passes over the pseudo-labeled frames (and the user's
    labeled ones) in batches of ``batch_size``. ``predict_progress(done, total)`` follows the
    prediction of the sampled frames (the model's view before the round, stored in the
    project). Other ``settings`` go to :func:`~.finetune.finetune` (``jitter_frames``,
    ``replay``, ``augmentation``, ``eval_every``, ``patience``, ...).
    """
    if session.model is None:
        raise TrainingError("adaptation starts from a model: open the session with one first")
    control = control or Control()
    frames = adaptation_frames(len(session), every, max_frames)
    for start in range(0, len(frames), PREDICT_CHUNK):
        if control.cancel.is_set():
            return None
        session.predict(frames=frames[start : start + PREDICT_CHUNK], skip_done=True)
        if predict_progress is not None:
            predict_progress(min(start + PREDICT_CHUNK, len(frames)), len(frames))
    pseudo = pseudo_samples(session, frames, pseudo_threshold)
    if not pseudo:
        mine = len(set(frames) & set(session.labeled_frames()))
        raise TrainingError(
            f"no pseudo-labels: of the {len(frames)} sampled frames (every {every}th), {mine} "
            f"carry your labels and the others have no keypoint scoring {pseudo_threshold} or "
            "more (sample more frames, or label a few frames and fine-tune first)"
        )
    n_samples = len(pseudo) + len(session.labeled_frames())
    if steps is None:
        steps = max(1, math.ceil(epochs * n_samples / batch_size))
    info = {
        "adapted": True,
        "pseudo_threshold": pseudo_threshold,
        "pseudo_every": every,
        "pseudo_frames": {session.video_key: [s.frame for s in pseudo]},
        "pseudo_keypoints": int(sum(s.visible.sum() for s in pseudo)),
        "epochs": epochs,
    }
    return finetune(
        session, steps=steps, batch_size=batch_size, lr=lr, time_budget=time_budget, seed=seed,
        callback=callback, control=control, extra_samples=pseudo, extra_info=info, **settings,
    )  # fmt: skip
