"""Ingest and predict many videos on a ``dask.distributed`` cluster.

A local cluster by default; any running scheduler when given its address (so dask-jobqueue or
dask-gateway clusters on HPC work the same). Each task ingests one video, or predicts one span of
frames of one video: pure functions of their inputs, so a task lost with its worker is simply run
again (``retries``) and gives the same result. Workers never write to projects or ``.h5`` files:
the results come back to the calling process, which is the single writer. Stores are written by
the ingest tasks through the same resumable conversion as a single process uses, so a worker
killed mid-ingest leaves a store that the retry resumes.

Stores may live in local folders (on storage every worker sees) or at fsspec URLs
(``store_root="s3://lab/frames"`` puts ``a.mp4``'s store at ``s3://lab/frames/a.frames.zarr``);
workers take credentials from their environment and fsspec config, never from the task.

Example::

    from napari_superanimal.cluster import ModelSpec, predict_videos
    spec = ModelSpec("superanimal_topviewmouse", weights="superanimal_topviewmouse_hrnet_w32.pt")
    results = predict_videos(["a.mp4", "b.mp4"], spec, scheduler=None, n_workers=2)
    results = predict_videos(["a.mp4"], spec, store_root="s3://lab/frames")  # stores on S3
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .zoo.registry import DEFAULT_DETECTOR

SPAN = 256  # frames per prediction task
RETRIES = 3


@dataclass(frozen=True)
class ModelSpec:
    """What a worker needs to build the model itself (models are not shipped between processes).

    A SuperAnimal dataset name (its weights resolved on the worker, never downloaded there), or
    any snapshot of a known architecture and keypoint set: a version trained in a project
    (:meth:`of` describes a loaded model), with its input scale. A SuperAnimal model runs
    top-down as on one machine: ``detector`` is a zoo detector's name (its weights resolved on
    the worker) or a :class:`~.model.detector.DetectorRef`; None predicts whole frames."""

    name: str = "superanimal_topviewmouse"
    arch: str = "hrnet_w32"
    weights: str | None = None
    keypoints: tuple[str, ...] | None = None
    batch_size: int = 8
    input_scale: float = 1.0
    detector: object = DEFAULT_DETECTOR
    extra: dict = field(default_factory=dict, hash=False, compare=False)
    calibration: object = None  # a version's :class:`~.model.calibration.Calibration`
    layout: object = None  # a version's :class:`~.model.layout.Layout`
    deeplabcut_outputs: bool = False  # SuperAnimal's weights: DeepLabCut's decoding and scores
    crops: bool = False  # a version trained on animals' crops: top-down, with or without detector

    @classmethod
    def of(cls, estimator, batch_size: int = 8) -> ModelSpec:
        """The spec of a loaded :class:`~.model.inference.PoseEstimator` with a weights file."""
        from .errors import SessionError

        if estimator.weights is None:
            raise SessionError(
                f"{estimator.name} has no weights file (a converted or unsaved model): "
                "train a round or save it before predicting on a cluster"
            )
        where = (estimator.name, estimator.network.arch.name, str(estimator.weights))
        return cls(*where, tuple(estimator.keypoints), batch_size, **estimator.options())

    def detector_ref(self):
        """The :class:`~.model.detector.DetectorRef` the model predicts with, or None."""
        from .zoo import KEYPOINT_SETS

        if not isinstance(self.detector, str):
            return self.detector
        if self.name not in KEYPOINT_SETS:  # only a SuperAnimal dataset has a zoo detector
            return None
        from .model.detector import DetectorRef

        return DetectorRef.resolve(self.name, self.detector, download=False)

    def load(self):
        from .model.inference import OPTIONS, estimator_from_snapshot, load_model

        detector = self.detector_ref()
        if self.keypoints is not None and self.weights is not None:
            options = {**{name: getattr(self, name) for name in OPTIONS}, "detector": detector}
            return estimator_from_snapshot(
                self.weights, self.arch, self.keypoints, name=self.name, **options
            )
        model = load_model(
            self.name,
            weights=self.weights,
            device="auto",
            arch=self.arch,
            keypoints=self.keypoints,
            download=False,
            detector=None,
        )
        model.detector = detector
        return model


_MODELS: dict[ModelSpec, object] = {}  # one model per worker process and spec


def _model(spec: ModelSpec):
    if spec not in _MODELS:
        _match_torch_threads_to_worker()
        _MODELS[spec] = spec.load()
    return _MODELS[spec]


def _match_torch_threads_to_worker() -> None:
    """PyTorch would use every core in every worker process; use the worker's share."""
    try:
        from dask.distributed import get_worker

        threads = get_worker().state.nthreads
    except (ImportError, ValueError, AttributeError):
        return
    import torch

    torch.set_num_threads(max(1, int(threads)))


def ingest_task(path: str, store: str | None = None) -> str:
    """Convert one video (resuming a store a killed worker left); returns the store's path or URL.

    ``path`` may also be a frame store (folder or URL): then it is only checked to be complete.
    """
    from .video import open_video

    video = open_video(path, store=store, convert=False)
    if not video.complete:
        video.convert()
    return str(video.store_path)


def predict_task(store: str, spec: ModelSpec, start: int, stop: int) -> tuple[int, np.ndarray]:
    """Predict frames ``start:stop`` of a converted store."""
    from .video import open_video

    model = _model(spec)
    video = open_video(store, convert=False)
    # a span is judged in time with its whole video, once gathered (:func:`predict_videos`)
    poses = model.predict_video(video, range(start, stop), batch_size=spec.batch_size, flag=False)
    return start, poses


def get_client(scheduler: str | None = None, n_workers: int = 2, threads_per_worker: int = 1):
    """A client of the scheduler at ``scheduler``, or of a new local cluster of processes."""
    from dask.distributed import Client, LocalCluster

    if scheduler:
        return Client(scheduler)
    cluster = LocalCluster(
        n_workers=n_workers,
        threads_per_worker=threads_per_worker,
        processes=True,
        dashboard_address=None,
    )
    return Client(cluster)


def _owned_client(client, scheduler, n_workers):
    if client is not None:
        return client, False
    return get_client(scheduler, n_workers), True


def store_locations(
    paths: Sequence[str | os.PathLike], store_root: str | os.PathLike | None = None
) -> list[str | None]:
    """Each video's store under ``store_root`` (``<root>/<stem>.frames.zarr``), or None for the
    default beside the video; refuses two videos that would share one store."""
    from .errors import StoreError
    from .video.location import is_url, store_in
    from .video.store import STORE_SUFFIX

    if store_root is None:
        return [None] * len(paths)
    out: list[str | None] = []
    seen: dict[str, str] = {}
    for p in paths:
        if is_url(p) or str(p).rstrip("/").endswith(STORE_SUFFIX):  # already a store
            out.append(None)
            continue
        store = str(store_in(store_root, p))
        if store in seen:
            raise StoreError(f"{p} and {seen[store]} would share the store {store}: rename one")
        seen[store] = str(p)
        out.append(store)
    return out


def _task_path(path: str | os.PathLike) -> str:
    """An absolute path (workers may run elsewhere), or a URL as given."""
    from .video.location import is_url

    return str(path) if is_url(path) else str(Path(path).resolve())


def ingest_videos(
    paths: Sequence[str | os.PathLike],
    client=None,
    scheduler: str | None = None,
    n_workers: int = 2,
    store_root: str | os.PathLike | None = None,
) -> list[str]:
    """Convert every video into its frame store, one task per video; returns the stores' paths
    or URLs. ``store_root`` (a folder or fsspec URL) holds the stores instead of each video's
    folder."""
    stores = store_locations(paths, store_root)
    client, owned = _owned_client(client, scheduler, n_workers)
    try:
        futures = [
            client.submit(ingest_task, _task_path(p), store, retries=RETRIES, pure=False)
            for p, store in zip(paths, stores, strict=True)
        ]
        return client.gather(futures)
    finally:
        if owned:
            _close(client)


def predict_videos(
    paths: Sequence[str | os.PathLike],
    spec: ModelSpec,
    client=None,
    scheduler: str | None = None,
    n_workers: int = 2,
    span: int = SPAN,
    progress: Callable[[int, int], None] | None = None,
    store_root: str | os.PathLike | None = None,
) -> dict[str, np.ndarray]:
    """Ingest then predict every frame of every video; returns ``{video path: (T, K, 3)}``.

    ``paths`` may be videos or frame stores (folders or URLs); ``store_root`` is where new
    stores go (see :func:`ingest_videos`).
    """
    from dask.distributed import as_completed

    from .video import open_video

    client, owned = _owned_client(client, scheduler, n_workers)
    try:
        stores = ingest_videos(paths, client=client, store_root=store_root)
        lengths = [len(open_video(s, convert=False)) for s in stores]
        futures = {}
        for path, store, n in zip(paths, stores, lengths, strict=True):
            for start in range(0, n, span):
                f = client.submit(
                    predict_task,
                    store,
                    spec,
                    start,
                    min(start + span, n),
                    retries=RETRIES,
                    pure=False,
                )
                futures[f] = str(path)
        length_of = {str(p): n for p, n in zip(paths, lengths, strict=True)}
        out: dict[str, np.ndarray] = {}
        total, done = sum(lengths), 0
        for future in as_completed(futures):
            start, poses = future.result()
            path = futures[future]
            if path not in out:
                out[path] = np.full((length_of[path], poses.shape[1], 3), np.nan, np.float32)
            out[path][start : start + len(poses)] = poses
            done += len(poses)
            if progress is not None:
                progress(done, total)
        if not spec.deeplabcut_outputs:  # as one process flags a video (:mod:`.model.motion`)
            from .model.motion import flag_implausible

            out = {p: flag_implausible(v[:, None], range(len(v)))[:, 0] for p, v in out.items()}
        return out
    finally:
        if owned:
            _close(client)


def _close(client) -> None:
    cluster = client.cluster
    client.close()
    if cluster is not None:
        cluster.close()
