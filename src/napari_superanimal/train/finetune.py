"""One fine-tuning round: the user's labels (plus memory replay) -> a new model version.

The round trains on the frames the user labeled or accepted, with keypoint-consistent
augmentation (:mod:`.augment`) and DeepLabCut's targets and loss (:mod:`.targets`). Keypoints the
user did not touch on a frame get pseudo-labels from the model as it was before the round where
it was confident (memory replay, as in the SuperAnimal paper), so a 27- or 39-keypoint model does
not forget what nobody corrected. AdamW, batch-norm statistics frozen for a trained model.

The labeled frames are split three ways (:func:`~.samples.split_samples`): the network trains on
most of them; a **validation** share stops training early, picks the weights of a round that
ends early and calibrates the scores (a round that runs its schedule to the end keeps its last
weights: :meth:`~.loop.Trainer.kept_state`); a **test** share chooses nothing, and the error the
round reports (before and after) is measured on it alone. Stop keeps the best model so far;
Cancel keeps nothing. The result is saved as a new
model version of the project; the previous ones stay, so rolling back is one call.

The round itself (:func:`run_round`) works from a :class:`~.job.RoundJob`, a snapshot of the
session, so the widget runs it in a child process (:mod:`.process`); :func:`finetune` runs the
same three steps (prepare, run, commit) in this one, for Python and the CLI. Its parts, in the
order they run: :func:`predict_missing`, :func:`prepare_data`, :class:`~.loop.Trainer` ``.fit``,
:func:`round_info`.

Example::

    result = finetune(session, steps=300)
    result.version, result.test_before, result.test_after
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

from ..errors import TrainingError
from ..metrics.jitter import compare, jitter_metrics
from ..model.calibration import RADIUS_PX, Calibration, fit_calibration
from ..model.imagenet import new_network
from ..model.inference import PoseEstimator
from ..model.layout import fit_layout
from ..model.preprocess import frame_to_input, rescale_frames, scaled_size
from .crops import animal_extent, auto_input_scale, crop_size
from .evaluate import CALIBRATION_VIEWS, keypoint_error, scored_errors
from .job import (
    DEFAULT_LIGHT_ARCH,
    Progress,
    RoundJob,
    RoundOutcome,
    check_enough_frames,
    commit_round,
    prepare_round,
)
from .loop import LoopSettings, Trainer, TrainingData, mixed_precision
from .samples import Sample, Split, pseudo_samples, split_samples, training_samples
from .targets import POS_DIST_THRESH

__all__ = ["Control", "Progress", "RoundResult", "finetune", "run_round", "DEFAULT_LIGHT_ARCH"]

PREDICT_CHUNK = 16  # frames the base model predicts between checks for Cancel
AFTER_TRAINING_SECONDS = 2.0  # saving the version, on top of the predictions timed
TEST_SPLIT = "test: labeled frames used neither for training nor for choosing the checkpoint"


class Control:
    """Ask a running round to stop (keep the best model so far) or cancel (keep nothing)."""

    def __init__(self):
        self.stop = threading.Event()
        self.cancel = threading.Event()


@dataclass
class RoundResult:
    version: str
    estimator: PoseEstimator
    info: dict = field(default_factory=dict)

    @property
    def test_before(self) -> dict:
        """The error on the round's test frames of the model it started from."""
        return self.info["test_before"]

    @property
    def test_after(self) -> dict:
        """The error on the round's test frames of the model it made."""
        return self.info["test_after"]


# -- before training ----------------------------------------------------------------------------
def predict_missing(job: RoundJob, base: PoseEstimator, video, control: Control, progress):
    """The base model's predictions on the frames the round needs and the project lacks
    (into ``job.predictions``); returns the frames predicted (fewer if cancelled)."""
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


def pseudo_labels(job: RoundJob, samples: list[Sample]) -> tuple[list[Sample], int, dict]:
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
        "pseudo_frames": {job.video_key: _frames(job, pseudo)},
        "pseudo_keypoints": int(sum(p.visible.sum() for p in pseudo)),
        "epochs": a.epochs,
    }
    return pseudo, steps, info


@dataclass
class RoundData:
    """Everything training and evaluation read, prepared once."""

    split: Split
    pseudo: list[Sample]
    pixels: dict[int, np.ndarray]  # frame -> frame pixels (for evaluation)
    training: TrainingData  # in the network's input pixels
    scale: float
    pck_px: float


def prepare_data(job: RoundJob, video, samples: list[Sample], pseudo, split: Split, scale: float):
    """Frames read once, resized by ``scale``; crop size and target radius from the labels."""
    s = job.settings
    height, width = job.frame_size
    pixels = {p.frame: video.read_frame(p.frame) for p in samples + pseudo}
    # the network trains on frames resized by ``scale``, in their pixels; errors stay in the
    # frame's own pixels (the estimator maps its predictions back)
    images = {f: rescale_frames(p[None], scale)[0] for f, p in pixels.items()}
    train = [_to_input(p, (height, width), scale) for p in split.train + pseudo]
    extent = animal_extent(samples + pseudo, height, width) * scale
    h, w = scaled_size(height, width, scale)
    size = s.crop_size or crop_size(extent, h, w)
    # DeepLabCut's target radius (17 px) suits 640x480 video; smaller frames get a smaller one
    radius = s.dist_thresh or min(POS_DIST_THRESH, max(4.0, 0.05 * max(h, w)))
    data = TrainingData(train, images, size, extent > 0.8 * size, radius, s.augmentation)
    if job.crops:  # an animal's crop: what inference sees of it (its box, black past the frame)
        data = replace(data, background=0.0, padding="constant")
    seen = job.source_size or (height, width)  # PCK's radius: 2% of the video's frame
    return RoundData(split, pseudo, pixels, data, scale, max(2.0, 0.02 * max(seen)))


def _to_input(sample: Sample, frame_size: tuple[int, int], scale: float) -> Sample:
    """``sample`` with its keypoints in the pixels of the frame resized by ``scale``."""
    return replace(sample, keypoints=frame_to_input(sample.keypoints, frame_size, scale))


def _after_training_seconds(trial: PoseEstimator, pixels: dict, n_frames: int) -> float:
    """A generous estimate of the round's work after its last step (the test, validation and
    jitter frames predicted, the model saved), timed on one frame: a time budget covers it."""
    frame = next(iter(pixels.values()))
    t = time.perf_counter()
    trial.predict(frame[None])
    return 1.5 * (time.perf_counter() - t) * n_frames + AFTER_TRAINING_SECONDS


# -- after training -----------------------------------------------------------------------------
def _runs(frames: list[int]) -> list[list[int]]:
    """Sorted frames as ``[first, last]`` runs of consecutive ones."""
    runs: list[list[int]] = []
    for f in frames:
        if runs and f == runs[-1][1] + 1:
            runs[-1][1] = f
        else:
            runs.append([f, f])
    return runs


def jitter_info(job: RoundJob, before, trial: PoseEstimator, video) -> dict:
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


def calibrate(trial: PoseEstimator, data: RoundData, rng, scales) -> Calibration | None:
    """The trained network's scores calibrated on the round's validation frames (None without
    them: its scores stay raw heatmap peaks)."""
    if not data.split.validation:
        return None
    padding = data.training.padding  # views of an animal's crop are black past its edge
    scores, errors = scored_errors(
        trial, data.pixels, data.split.validation, rng, scales, padding=padding
    )
    # a frame's views agree more than frames do: together they are one point's evidence
    return fit_calibration(scores, errors <= RADIUS_PX, RADIUS_PX, 1.0 / CALIBRATION_VIEWS)


MISTAKE_RADII = 2.0  # a keypoint placed farther than this many target radii from its label


def wrong_spots(trial: PoseEstimator, data: RoundData) -> Callable:
    """``spots(sample)``: where ``trial`` now places keypoints wrongly on a training sample's
    frame, in input pixels: farther than :data:`MISTAKE_RADII` target radii from the label, or
    anywhere for a keypoint the user hid there."""
    radius = MISTAKE_RADII * data.training.radius

    def spots(sample: Sample) -> np.ndarray:
        frame = data.pixels[sample.frame]
        placed = trial.predict(frame[None])[0, :, :2]
        at = frame_to_input(placed, frame.shape[:2], data.scale)
        with np.errstate(invalid="ignore"):
            far = np.linalg.norm(at - sample.keypoints, axis=1) > radius
        wrong = np.where(sample.visible, far, sample.nowhere()) & np.isfinite(at).all(1)
        return at[wrong]

    return spots


def _frames(job, samples) -> list[int]:
    """The video frames ``samples`` are of (a crop's frame, with several animals)."""
    frames = (job.crop_frames[p.frame] if job.crops else p.frame for p in samples)
    return sorted(set(frames))


def round_info(job, data: RoundData, trainer: Trainer, ended_by: str, errors: dict, **extra):
    """What the new version records about its round (goes into ``project.json``)."""
    s, key = job.settings, job.video_key
    split = data.split
    return {
        "arch": trainer.network.arch.name,
        "keypoints": list(job.keypoints),
        "steps": trainer.steps_done,
        "ended_by": ended_by,
        "seed": s.seed,
        "lr": s.lr,
        "batch_size": s.batch_size,
        "input_scale": data.scale,
        "crop_size": data.training.crop_size,
        "crops_on": "a random keypoint" if data.training.spread else "the animal's centre",
        "background_crops": data.training.background,
        "padding": data.training.padding,
        "target_radius": data.training.radius,
        "batchnorm_frozen": trainer.settings.frozen_batchnorm,
        "precision": trainer.precision,
        "train_frames": {key: _frames(job, (p for p in split.train if p.labeled.any()))},
        "validation_frames": {key: _frames(job, split.validation)},
        "test_frames": {key: _frames(job, split.test)},
        "test_split": TEST_SPLIT,
        "loss_curve": trainer.history.losses,
        "validation_curve": trainer.history.evals,
        **errors,
        **extra,
    }


# -- the round ----------------------------------------------------------------------------------
def run_round(
    job: RoundJob,
    callback: Callable[[Progress], None] | None = None,
    control: Control | None = None,
    predict_progress: Callable[[int, int], None] | None = None,
) -> RoundOutcome:
    """Train one round from ``job``; the outcome's ``state`` is None if it was cancelled.

    ``callback`` gets a :class:`~.loop.Progress` after every step; ``predict_progress(done,
    total)`` follows the base model's predictions on frames the project had none for (memory
    replay, jitter, adaptation), which come back in the outcome either way.
    """
    round_started = time.perf_counter()  # a time budget covers the whole round
    control = control or Control()
    s = job.settings
    rng = np.random.default_rng(s.seed)
    torch.manual_seed(s.seed)
    video = job.video()
    base = job.base_estimator()
    base_version = None if job.base is None else job.base.version
    init = f"from {base_version}"
    if base is None:  # a new network: ImageNet's backbone when it can be had, else random
        network, init = new_network(s.arch or DEFAULT_LIGHT_ARCH, len(job.keypoints))
        scale = s.input_scale or auto_input_scale(*job.frame_size)
        base = PoseEstimator(network, job.keypoints, "cpu", network.arch.name, input_scale=scale)
    else:
        scale = s.input_scale or base.input_scale
    predicted = predict_missing(job, base, video, control, predict_progress)
    outcome = RoundOutcome(
        base.network.arch.name,
        base_version,
        None,
        {},
        predicted,
        np.stack([job.predictions[f] for f in predicted])
        if predicted
        else np.empty((0, len(job.keypoints), 3), np.float32),
        crops=job.crops,
        detector=job.detector,
    )
    if control.cancel.is_set():
        return outcome

    replay = s.replay and base_version is not None
    samples = training_samples(
        job.labels,
        job.predictions,
        s.frames,
        replay,
        s.replay_threshold,
        untouched_absent=base_version is None,  # from scratch: DeepLabCut's missing points
    )
    steps, pseudo, extra = s.steps, [], dict(job.extra_info)
    if job.adaptation is not None:
        pseudo, steps, adapted = pseudo_labels(job, samples)
        extra.update(adapted)
    check_enough_frames(len(samples), len(pseudo))
    split = split_samples(samples, rng, s.validation, s.test)
    data = prepare_data(job, video, samples, pseudo, split, scale)

    network = copy.deepcopy(base.network).to(base.device)
    # its weights change at every step: PyTorch (an export would be stale at once)
    trial = PoseEstimator(
        network, job.keypoints, device=base.device, input_scale=scale, engine="torch"
    )
    scales = job.crop_scales or None  # several animals: crop pixels -> frame pixels
    before = keypoint_error(base, data.pixels, split.test, data.pck_px, scales)
    jitter_before = None
    if base_version is not None and job.jitter_at:
        jitter_before = np.stack([job.predictions[f] for f in job.jitter_at])

    def validate():
        return keypoint_error(trial, data.pixels, split.validation, data.pck_px, scales)["pixels"]

    trained = base_version is not None  # a trained model's round makes small corrections
    loop = LoopSettings(
        s.lr,
        s.batch_size,
        s.eval_every,
        s.patience,
        frozen_batchnorm=trained,
        mixed=mixed_precision(trial.device, s.precision, trained),
    )
    mistakes = wrong_spots(trial, data)
    validator = validate if split.validation else None
    trainer = Trainer(network, data.training, loop, rng, validator, mistakes)
    budget = None
    if s.time_budget is not None:  # what is left once the work after training is set aside
        # the test frames, the validation frames' calibration views, the jitter clips
        after = len(split.test) + CALIBRATION_VIEWS * len(split.validation) + len(job.jitter_at)
        budget = s.time_budget - (time.perf_counter() - round_started)
        budget -= _after_training_seconds(trial, data.pixels, after)
    started = time.perf_counter()
    ended_by = trainer.fit(steps, budget, control, callback)
    if ended_by == "cancel" or control.cancel.is_set():
        return outcome
    network.load_state_dict(trainer.kept_state(ended_by))
    network.eval()
    if not job.crops:  # whole frames: unsure keypoints are placed by the labels' layout
        trial.layout = fit_layout(
            [np.where(t.labeled[:, None], t.keypoints, np.nan) for t in split.train]
        )
    trial.calibration = calibrate(trial, data, rng, scales)
    errors = {
        "test_before": {**before, "split": "test"},
        "test_after": {
            **keypoint_error(trial, data.pixels, split.test, data.pck_px, scales),
            "split": "test",
        },
    }
    outcome.state = network.state_dict()
    outcome.info = round_info(
        job,
        data,
        trainer,
        ended_by,
        errors,
        parent=base_version,
        replay=replay,
        replay_threshold=s.replay_threshold,
        seconds=time.perf_counter() - started,
        init=init,
        calibration=None if trial.calibration is None else trial.calibration.to_dict(),
        layout=None if trial.layout is None else trial.layout.to_dict(),
        **jitter_info(job, jitter_before, trial, video),
        **extra,
    )
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
    model's; for a new network, :func:`~.crops.auto_input_scale`). ``steps`` or ``time_budget``
    (seconds), whichever ends first. ``validation`` and ``test`` are the shares of labeled
    frames kept apart (see the module docstring). ``jitter_frames`` consecutive frames (in
    clips; 0: none) are predicted before and after for the jitter metrics in the version's
    info; ``extra_info`` goes into it too. Every setting: :class:`~.job.RoundSettings`.
    """
    job = prepare_round(session, extra_info=extra_info, **settings)
    return commit_round(session, run_round(job, callback, control))
