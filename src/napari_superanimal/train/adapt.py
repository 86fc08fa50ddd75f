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
boxes kept above ``bbox_threshold=0.9``); here the base model's pseudo-labels come top-down
from its detector's boxes (a SuperAnimal model), but the detector itself is not adapted.

The round is :func:`~.finetune.run_round` with the pseudo-labels as extra samples (see
:func:`adaptation_job`), so it shares the augmentation, memory replay on the user's frames,
Stop/Cancel, progress and the child process the widget runs it in. The user's
points always win: a frame with labeled or accepted points trains on them (plus memory replay
for the untouched keypoints, as in fine-tuning), and a keypoint the user hid never gets a
pseudo-label. The new version's info says ``"adapted": true``.

Example::

    result = adapt(session)                      # or session.adapt()
    result.info["jitter"]["before"]["all"], result.info["jitter"]["after"]["all"]
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .finetune import Control, RoundResult, run_round
from .job import Adaptation, RoundJob, TrainingError, commit_round, prepare_round
from .samples import PSEUDO_THRESHOLD

EVERY = 10  # DeepLabCut keeps every 10th frame of the video as a pseudo-labeled image
POSE_EPOCHS = 4  # DeepLabCut's pose_epochs
BATCH_SIZE = 8  # DeepLabCut's video_adapt_batch_size
MAX_FRAMES = 240  # ours: at most this many pseudo-labeled frames are held in memory


def adaptation_frames(n_frames: int, every: int = EVERY, max_frames: int = MAX_FRAMES) -> list[int]:
    """Every ``every``-th frame, thinned evenly to at most ``max_frames``."""
    frames = np.arange(0, n_frames, max(1, int(every)))
    if len(frames) > max_frames:
        frames = frames[np.linspace(0, len(frames) - 1, max_frames).round().astype(int)]
    return [int(f) for f in frames]


def adaptation_job(
    session,
    *,
    pseudo_threshold: float = PSEUDO_THRESHOLD,
    every: int = EVERY,
    max_frames: int = MAX_FRAMES,
    epochs: float = POSE_EPOCHS,
    steps: int | None = None,
    batch_size: int = BATCH_SIZE,
    lr: float = 5e-4,
    **settings,
) -> RoundJob:
    """The :class:`~.job.RoundJob` of an adaptation round on ``session``.

    ``steps`` defaults to ``epochs`` passes over the pseudo-labeled frames (and the user's
    labeled ones) in batches of ``batch_size``. The base model predicts the sampled frames the
    project has no predictions for when the round starts (they are stored in the project).
    Other ``settings``: :class:`~.job.RoundSettings` (``jitter_frames``, ``replay``, ...).
    """
    if session.model is None:
        raise TrainingError("adaptation starts from a model: open the session with one first")
    frames = adaptation_frames(len(session), every, max_frames)
    plan = Adaptation(frames, every, pseudo_threshold, epochs)
    return prepare_round(
        session, adaptation=plan, steps=steps, batch_size=batch_size, lr=lr, **settings
    )


def adapt(
    session,
    *,
    callback=None,
    control: Control | None = None,
    predict_progress: Callable[[int, int], None] | None = None,
    **settings,
) -> RoundResult | None:
    """Adapt the session's model to its video here; returns the new version (None if
    cancelled). ``predict_progress(done, total)`` follows the prediction of the sampled
    frames; ``settings``: :func:`adaptation_job`."""
    job = adaptation_job(session, **settings)
    return commit_round(session, run_round(job, callback, control, predict_progress))
