"""A training round as data: what it starts from (:class:`RoundJob`) and what it gives back
(:class:`RoundOutcome`).

A round is three steps. :func:`prepare_round` takes a snapshot of the session (labels, the base
model, its stored predictions on the frames the round reads) in the process that owns the
project. :func:`~.finetune.run_round` trains; it needs nothing of the session but the job, so it
can run in this process or in a child (:mod:`.process`) while the user keeps labeling.
:func:`commit_round` writes the result back: the new model version and the base model's
predictions the round made. The project has one writer, and it is always the first process.

Example::

    job = prepare_round(session, steps=300)
    outcome = run_round(job)                 # here, or in RoundProcess(job)
    result = commit_round(session, outcome)  # the new version (None if cancelled)
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np

from ..errors import TrainingError
from ..metrics.jitter import JITTER_FRAMES, clip_frames
from .augment import AugmentSettings
from .samples import PSEUDO_THRESHOLD, REPLAY_THRESHOLD, FrameLabels, snapshot_labels

DEFAULT_LIGHT_ARCH = "light_resnet18"
TOP_DOWN_FRAME = (256, 256)  # the crops several animals train on (DeepLabCut's top-down size)


def detector_record(detector) -> dict:
    """A :class:`~..model.detector.DetectorRef` as a version records it (``project.json``)."""
    import dataclasses

    return dataclasses.asdict(detector)


@dataclass
class Progress:
    """Where a running round is, after each step (sent from a child process as JSON)."""

    step: int
    steps: int
    loss: float
    eta_seconds: float
    validation_error: float | None = None  # the latest validation error (px), when validated


PRECISIONS = ("auto", "float32")  # RoundSettings.precision


@dataclass
class RoundSettings:
    """How a round trains (see :func:`~.finetune.finetune`)."""

    steps: int | None = 300  # None: adaptation counts its own (epochs over its frames)
    time_budget: float | None = None
    lr: float = 1e-3
    batch_size: int = 8
    crop_size: int | None = None
    dist_thresh: float | None = None
    validation: float = 0.1  # share of labeled frames that stops training and picks weights
    test: float = 0.1  # share of labeled frames the reported error is measured on
    frames: list[int] | None = None
    replay: bool = True
    replay_threshold: float = REPLAY_THRESHOLD
    arch: str | None = None
    input_scale: float | None = None
    eval_every: int = 25
    patience: int = 6
    seed: int = 0
    augmentation: AugmentSettings | None = None
    jitter_frames: int = JITTER_FRAMES
    # "auto": a new network trains in bfloat16 where the CPU computes it natively (see
    # :mod:`.loop`); "float32": always float32, e.g. to compare two rounds step by step
    precision: str = "auto"


@dataclass
class Adaptation:
    """Video adaptation (see :mod:`.adapt`): pseudo-labels from the base model on ``frames``;
    ``steps`` None means ``epochs`` passes over the pseudo-labeled and labeled frames."""

    frames: list[int]
    every: int
    threshold: float = PSEUDO_THRESHOLD
    epochs: float = 4


@dataclass
class BaseModel:
    """The model a round starts from, in a form another process can load: its weights file
    when it has one that holds exactly this network, else its weights themselves."""

    arch: str
    keypoints: tuple[str, ...]
    version: str
    weights: Path | None = None
    state: dict | None = None
    #: :meth:`PoseEstimator.options <..model.inference.PoseEstimator.options>`: its input
    #: scale, detector, crops, calibration, layout, DeepLabCut's outputs
    options: dict = field(default_factory=dict)

    @property
    def input_scale(self) -> float:
        return self.options.get("input_scale", 1.0)

    @classmethod
    def of(cls, estimator, version: str) -> BaseModel:
        state = None if estimator.weights is not None else estimator.network.state_dict()
        return cls(
            estimator.network.arch.name,
            tuple(estimator.keypoints),
            version,
            estimator.weights,
            state,
            estimator.options(),
        )

    def load(self, device: str = "auto"):
        from ..model.inference import PoseEstimator, estimator_from_snapshot
        from ..model.networks import build_network

        options = self.options
        if self.weights is not None:
            return estimator_from_snapshot(
                self.weights, self.arch, self.keypoints, name=self.version, device=device, **options
            )
        network = build_network(self.arch, len(self.keypoints))
        network.load_state_dict(self.state, strict=True)
        return PoseEstimator(network, self.keypoints, device, self.version, **options)


@dataclass
class RoundJob:
    """Everything a round reads. Pickles without the live video and model (a child process
    reopens the video store read-only and loads the base model from ``base``)."""

    video_key: str
    store: str | Path
    storage_options: dict
    keypoints: tuple[str, ...]
    frame_size: tuple[int, int]
    labels: dict[int, FrameLabels]
    predictions: dict[int, np.ndarray]  # the base model's stored predictions
    needed: list[int]  # frames the round needs base predictions for (replay, jitter, pseudo)
    jitter_at: list[int]
    settings: RoundSettings
    base: BaseModel | None = None
    adaptation: Adaptation | None = None
    extra_info: dict = field(default_factory=dict)
    #: several animals (:mod:`.animals`): the crops file the round reads instead of the video,
    #: the frame each crop is of, how many frame pixels a crop pixel is, the video's size, and
    #: the detector the new version finds animals with
    crops: str | None = None
    crop_frames: list[int] = field(default_factory=list)
    crop_scales: dict[int, float] = field(default_factory=dict)
    source_size: tuple[int, int] | None = None
    detector: object = None
    _video: object = None
    _estimator: object = None

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_video"] = state["_estimator"] = None
        return state

    def video(self):
        if self._video is None and self.crops is not None:
            from .animals import CropFrames

            self._video = CropFrames(self.crops)
        if self._video is None:
            from ..video import open_video

            self._video = open_video(
                self.store, convert=False, storage_options=self.storage_options or None
            )
        return self._video

    def base_estimator(self):
        if self._estimator is None and self.base is not None:
            self._estimator = self.base.load()
        return self._estimator


@dataclass
class RoundOutcome:
    """What a round gives back: the trained weights (None if cancelled), its info, and the
    base model's predictions it made (frames, ``(N, K, 3)``), which belong in the project."""

    arch: str
    base_version: str | None
    state: dict | None
    info: dict
    predicted_frames: list[int]
    predicted: np.ndarray
    crops: str | None = None  # several animals: the base predictions are of crops, not frames
    detector: object = None  # the detector the new version finds animals with


def check_enough_frames(labeled: int, pseudo: int = 0) -> None:
    """A round needs at least 2 frames to train on (the user's, plus pseudo-labeled ones)."""
    if labeled + pseudo < 2:
        raise TrainingError(
            f"{labeled} labeled frame(s): label or accept points on at least 2 frames first"
        )


def prepare_round(session, *, adaptation: Adaptation | None = None, extra_info=None, **settings):
    """A :class:`RoundJob` for ``session`` (``settings``: the fields of :class:`RoundSettings`)."""
    known = {f.name for f in fields(RoundSettings)}
    unknown = sorted(set(settings) - known)
    if unknown:
        raise TypeError(f"unknown training settings: {', '.join(unknown)}")
    session.project.check_writable()  # a round's model could not be kept: say so first
    settings = RoundSettings(**settings)
    if settings.precision not in PRECISIONS:
        choose = ", ".join(PRECISIONS)
        raise TrainingError(f"precision={settings.precision!r}: choose one of {choose}")
    if settings.steps is None and adaptation is None:
        raise TrainingError("steps=None: give a number of steps (or a time budget and many steps)")
    if settings.frames is not None:
        settings.frames = sorted({int(f) for f in settings.frames})
    if session.individuals:
        return _prepare_animals_round(session, settings, adaptation, extra_info)
    labels = snapshot_labels(session)
    wanted = labels if settings.frames is None else set(settings.frames) & set(labels)
    user_frames = sum(1 for f in wanted if labels[f].labeled.any())
    if adaptation is None:
        check_enough_frames(user_frames)
    model, version = session.model, session.model_version
    base = None if model is None else BaseModel.of(model, version)
    needed: set[int] = set()
    jitter_at = clip_frames(len(session), settings.jitter_frames) if settings.jitter_frames else []
    if base is not None:  # memory replay (the model's view of every labeled frame) and jitter
        needed |= (set(wanted) if settings.replay else set()) | set(jitter_at)
    if adaptation is not None:
        needed |= set(adaptation.frames)
    predictions = {}
    for f in sorted(needed):
        pred = session.prediction(f)
        if pred is not None:
            predictions[f] = pred
    video = session.video
    return RoundJob(
        video_key=session.video_key,
        store=video.store_path,
        storage_options=dict(video.store.storage_options),
        keypoints=tuple(session.keypoints),
        frame_size=tuple(video.shape[1:3]),
        labels=labels,
        predictions=predictions,
        needed=sorted(needed),
        jitter_at=jitter_at,
        settings=settings,
        base=base,
        adaptation=adaptation,
        extra_info=dict(extra_info or {}),
        _video=video,
        _estimator=model,
    )


def _prepare_animals_round(session, settings, adaptation, extra_info) -> RoundJob:
    """A round on several animals' crops (see :mod:`.animals`). It trains the session's model,
    or a new ``arch`` network (a light one learns the crops from scratch; so does a project
    without a model). The new version predicts top-down: it keeps its base model's detector
    to find the animals, or, for a species without one, follows them from where they are
    known (drawn boxes, labels: :class:`~..model.tracking.Tracks` seeds)."""
    import dataclasses

    from .animals import cut_animal_crops

    model, version = session.model, session.model_version
    folder = session.project.folder / "models" / ".crops"
    if adaptation is None:
        crops = cut_animal_crops(session, folder, settings.frames)
        if len(crops.labels) < 2:
            Path(crops.path).unlink(missing_ok=True)
            raise TrainingError(
                f"{len(crops.labels)} labeled animal(s) to train on: place at least 2 points of "
                "an animal on each of 2 frames first"
            )
    else:  # pseudo-labels: every animal the model found surely on the sampled frames
        crops = cut_animal_crops(
            session, folder, settings.frames, adaptation.frames, adaptation.threshold
        )
        if not crops.pseudo:
            Path(crops.path).unlink(missing_ok=True)
            raise TrainingError(
                f"no animal has 2 keypoints scoring {adaptation.threshold} or more in the "
                f"predictions of the {len(adaptation.frames)} sampled frames (every "
                f"{adaptation.every}th): predict the video first"
            )
        adaptation = dataclasses.replace(adaptation, frames=list(crops.pseudo))
    base = None  # a new network (``arch``, default a light one) learns the crops from scratch
    if settings.arch is None and model is not None:  # the model itself, on crops (no boxes:
        # a crop is its input)
        base = BaseModel.of(model, version)
        base.options.update(detector=None, crops=False)
    settings.frames = None  # the crops are the frames now
    needed = sorted(crops.labels) if settings.replay else []
    if adaptation is not None:
        needed = sorted(set(needed) | set(crops.pseudo))
    info = {
        "top_down": True,
        "animal_crops": len(crops.labels),
        "animals_trained": sorted(set(crops.animals)),
        **dict(extra_info or {}),
    }
    return RoundJob(
        video_key=session.video_key,
        store=session.video.store_path,
        storage_options={},
        keypoints=tuple(session.keypoints),
        frame_size=TOP_DOWN_FRAME,
        labels=crops.labels,
        predictions=dict(crops.predictions),
        needed=needed,
        jitter_at=[],
        settings=settings,
        base=base,
        adaptation=adaptation,
        extra_info=info,
        crops=str(crops.path),
        crop_frames=list(crops.frames),
        crop_scales=dict(crops.scales),
        source_size=tuple(session.video.shape[1:3]),
        detector=None if model is None else model.detector,
    )


def commit_round(session, outcome: RoundOutcome):
    """Store ``outcome`` in ``session``'s project; the new version's
    :class:`~.finetune.RoundResult`, or None for a cancelled round."""
    from .finetune import RoundResult

    if outcome.crops is not None:  # the base model's predictions were of crops: not kept
        Path(outcome.crops).unlink(missing_ok=True)
    elif len(outcome.predicted_frames) and session.model_version == outcome.base_version:
        session.add_predictions(outcome.predicted_frames, outcome.predicted)
    if outcome.state is None:
        return None
    version = session.versions.next_name(outcome.arch)
    info = {**outcome.info, "created": time.time()}
    if outcome.detector is not None:  # it finds its animals as its base model did
        info["detector"] = detector_record(outcome.detector)
    from ..model.inference import export_folder
    from ..model.versions import options_from_info

    options = options_from_info(info)  # without a detector, crops are tracked from seeds
    keypoints = tuple(info["keypoints"])
    trained = BaseModel(outcome.arch, keypoints, version, None, outcome.state, options)
    estimator = trained.load(session.model.device if session.model is not None else "auto")
    estimator.weights = session.versions.save(version, estimator.network, info)
    estimator.export_dir = export_folder(estimator.weights)
    return RoundResult(version, estimator, info)
