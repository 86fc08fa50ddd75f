"""One fine-tuning round: the user's labels (plus memory replay) -> a new model version.

The round trains on the frames the user labeled or accepted, with keypoint-consistent
augmentation (:mod:`.augment`) and DeepLabCut's targets and loss (:mod:`.targets`). Keypoints the
user did not touch on a frame get pseudo-labels from the model as it was before the round where
it was confident (memory replay, as in the SuperAnimal paper), so a 27- or 39-keypoint model does
not forget what nobody corrected. AdamW, batch-norm statistics frozen, a seeded held-out split
of the labeled frames for early stopping and for the error reported before and after. Stop keeps
the best model so far; Cancel keeps nothing. The result is saved as a new model version of the
project; the previous ones stay, so rolling back is one call.

Example::

    result = finetune(session, steps=300)
    result.version, result.heldout_before, result.heldout_after
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
import torch

from ..errors import SuperAnimalError
from ..metrics.jitter import JITTER_FRAMES, clip_frames, compare, jitter_metrics
from ..model.inference import PoseEstimator
from ..model.networks import build_network
from ..model.preprocess import frame_to_input, normalize, rescale_frames, scaled_size
from .augment import AugmentSettings, augment
from .targets import POS_DIST_THRESH, gaussian_targets, weighted_mse

DEFAULT_LIGHT_ARCH = "light_resnet18"
REPLAY_THRESHOLD = 0.1  # DeepLabCut's memory-replay pose threshold
AUTO_MAX_SIDE = 448  # px: longer side of the frames a new network trains on (auto_input_scale)


class TrainingError(SuperAnimalError, ValueError):
    """A round that cannot start (no labels, no model and no architecture, ...)."""


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


@dataclass
class Sample:
    frame: int
    keypoints: np.ndarray  # (K, 2), NaN where unknown
    visible: np.ndarray  # (K,) bool: has a target (label, accepted, or replayed prediction)
    labeled: np.ndarray  # (K,) bool: the user's own point (for held-out errors)


def training_samples(
    session, frames=None, replay: bool = True, threshold: float = REPLAY_THRESHOLD
):
    """One :class:`Sample` per frame with user points (``frames`` limits them)."""
    wanted = session.labeled_frames() if frames is None else sorted(set(frames))
    samples = []
    names = session.keypoints
    for frame in wanted:
        labels = session.labels(frame)
        pts = np.full((len(names), 2), np.nan)
        visible = np.zeros(len(names), bool)
        labeled = np.zeros(len(names), bool)
        for i, name in enumerate(names):
            p = labels.get(name)
            if p is not None and p.state in ("labeled", "accepted") and p.x is not None:
                pts[i] = (p.x, p.y)
                visible[i] = labeled[i] = True
        if not labeled.any():
            continue
        if replay:
            pred = session.prediction(frame)
            if pred is not None:
                untouched = np.array([name not in labels for name in names])
                keep = untouched & np.isfinite(pred[:, :2]).all(1) & (pred[:, 2] >= threshold)
                pts[keep] = pred[keep, :2]
                visible |= keep
        samples.append(Sample(frame, pts, visible, labeled))
    return samples


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


def _jitter_poses(session, estimator: PoseEstimator, frames: list[int]) -> np.ndarray | None:
    """``estimator``'s poses on ``frames`` for the jitter metrics (the session's model: its
    stored predictions, predicting only the missing ones)."""
    if not frames:
        return None
    if estimator is session.model:
        session.predict(frames=frames, skip_done=True)
        return np.stack([session.prediction(f) for f in frames])
    return estimator.predict_video(session.video, frames)


def _jitter_info(session, before, trial: PoseEstimator, frames: list[int]) -> dict:
    """``{"jitter": {"before", "after", "frames"}}`` (see :mod:`..metrics.jitter`), or nothing."""
    if not frames:
        return {}
    after = _jitter_poses(session, trial, frames)
    if before is None:  # a network trained from scratch had no "before" worth measuring
        report = {"before": None, "after": jitter_metrics(after, session.keypoints, frames)}
    else:
        report = compare(before, after, session.keypoints, frames)
    return {"jitter": {**report, "clips": {session.video_key: _runs(frames)}}}


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


def finetune(
    session,
    *,
    steps: int = 300,
    time_budget: float | None = None,
    lr: float = 1e-3,
    batch_size: int = 8,
    crop_size: int | None = None,
    dist_thresh: float | None = None,
    holdout: float = 0.2,
    frames=None,
    replay: bool = True,
    replay_threshold: float = REPLAY_THRESHOLD,
    arch: str | None = None,
    input_scale: float | None = None,
    eval_every: int = 25,
    patience: int = 6,
    seed: int = 0,
    augmentation: AugmentSettings | None = None,
    callback: Callable[[Progress], None] | None = None,
    control: Control | None = None,
    jitter_frames: int = JITTER_FRAMES,
    extra_samples: list[Sample] | None = None,
    extra_info: dict | None = None,
) -> RoundResult | None:
    """Train one round on ``session``'s labels; returns the new version (None if cancelled).

    Starts from the session's model, or a new ``arch`` network (default: a light one) when the
    session has none. ``input_scale`` resizes frames before the network (default: the base
    model's; for a new network, :func:`auto_input_scale`). ``steps`` or ``time_budget``
    (seconds), whichever ends first.
    ``jitter_frames`` consecutive frames (in clips; 0: none) are predicted before and after
    for the jitter metrics in the version's info. ``extra_samples`` (pseudo-labels, see
    :mod:`.adapt`) train alongside the labeled frames but are never held out; ``extra_info``
    goes into the version's info.
    """
    control = control or Control()
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    height, width = session.video.shape[1:3]
    base = session.model
    if base is None:
        network = build_network(arch or DEFAULT_LIGHT_ARCH, len(session.keypoints))
        scale = input_scale or auto_input_scale(height, width)
        base = PoseEstimator(network, session.keypoints, "cpu", network.arch.name,
                             input_scale=scale)  # fmt: skip
        base_version = None
    else:
        base_version = session.model_version
        scale = input_scale or base.input_scale
    if replay and base_version is not None:
        # memory replay needs the model's view of every labeled frame from before this round
        session.predict(frames=session.labeled_frames(), skip_done=True)
    samples = training_samples(session, frames, replay and base_version is not None,
                               replay_threshold)  # fmt: skip
    pseudo = list(extra_samples or [])
    if len(samples) + len(pseudo) < 2:
        raise TrainingError(
            f"{len(samples)} labeled frame(s): label or accept points on at least 2 frames first"
        )
    order = rng.permutation(len(samples))
    n_hold = int(round(holdout * len(samples))) if len(samples) >= 5 else 0
    held = [samples[i] for i in order[:n_hold]]
    train = [samples[i] for i in order[n_hold:]] + pseudo
    pixels = {s.frame: session.read_frame(s.frame) for s in samples + pseudo}
    # the network trains on frames resized by ``scale``, in their pixels; errors stay in the
    # frame's own pixels (the estimator maps its predictions back)
    seen = {f: rescale_frames(p[None], scale)[0] for f, p in pixels.items()}
    train_in = [_to_input(s, (height, width), scale) for s in train]
    pck_px = max(2.0, 0.02 * max(height, width))
    extent = _extent(samples + pseudo, height, width) * scale
    height, width = scaled_size(height, width, scale)
    size = crop_size or _crop_size(extent, height, width)
    spread = extent > 0.8 * size  # crops around the centre would cut keypoints off
    # DeepLabCut's target radius (17 px) suits 640x480 video; smaller frames get a smaller one
    radius = dist_thresh or min(POS_DIST_THRESH, max(4.0, 0.05 * max(height, width)))
    pretrained = base_version is not None  # keep batch-norm statistics of a trained model

    network = copy.deepcopy(base.network).to(base.device)
    stride = network.stride
    before = heldout_error(base, pixels, held, pck_px)
    jitter_at = clip_frames(len(session), jitter_frames) if jitter_frames else []
    jitter_before = _jitter_poses(session, base, jitter_at) if base_version else None
    optimizer = torch.optim.AdamW([p for p in network.parameters() if p.requires_grad], lr=lr)
    trial = PoseEstimator(network, session.keypoints, device=base.device, input_scale=scale)
    best_state, best_score, since_best = None, np.inf, 0
    losses: list[tuple[int, float]] = []
    evals: list[tuple[int, float]] = []
    started = time.perf_counter()
    step = 0
    stopped = "steps"
    for step in range(1, steps + 1):
        if control.cancel.is_set():
            return None
        if control.stop.is_set():
            stopped = "stop"
            break
        elapsed = time.perf_counter() - started
        if time_budget is not None and elapsed > time_budget:
            stopped = "time"
            break
        done = max((step - 1) / steps, elapsed / time_budget if time_budget else 0.0)
        rate, beta1 = _one_cycle(lr, done)
        for group in optimizer.param_groups:
            group["lr"], group["betas"] = rate, (beta1, group["betas"][1])
        network.train()
        if pretrained:
            _freeze_batchnorm(network)
        batch = [train_in[i] for i in rng.integers(0, len(train_in), batch_size)]
        crops, points = zip(
            *(augment(seen[s.frame], np.where(s.visible[:, None], s.keypoints, np.nan), rng,
                      size, augmentation, _centre(s, spread, rng))
              for s in batch),
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
        if step % eval_every == 0 or step == steps:
            network.eval()
            if held:
                score = heldout_error(trial, pixels, held, pck_px)["pixels"]
                score = np.inf if score is None else score
            else:
                score = float(np.mean([v for _, v in losses[-eval_every:]]))
            evals.append((step, score))
            if score < best_score:
                best_score, since_best = score, 0
                best_state = copy.deepcopy(network.state_dict())
            else:
                since_best += 1
                if since_best >= patience:
                    stopped = "early"
                    break
        if callback is not None:
            elapsed = time.perf_counter() - started
            remaining = (steps - step) * elapsed / step
            if time_budget is not None:
                remaining = min(remaining, max(0.0, time_budget - elapsed))
            callback(Progress(step, steps, losses[-1][1], remaining,
                              None if score is None or not held else score))  # fmt: skip
    if control.cancel.is_set():
        return None
    if best_state is None or (stopped in ("stop", "time") and not evals):
        best_state = network.state_dict()
    network.load_state_dict(best_state)
    network.eval()
    after = heldout_error(trial, pixels, held, pck_px)
    info = {
        "arch": network.arch.name,
        "keypoints": list(session.keypoints),
        "parent": base_version,
        "created": time.time(),
        "steps": step,
        "ended_by": stopped,
        "seconds": time.perf_counter() - started,
        "seed": seed,
        "lr": lr,
        "batch_size": batch_size,
        "input_scale": scale,
        "crop_size": size,
        "crops_on": "a random keypoint" if spread else "the animal's centre",
        "target_radius": radius,
        "batchnorm_frozen": pretrained,
        "replay": bool(replay and base_version is not None),
        "replay_threshold": replay_threshold,
        "train_frames": {session.video_key: sorted(s.frame for s in train if s.labeled.any())},
        "heldout_frames": {session.video_key: sorted(s.frame for s in held)},
        "loss_curve": losses,
        "heldout_curve": evals,
        "heldout_before": before,
        "heldout_after": after,
        **_jitter_info(session, jitter_before, trial, jitter_at),
        **(extra_info or {}),
    }
    version = session.project.next_model_version(network.arch.name)
    session.project.save_model_version(version, network, info)
    estimator = PoseEstimator(network, session.keypoints, base.device, version, input_scale=scale)
    return RoundResult(version, estimator, info)
