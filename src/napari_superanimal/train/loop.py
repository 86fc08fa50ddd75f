"""The training loop of a round, in named steps: ``step`` (one batch), ``epoch`` (steps up to
the next validation), ``fit`` (epochs until the steps, the time budget, early stopping, Stop or
Cancel end it), as DeepLabCut 3's runners split theirs.

A :class:`Trainer` owns the network being trained and its optimizer; it keeps the loss of every
step, the validation error of every epoch and the weights of the best epoch (on the validation
frames only: the test frames never choose anything), which a round that ends early keeps; a round
that runs its schedule to the end keeps its last, annealed weights (:meth:`Trainer.kept_state`).

On a CPU the network trains in channels-last memory order. A new network (random or ImageNet
weights) trains with its forward pass in bfloat16 under autocast where the CPU computes it
natively (:func:`mixed_precision`); weights, optimizer, loss, validation and every prediction
stay float32, and so does a round that fine-tunes a trained model. On this project's 2-core
machine an 8-minute round of the reaching benchmark took about 1.5x the steps it took in float32
(``benchmarks/bench_finetune.py``, docs/benchmarks.md).

Example::

    trainer = Trainer(network, data, settings, rng, validate=lambda: val_error())
    ended_by = trainer.fit(steps=300, budget=60.0, control=Control())
    network.load_state_dict(trainer.kept_state(ended_by))
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from ..model.preprocess import normalize
from .augment import AugmentSettings, augment
from .crops import BACKGROUND_SHARE, crop_centre
from .job import Progress
from .samples import Sample
from .schedule import one_cycle
from .targets import gaussian_targets, weighted_mse


@dataclass
class TrainingData:
    """What the network learns from, in its own input pixels."""

    samples: list[Sample]
    images: dict[int, np.ndarray]  # frame -> frame resized by the input scale
    crop_size: int
    spread: bool  # crops centre on a random keypoint (keypoints spread wider than a crop)
    radius: float  # target radius in input pixels
    augmentation: AugmentSettings | None = None
    background: float = BACKGROUND_SHARE  # share of crops anywhere on the frame
    padding: str = "reflect"  # past the frame's edge ("constant": black, as top-down crops)


@dataclass
class LoopSettings:
    lr: float
    batch_size: int
    eval_every: int
    patience: int
    frozen_batchnorm: bool  # a trained model keeps its batch-norm statistics
    mixed: bool = False  # forward pass in bfloat16 (:func:`mixed_precision` decides)


@dataclass
class History:
    losses: list[tuple[int, float]] = field(default_factory=list)
    evals: list[tuple[int, float]] = field(default_factory=list)


MISTAKE_FRAMES = 2  # training frames looked over for mistakes after each validation


def mixed_precision(device: torch.device, precision: str = "auto", trained: bool = False) -> bool:
    """Whether a round on ``device`` runs its forward pass in bfloat16: with ``precision``
    "auto", for a new network (a ``trained`` model's round makes small corrections, in float32:
    the demo's second round, in bfloat16, moved seed 0's median error from 4.9 to 6.1 px), on
    CPUs that compute it natively (AVX-512 BF16 or AMX; emulated it would be slower)."""
    if precision != "auto" or trained or device.type != "cpu":
        return False
    return any(getattr(torch.cpu, f, lambda: False)() for f in _NATIVE_BF16)


_NATIVE_BF16 = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
MIXED = "bfloat16 forward, float32 weights"  # a round's precision, when mixed


class Trainer:
    """Trains ``network`` on ``data``; ``validate()`` gives the error that picks the best
    weights (None: the recent training loss does); ``mistakes(sample)`` gives where the network
    now places keypoints wrongly on a training sample's frame (``(n, 2)`` input pixels): a share
    of the background crops go there (:func:`~.crops.crop_centre`)."""

    def __init__(
        self,
        network: torch.nn.Module,
        data: TrainingData,
        settings: LoopSettings,
        rng: np.random.Generator,
        validate: Callable[[], float | None] | None = None,
        mistakes: Callable[[Sample], np.ndarray] | None = None,
    ):
        self.network = network
        self.data = data
        self.settings = settings
        self.rng = rng
        self.validate = validate
        self.mistakes = mistakes if data.background > 0 else None
        self.wrong_spots: dict[int, np.ndarray] = {}  # frame -> its latest mistakes
        self.device = next(network.parameters()).device
        self.channels_last = self.device.type == "cpu"
        params = [p for p in network.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(params, lr=settings.lr)
        self.history = History()
        self._best: dict | None = None
        self._best_score = np.inf
        self._since_best = 0

    # -- one batch ----------------------------------------------------------------------------
    def step(self, done: float) -> float:
        """One optimizer step at ``done`` (0-1) of the round's schedule; returns the loss."""
        s, d = self.settings, self.data
        rate, beta1 = one_cycle(s.lr, done)
        for group in self.optimizer.param_groups:
            group["lr"], group["betas"] = rate, (beta1, group["betas"][1])
        self.network.train()
        if s.frozen_batchnorm:
            _freeze_batchnorm(self.network)
        batch = [d.samples[i] for i in self.rng.integers(0, len(d.samples), s.batch_size)]
        crops, points = zip(*(self._crop(b) for b in batch), strict=True)
        inputs = normalize(np.stack(crops), deeplabcut=False).to(self.device)
        if self.channels_last:
            inputs = inputs.contiguous(memory_format=torch.channels_last)
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=s.mixed):
            out = self.network(inputs)["heatmap"]
        out = out.float()
        visible = np.stack([np.isfinite(p).all(1) for p in points])
        absent = np.stack([b.nowhere() for b in batch])
        target, weights = gaussian_targets(
            np.stack(points), visible, out.shape[-2:], self.network.stride, d.radius, absent
        )
        loss = weighted_mse(out, target.to(out.device), weights.to(out.device))
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return loss.item()

    def _crop(self, sample: Sample):
        d = self.data
        points = np.where(sample.visible[:, None], sample.keypoints, np.nan)
        image = d.images[sample.frame]
        spots = self.wrong_spots.get(sample.frame)
        centre = crop_centre(sample, d.spread, self.rng, image.shape[:2], d.background, spots)
        return augment(image, points, self.rng, d.crop_size, d.augmentation, centre, d.padding)

    # -- validation -----------------------------------------------------------------------------
    def evaluate(self, step: int) -> bool:
        """Validate after ``step``, keep the best weights; True when patience has run out."""
        self.network.eval()
        score = self.validate() if self.validate is not None else None
        if self.validate is None:
            recent = self.history.losses[-self.settings.eval_every :]
            score = float(np.mean([v for _, v in recent]))
        score = np.inf if score is None else float(score)
        self.history.evals.append((step, score))
        self.look_for_mistakes()
        if score < self._best_score:
            self._best_score, self._since_best = score, 0
            # kept in the usual memory order, whatever order the network trains in
            self._best = {
                k: v.detach().clone(memory_format=torch.contiguous_format)
                for k, v in self.network.state_dict().items()
            }
            return False
        self._since_best += 1
        return self._since_best >= self.settings.patience

    def look_for_mistakes(self) -> None:
        """Where the network now goes wrong on a few training frames (kept per frame)."""
        if self.mistakes is None:
            return
        samples = self.data.samples
        for i in self.rng.choice(len(samples), min(MISTAKE_FRAMES, len(samples)), replace=False):
            self.wrong_spots[samples[i].frame] = self.mistakes(samples[i])

    # -- many batches -----------------------------------------------------------------------------
    def epoch(self, first: int, steps: int, clock: Clock, control, callback) -> str | None:
        """Steps ``first`` .. the next validation; returns why the round ended, or None."""
        last = min(steps, first + self.settings.eval_every - 1)
        for step in range(first, last + 1):
            if control.cancel.is_set():
                return "cancel"
            if control.stop.is_set():
                return "stop"
            if clock.over() and step > 1:
                return "time"
            loss = self.step(max((step - 1) / steps, clock.fraction()))
            self.history.losses.append((step, loss))
            ended, error = None, None
            if step % self.settings.eval_every == 0 or step == steps:
                ended = "early" if self.evaluate(step) else None
                if self.validate is not None:
                    error = self.history.evals[-1][1]
            if callback is not None:
                callback(Progress(step, steps, loss, clock.remaining(step, steps), error))
            if ended:
                return ended
        return None

    def fit(self, steps: int, budget: float | None, control, callback=None) -> str:
        """Train until ``steps``, the ``budget`` (seconds), early stopping, Stop or Cancel;
        returns what ended it: ``steps``, ``time``, ``early``, ``stop`` or ``cancel``."""
        clock = Clock(budget)
        layout = torch.channels_last if self.channels_last else torch.contiguous_format
        self.network.to(memory_format=layout)
        try:
            first = 1
            while first <= steps:
                ended = self.epoch(first, steps, clock, control, callback)
                if ended is not None:
                    return ended
                first = min(steps, first + self.settings.eval_every - 1) + 1
            return "steps"
        finally:  # what is saved, exported and hashed is the network in its usual order
            self.network.to(memory_format=torch.contiguous_format)

    @property
    def precision(self) -> str:
        """How the forward pass ran, for the round's record."""
        return MIXED if self.settings.mixed else "float32"

    @property
    def steps_done(self) -> int:
        return self.history.losses[-1][0] if self.history.losses else 0

    def kept_state(self, ended_by: str) -> dict:
        """The weights to keep: the last ones when the round ran its schedule to the end
        (``steps`` or ``time``: its learning rate has annealed to almost nothing), the best
        validated ones when it ended early (``early``: patience, or ``stop``), and the current
        ones when nothing was validated yet.

        Why not the best validated ones always: on the reaching benchmark (2 validation frames,
        8-minute rounds) the best of ~150 validations came halfway through, at a high learning
        rate; weights picked on the validation frames look better on them than elsewhere, and
        the same frames calibrate the scores. With the last weights the held-out median went
        from 11.1 to 9.7 px (docs/benchmarks.md)."""
        if self._best is None or ended_by in ("steps", "time"):
            return self.network.state_dict()
        return self._best


class Clock:
    """The round's time budget (None: none), measured from the first step."""

    def __init__(self, budget: float | None):
        self.budget = budget
        self.started = time.perf_counter()

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def over(self) -> bool:
        return self.budget is not None and self.elapsed() > self.budget

    def fraction(self) -> float:
        if self.budget is None:
            return 0.0
        return self.elapsed() / self.budget if self.budget > 0 else 1.0

    def remaining(self, step: int, steps: int) -> float:
        elapsed = self.elapsed()
        left = (steps - step) * elapsed / step
        if self.budget is not None:
            left = min(left, max(0.0, self.budget - elapsed))
        return left


def _freeze_batchnorm(network: torch.nn.Module) -> None:
    for m in network.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.eval()
