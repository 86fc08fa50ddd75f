"""One fine-tuning round: the user's labels (plus memory replay) -> a new model version.

The round trains on the frames the user labeled or accepted, with keypoint-consistent
augmentation (:mod:`.augment`) and DeepLabCut's targets and loss (:mod:`.targets`). Keypoints the
user did not touch on a frame get pseudo-labels from the model as it was before the round where
it was confident (memory replay, as in the SuperAnimal paper), so a 27- or 39-keypoint model does
not forget what nobody corrected. AdamW, batch-norm statistics frozen, a seeded held-out split
of the labeled frames for early stopping and for the error reported before and after. Stop keeps
the best model so far; Cancel keeps nothing. The result is saved as a new model version of the
project; the previous ones stay, so rolling back is one call.

The round itself (:func:`run_round`) works from a :class:`~.job.RoundJob`, a snapshot of the
session, so the widget runs it in a child process (:mod:`.process`); :func:`finetune` runs the
same three steps (prepare, run, commit) in this one, for Python and the CLI.

Example::

    result = finetune(session, steps=300)
    result.version, result.heldout_before, result.heldout_after
"""

from __future__ import annotations

import copy
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
import torch

from ..metrics.jitter import compare, jitter_metrics
from ..model.inference import PoseEstimator
from ..model.networks import build_network
from ..model.preprocess import frame_to_input, normalize, rescale_frames, scaled_size
from .augment import augment
from .job import (
    DEFAULT_LIGHT_ARCH,
    RoundJob,
    RoundOutcome,
    TrainingError,
    check_enough_frames,
    commit_round,
    prepare_round,
)
from .samples import Sample, pseudo_samples, training_samples
from .targets import POS_DIST_THRESH, gaussian_targets, weighted_mse

__all__ = ["Control", "Progress", "RoundResult", "TrainingError", "finetune", "run_round",
           "DEFAULT_LIGHT_ARCH"]  # fmt: skip

AUTO_MAX_SIDE = 448  # px: longer side of the frames a new network trains on (auto_input_scale)
PREDICT_CHUNK = 16  # frames the base model predicts between checks for Cancel
AFTER_TRAINING_SECONDS = 2.0  # saving the version, on top of the predictions timed


class Control:
    """Ask a running round to stop (keep the best model so far) or cancel (keep nothing)."""

    def __init__(self):
        self.stop = threading.Event()
        self.cancel = threading.Event()


@dataclass
class Progress:
    step: int
    steps: int
    loss: float
    eta_seconds: float
    heldout_error: float | None = None


@dataclass
class RoundResult:
    version: str
    estimator: PoseEstimator
    info: dict = field(default_factory=dict)

    @property
    def heldout_before(self) -> dict:
        return self.info["heldout_before"]

    @property
    def heldout_after(self) -> dict:
        return self.info["heldout_after"]


def heldout_error(estimator: PoseEstimator, frames: dict[int, np.ndarray], samples, pck_px: float):
    """Mean pixel error and PCK over the user's own points on held-out frames."""
    if not samples:
        return {"pixels": None, "pck": None, "pck_px": pck_px, "frames": 0}
    pred = estimator.predict(np.stack([frames[s.frame] for s in samples]))
    errors = []
    for s, p in zip(samples, pred, strict=True):
        d = np.linalg.norm(p[s.labeled, :2] - s.keypoints[s.labeled], axis=1)
        errors.extend(np.where(np.isfinite(d), d, np.inf))
    errors = np.asarray(errors)
    finite = errors[np.isfinite(errors)]
    return {
        "pixels": float(finite.mean()) if len(finite) else None,
        "pck": float((errors <= pck_px).mean()),
        "pck_px": pck_px,
        "frames": len(samples),
    }


def auto_input_scale(height: int, width: int) -> float:
    """Input scale for a network trained from scratch: frames shrink until their longer side
    is at most ``AUTO_MAX_SIDE`` px. A light network at stride 8 learns from a few labels only
    when it sees the animal in enough context: on the 832x747 reaching frames halving them cut
    the held-out error ~5x under the same 8-minute budget (docs/benchmarks.md)."""
    return min(1.0, AUTO_MAX_SIDE / max(height, width))


def _to_input(sample: Sample, frame_size: tuple[int, int], scale: float) -> Sample:
    """``sample`` with its keypoints in the pixels of the frame resized by ``scale``."""
    return replace(sample, keypoints=frame_to_input(sample.keypoints, frame_size, scale))


def _extent(samples, height: int, width: int) -> float:
    """Median extent (px) of the labeled keypoints on a frame: the animal's size."""
    extents = []
    for s in samples:
        pts = s.keypoints[s.labeled if s.labeled.any() else s.visible]  # pseudo-labels: visible
        if len(pts) >= 2:
            extents.append(float(np.ptp(pts, axis=0).max()))
    return float(np.median(extents)) if extents else max(height, width) / 2


def _crop_size(extent: float, height: int, width: int) -> int:
    """Training crop side: 1.8x the animal's extent, 64-256 px, a multiple of 32."""
    side = int(32 * np.ceil(1.8 * extent / 32))
    return int(np.clip(side, 64, min(256, 32 * np.ceil(max(height, width) / 32))))


def _centre(sample: Sample, spread: bool, rng: np.random.Generator) -> np.ndarray | None:
    """Where a crop goes: the animal's centre (None), or, when its keypoints spread wider than
    a crop, one of them at random so that every keypoint is trained."""
    if not spread:
        return None
    return sample.keypoints[rng.choice(np.flatnonzero(sample.visible))]


def _one_cycle(lr: float, done: float, warmup: float = 0.15) -> tuple[float, float]:
    """One-cycle learning rate and Adam beta1 at ``done`` (0-1) of the round, as PyTorch's
    OneCycleLR does it by default: the rate warms up from lr/25 to lr while beta1 falls from
    0.95 to 0.85, then the rate decays to lr/25e4 while beta1 rises back (cosine both ways).
    ``done`` is the larger of the step and time-budget fractions, so a time-limited round
    anneals too."""
    done = min(max(done, 0.0), 1.0)
    start, end = lr / 25, lr / 25e4
    if done < warmup:
        t = done / warmup
        return _cosine(start, lr, t), _cosine(0.95, 0.85, t)
    t = (done - warmup) / (1 - warmup)
    return _cosine(lr, end, t), _cosine(0.85, 0.95, t)


def _cosine(a: float, b: float, t: float) -> float:
    return b + (a - b) * (1 + np.cos(np.pi * t)) / 2


def _runs(frames: list[int]) -> list[list[int]]:
    """Sorted frames as ``[first, last]`` runs of consecutive ones."""
    runs: list[list[int]] = []
    for f in frames:
        if runs and f == runs[-1][1] + 1:
            runs[-1][1] = f
        else:
            runs.append([f, f])
    return runs


def _freeze_batchnorm(network: torch.nn.Module) -> None:
    for m in network.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.eval()


def _jitter_info(job: RoundJob, before, trial: PoseEstimator, video) -> dict:
    """``{"jitter": {"before", "after", "clips"}}`` (see :mod:`..metrics.jitter`), or nothing."""
    frames = job.jitter_at
    if not frames:
        return {}
    after = trial.predict_video(video, frames)
    if before is None:  # a network trained from scratch had no "before" worth measuring
        report = {"before": None, "after": jitter_metrics(after, job.keypoints, frames)}
    else:
        report = compare(before, after, job.keypoints, frames)
    return {"jitter": {**report, "clips": {job.video_key: _runs(frames)}}}


def _after_training_seconds(trial: PoseEstimator, pixels: dict, n_frames: int) -> float:
    """A generous estimate of the round's work after its last step (the held-out and jitter
    frames predicted, the model saved), timed on one frame: a time budget covers it too."""
    frame = next(iter(pixels.values()))
    t = time.perf_counter()
    trial.predict(frame[None])
    return 1.5 * (time.perf_counter() - t) * n_frames + AFTER_TRAINING_SECONDS


def _predict_missing(job: RoundJob, base: PoseEstimator, video, control: Control, progress):
    """The base model's predictions on the frames the round needs and the project lacks
    (into ``job.predictions``); returns the frames predicted, or None if cancelled."""
    missing = [f for f in job.needed if f not in job.predictions]
    for start in range(0, len(missing), PREDICT_CHUNK):
        if control.cancel.is_set():
            return missing[:start]
        chunk = missing[start : start + PREDICT_CHUNK]
        for f, pose in zip(chunk, base.predict_video(video, chunk), strict=True):
            job.predictions[f] = pose
        if progress is not None:
            progress(start + len(chunk), len(missing))
    return missing


def _pseudo_labels(job: RoundJob, samples: list[Sample]) -> tuple[list[Sample], int, dict]:
    """Video adaptation: the pseudo-labeled samples, the round's steps, and its info."""
    a, s = job.adaptation, job.settings
    pseudo = pseudo_samples(job.labels, job.predictions, a.frames, a.threshold)
    if not pseudo:
        mine = sum(1 for f in a.frames if f in job.labels and job.labels[f].labeled.any())
        raise TrainingError(
            f"no pseudo-labels: of the {len(a.frames)} sampled frames (every {a.every}th), {mine} "
            f"carry your labels and the others have no keypoint scoring {a.threshold} or "
            "more (sample more frames, or label a few frames and fine-tune first)"
        )
    steps = s.steps or max(1, math.ceil(a.epochs * (len(pseudo) + len(samples)) / s.batch_size))
    info = {
        "adapted": True,
        "pseudo_threshold": a.threshold,
        "pseudo_every": a.every,
        "pseudo_frames": {job.video_key: [p.frame for p in pseudo]},
        "pseudo_keypoints": int(sum(p.visible.sum() for p in pseudo)),
        "epochs": a.epochs,
    }
    return pseudo, steps, info


def run_round(
    job: RoundJob,
    callback: Callable[[Progress], None] | None = None,
    control: Control | None = None,
    predict_progress: Callable[[int, int], None] | None = None,
) -> RoundOutcome:
    """Train one round from ``job``; the outcome's ``state`` is None if it was cancelled.

    ``callback`` gets a :class:`Progress` after every step; ``predict_progress(done, total)``
    follows the base model's predictions on frames the project had none for (memory replay,
    jitter, adaptation), which come back in the outcome either way.
    """
    round_started = time.perf_counter()  # a time budget covers the whole round
    control = control or Control()
    s = job.settings
    rng = np.random.default_rng(s.seed)
    torch.manual_seed(s.seed)
    video = job.video()
    height, width = job.frame_size
    base = job.base_estimator()
    base_version = None if job.base is None else job.base.version
    if base is None:
        network = build_network(s.arch or DEFAULT_LIGHT_ARCH, len(job.keypoints))
        scale = s.input_scale or auto_input_scale(height, width)
        base = PoseEstimator(network, job.keypoints, "cpu", network.arch.name, input_scale=scale)
    else:
        scale = s.input_scale or base.input_scale
    predicted = _predict_missing(job, base, video, control, predict_progress)
    outcome = RoundOutcome(base.network.arch.name, base_version, None, {}, predicted,
                           np.stack([job.predictions[f] for f in predicted]) if predicted
                           else np.empty((0, len(job.keypoints), 3), np.float32))  # fmt: skip
    if control.cancel.is_set():
        return outcome
    replay = s.replay and base_version is not None
    samples = training_samples(job.labels, job.predictions, s.frames, replay, s.replay_threshold)
    steps, pseudo, extra = s.steps, [], dict(job.extra_info)
    if job.adaptation is not None:
        pseudo, steps, adapted = _pseudo_labels(job, samples)
        extra.update(adapted)
    check_enough_frames(len(samples), len(pseudo))
    order = rng.permutation(len(samples))
    n_hold = int(round(s.holdout * len(samples))) if len(samples) >= 5 else 0
    held = [samples[i] for i in order[:n_hold]]
    train = [samples[i] for i in order[n_hold:]] + pseudo
    pixels = {p.frame: video.read_frame(p.frame) for p in samples + pseudo}
    # the network trains on frames resized by ``scale``, in their pixels; errors stay in the
    # frame's own pixels (the estimator maps its predictions back)
    seen = {f: rescale_frames(p[None], scale)[0] for f, p in pixels.items()}
    train_in = [_to_input(p, (height, width), scale) for p in train]
    pck_px = max(2.0, 0.02 * max(height, width))
    extent = _extent(samples + pseudo, height, width) * scale
    height, width = scaled_size(height, width, scale)
    size = s.crop_size or _crop_size(extent, height, width)
    spread = extent > 0.8 * size  # crops around the centre would cut keypoints off
    # DeepLabCut's target radius (17 px) suits 640x480 video; smaller frames get a smaller one
    radius = s.dist_thresh or min(POS_DIST_THRESH, max(4.0, 0.05 * max(height, width)))
    pretrained = base_version is not None  # keep batch-norm statistics of a trained model

    network = copy.deepcopy(base.network).to(base.device)
    stride = network.stride
    before = heldout_error(base, pixels, held, pck_px)
    jitter_before = None
    if base_version is not None and job.jitter_at:
        jitter_before = np.stack([job.predictions[f] for f in job.jitter_at])
    optimizer = torch.optim.AdamW([p for p in network.parameters() if p.requires_grad], lr=s.lr)
    trial = PoseEstimator(network, job.keypoints, device=base.device, input_scale=scale)
    best_state, best_score, since_best = None, np.inf, 0
    losses: list[tuple[int, float]] = []
    evals: list[tuple[int, float]] = []
    budget = None
    if s.time_budget is not None:  # what is left once the work after training is set aside
        budget = s.time_budget - (time.perf_counter() - round_started)
        budget -= _after_training_seconds(trial, pixels, len(held) + len(job.jitter_at))
    started = time.perf_counter()
    step = 0
    stopped = "steps"
    for step in range(1, steps + 1):
        if control.cancel.is_set():
            return outcome
        if control.stop.is_set():
            stopped = "stop"
            break
        elapsed = time.perf_counter() - started
        if budget is not None and elapsed > budget and step > 1:
            stopped = "time"
            break
        by_time = 0.0 if budget is None else elapsed / budget if budget > 0 else 1.0
        done = max((step - 1) / steps, by_time)
        rate, beta1 = _one_cycle(s.lr, done)
        for group in optimizer.param_groups:
            group["lr"], group["betas"] = rate, (beta1, group["betas"][1])
        network.train()
        if pretrained:
            _freeze_batchnorm(network)
        batch = [train_in[i] for i in rng.integers(0, len(train_in), s.batch_size)]
        crops, points = zip(
            *(augment(seen[b.frame], np.where(b.visible[:, None], b.keypoints, np.nan), rng,
                      size, s.augmentation, _centre(b, spread, rng))
              for b in batch),
            strict=True,
        )  # fmt: skip
        inputs = normalize(np.stack(crops)).to(base.device)
        out = network(inputs)["heatmap"]
        vis = np.stack([np.isfinite(p).all(1) for p in points])
        target, weights = gaussian_targets(np.stack(points), vis, out.shape[-2:], stride, radius)
        loss = weighted_mse(out, target.to(out.device), weights.to(out.device))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append((step, loss.item()))
        score = None
        if step % s.eval_every == 0 or step == steps:
            network.eval()
            if held:
                score = heldout_error(trial, pixels, held, pck_px)["pixels"]
                score = np.inf if score is None else score
            else:
                score = float(np.mean([v for _, v in losses[-s.eval_every :]]))
            evals.append((step, score))
            if score < best_score:
                best_score, since_best = score, 0
                best_state = copy.deepcopy(network.state_dict())
            else:
                since_best += 1
                if since_best >= s.patience:
                    stopped = "early"
                    break
        if callback is not None:
            elapsed = time.perf_counter() - started
            remaining = (steps - step) * elapsed / step
            if budget is not None:
                remaining = min(remaining, max(0.0, budget - elapsed))
            callback(Progress(step, steps, losses[-1][1], remaining,
                              None if score is None or not held else score))  # fmt: skip
    if control.cancel.is_set():
        return outcome
    if best_state is None or (stopped in ("stop", "time") and not evals):
        best_state = network.state_dict()
    network.load_state_dict(best_state)
    network.eval()
    after = heldout_error(trial, pixels, held, pck_px)
    outcome.state = network.state_dict()
    outcome.info = {
        "arch": network.arch.name,
        "keypoints": list(job.keypoints),
        "parent": base_version,
        "steps": step,
        "ended_by": stopped,
        "seconds": time.perf_counter() - started,
        "seed": s.seed,
        "lr": s.lr,
        "batch_size": s.batch_size,
        "input_scale": scale,
        "crop_size": size,
        "crops_on": "a random keypoint" if spread else "the animal's centre",
        "target_radius": radius,
        "batchnorm_frozen": pretrained,
        "replay": replay,
        "replay_threshold": s.replay_threshold,
        "train_frames": {job.video_key: sorted(p.frame for p in train if p.labeled.any())},
        "heldout_frames": {job.video_key: sorted(p.frame for p in held)},
        "loss_curve": losses,
        "heldout_curve": evals,
        "heldout_before": before,
        "heldout_after": after,
        **_jitter_info(job, jitter_before, trial, video),
        **extra,
    }
    return outcome


def finetune(
    session,
    *,
    callback: Callable[[Progress], None] | None = None,
    control: Control | None = None,
    extra_info: dict | None = None,
    **settings,
) -> RoundResult | None:
    """Train one round on ``session``'s labels here; returns the new version (None if
    cancelled).

    Starts from the session's model, or a new ``arch`` network (default: a light one) when the
    session has none. ``input_scale`` resizes frames before the network (default: the base
    model's; for a new network, :func:`auto_input_scale`). ``steps`` or ``time_budget``
    (seconds), whichever ends first. ``jitter_frames`` consecutive frames (in clips; 0: none)
    are predicted before and after for the jitter metrics in the version's info;
    ``extra_info`` goes into it too. Every setting: :class:`~.job.RoundSettings`.
    """
    job = prepare_round(session, extra_info=extra_info, **settings)
    return commit_round(session, run_round(job, callback, control))
