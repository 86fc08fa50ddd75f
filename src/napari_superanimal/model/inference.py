"""Run a pose network on frames: full frame or top-down crops, batched, in inference mode.

:func:`load_model` gives a :class:`PoseEstimator`, the object Jupyter, the CLI, napari and dask
workers all use. ``predict(frames)`` takes uint8 RGB ``(N, H, W, 3)`` and returns ``(N, K, 3)``
rows of x, y, score in frame pixels.

SuperAnimal models run as DeepLabCut 3 runs them: top-down, on a 256x256 crop around the box
their zoo detector finds (``fasterrcnn_resnet50_fpn_v2`` unless ``detector=`` names another;
``detector=None`` predicts whole frames). Every prediction path (``predict``,
``predict_video``, and so Session, the CLI, cluster workers, adaptation and training rounds)
takes the model's own boxes unless given others: ``boxes="frame"`` forces whole frames.

On a CPU the forward pass runs in ONNX Runtime (:mod:`.runtime`): the first prediction runs
PyTorch, the network is exported in the background (cached per weights), and ONNX Runtime takes
over once its keypoints match PyTorch's on a real batch. ``engine="torch"`` (or
``$NAPARI_SUPERANIMAL_ENGINE=torch``) keeps PyTorch; training and GPUs always use it.

Example::

    from napari_superanimal.model.inference import load_model
    model = load_model("superanimal_topviewmouse", weights="superanimal_topviewmouse_hrnet_w32.pt")
    model.keypoints[:2], model.predict(frames).shape      # ('nose', 'left_ear'), (N, 27, 3)
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch

from ..zoo import get_entry, resolve_weights
from ..zoo.registry import DEFAULT_DETECTOR
from .boxes import BoxSource, DetectorBoxes, RoiBoxes
from .checkpoint import load_snapshot
from .decode import decode_heatmaps
from .motion import flag_implausible
from .networks import PoseModel, build_network
from .preprocess import (
    crop_corners,
    crop_with_context,
    input_to_frame,
    normalize,
    pad_to_multiple,
    rescale_frames,
)
from .runtime import choose_engine

TOP_DOWN_SIZE = (256, 256)
FULL_FRAME = "frame"  # ``boxes=FULL_FRAME``: whole frames even for a model with a detector


def pick_device(device: str | torch.device | None = "auto") -> torch.device:
    """``"auto"``: CUDA when present, else the CPU."""
    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


#: what, beside its weights, makes a model predict as it does (:meth:`PoseEstimator.options`)
OPTIONS = ("input_scale", "detector", "crops", "calibration", "deeplabcut_outputs", "layout")


class PoseEstimator:
    """A pose network with its keypoint names, ready for inference."""

    def __init__(
        self,
        network: PoseModel,
        keypoints: Iterable[str],
        device="auto",
        name: str = "",
        weights: str | os.PathLike | None = None,
        optimize: bool = False,
        input_scale: float = 1.0,
        detector=None,
        crops: bool = False,
        calibration=None,
        deeplabcut_outputs: bool = False,
        engine: str | None = None,
        layout=None,
        export_dir: str | os.PathLike | None = None,
    ):
        if not 0 < input_scale <= 4:
            raise ValueError(f"input_scale must be in (0, 4], got {input_scale}")
        self.keypoints = tuple(keypoints)
        if len(self.keypoints) != network.num_keypoints:
            raise ValueError(
                f"{len(self.keypoints)} keypoint names for a network with "
                f"{network.num_keypoints} outputs"
            )
        self.device = pick_device(device)
        self.network = network.to(self.device).eval()
        self.name = name or network.arch.name
        self.weights = Path(weights) if weights is not None else None
        self.optimize = optimize
        self.input_scale = float(input_scale)
        #: a :class:`~.detector.DetectorRef` (top-down: crops around its boxes) or None
        self.detector = detector
        #: trained here on crops around each animal (a round on several animals): it predicts
        #: top-down even without a detector, on boxes tracked from seeds
        self.crops = bool(crops)
        #: a :class:`~.calibration.Calibration` of its scores (a model trained here), or None:
        #: raw heatmap peaks, as DeepLabCut reports them
        self.calibration = calibration
        #: a :class:`~.layout.Layout` of its training labels (a model trained here), or None:
        #: on a whole frame an unsure keypoint is looked for where the sure ones place it
        self.layout = layout
        #: outputs exactly as DeepLabCut computes them (SuperAnimal models): a whole frame's
        #: peak is taken over its padding too, and a video's scores stay raw. Otherwise (a
        #: model trained here) keypoints peak on the frame only, and on a video a spike or a
        #: keypoint stuck while its animal moves is flagged (:mod:`.motion`)
        self.deeplabcut_outputs = bool(deeplabcut_outputs)
        engine = choose_engine(engine)
        #: ``"auto"`` (default, or ``$NAPARI_SUPERANIMAL_ENGINE``): on a CPU, ONNX Runtime once
        #: the network is exported and checked (:mod:`.runtime`), PyTorch until then;
        #: ``"torch"``: PyTorch only (training; or set the variable for every model)
        self.engine = engine
        #: where the exported graph is cached (default: the user cache's ``onnx`` folder)
        self.export_dir = Path(export_dir) if export_dir is not None else None
        self._fast: torch.nn.Module | None = None
        self._onnx = None

    def options(self) -> dict:
        """What, beside its network's weights, makes this model predict as it does: the
        keyword arguments of :func:`estimator_from_snapshot` another process (a round's
        child, a cluster worker) rebuilds it with."""
        return {name: getattr(self, name) for name in OPTIONS}

    @property
    def top_down(self) -> bool:
        """Whether predictions crop around the animals' boxes by default (its detector's, or
        tracked from where the animals are known: :class:`~.tracking.Tracks`)."""
        return self.detector is not None or self.crops

    def tracks(self, n_animals: int, seeds=None, every: int | None = None):
        """:class:`~.tracking.Tracks` for this model: its detector's (every ``every`` frames,
        default the detector's), seeded by ``seeds`` ``{frame: (n_animals, 4)}`` where given;
        seeds alone without a detector."""
        from .tracking import Tracks

        if self.detector is None:
            if not seeds:
                raise self._no_boxes()
            return Tracks(None, n_animals, seeds=seeds)
        detector = self.detector.load(self.device)
        return Tracks(detector, n_animals, every=every or self.detector.every, seeds=seeds)

    def _no_boxes(self) -> ValueError:
        return ValueError(
            f"{self.name} sees animals in boxes and has no detector: draw a box around each "
            "animal, or label them on a frame"
        )

    def box_source(self, boxes=None, video: bool = False) -> BoxSource | None:
        """What ``boxes`` means for this model: None, the model's own (its detector's best
        box, or whole frames without one; on a ``video``, the detector's animal followed from
        frame to frame, :class:`~.tracking.Tracks`); :data:`FULL_FRAME`, whole frames; a
        region ``(x, y, w, h)``; or a :class:`~.boxes.BoxSource`. None from here: whole
        frames."""
        if boxes is None:
            if not self.top_down:
                return None
            if video:
                return self.tracks(1)
            if self.detector is None:
                raise self._no_boxes()
            return DetectorBoxes(self.detector.load(self.device))
        if isinstance(boxes, str):
            if boxes != FULL_FRAME:
                raise ValueError(f"boxes={boxes!r}: give {FULL_FRAME!r}, a region or a source")
            return None
        if isinstance(boxes, BoxSource):
            return boxes
        return RoiBoxes(boxes)

    def weights_changed(self) -> None:
        """Call after changing ``network``'s weights: rebuilds the fused copy and the export."""
        self._fast = None
        self._onnx = None

    def onnx_engine(self):
        """The :class:`~.runtime.OnnxEngine` serving this model on the CPU, or None (PyTorch
        only: ``engine="torch"``, a GPU, ``optimize``, or an architecture ONNX Runtime does
        not speed up, ``Architecture.onnx_runtime``)."""
        if self.engine != "auto" or self.device.type != "cpu" or self.optimize:
            return None
        if not self.network.arch.onnx_runtime:
            return None
        if self._onnx is None:
            from ..video.video import cache_dir
            from .runtime import OnnxEngine

            folder = self.export_dir or cache_dir() / "onnx"
            self._onnx = OnnxEngine(self.network, folder, self.name)
        return self._onnx

    def _runner(self) -> torch.nn.Module:
        """The module inference runs: the network itself, or with ``optimize`` on the CPU a copy
        with batch norm folded into the convolutions, in channels-last layout (~1.1x faster
        for HRNet-W32 on 256x256 crops here; heatmaps differ by ~3e-5 of their range, so it
        is off by default: default outputs follow DeepLabCut's arithmetic)."""
        if not self.optimize or self.device.type != "cpu":
            return _Outputs(self.network)
        if self._fast is None:
            from torch.fx.experimental.optimization import fuse

            fused = fuse(_Outputs(copy.deepcopy(self.network)).eval())
            self._fast = fused.to(memory_format=torch.channels_last)
        return self._fast

    def __repr__(self) -> str:
        return f"<PoseEstimator {self.name} ({len(self.keypoints)} keypoints) on {self.device}>"

    @torch.inference_mode()
    def heatmaps(self, batch: torch.Tensor) -> torch.Tensor:
        """Raw heatmaps for a normalised ``(N, 3, H, W)`` batch."""
        return self.network(batch.to(self.device))["heatmap"].float().cpu()

    @torch.inference_mode()
    def _keypoints(
        self, batch: torch.Tensor, subpixel: bool, extent=None, frame_size=None
    ) -> np.ndarray:
        """Network + decoding: input-pixel keypoints ``(N, K, 3)`` for a normalised batch
        (peaks inside ``extent``, height and width, if given); with ``frame_size`` (height,
        width of whole frames the batch shows at :attr:`input_scale`) unsure keypoints are
        placed by :attr:`layout`."""

        def decode(outputs) -> np.ndarray:
            heatmap, locref = outputs
            heatmap = heatmap.float().cpu()
            out = decode_heatmaps(
                heatmap,
                self.network.stride,
                subpixel=subpixel,
                locref=None if locref is None else locref.float().cpu(),
                locref_std=self.network.arch.locref_std,
                extent=extent,
            ).numpy()
            if self.layout is None or frame_size is None:
                return out
            return self.layout.refine(
                heatmap.numpy(), out, self.network.stride, frame_size, self.input_scale
            )

        engine = self.onnx_engine()
        if engine is None:
            return decode(self._torch_outputs(batch))
        return decode(engine.outputs(batch, self._torch_outputs, decode))

    def _torch_outputs(self, batch: torch.Tensor):
        """``(heatmap, locref or None)`` from PyTorch."""
        batch = batch.to(self.device)
        if self.optimize and self.device.type == "cpu":
            batch = batch.contiguous(memory_format=torch.channels_last)
        return self._runner()(batch)

    def predict(
        self,
        frames: np.ndarray,
        boxes: np.ndarray | None = None,
        batch_size: int = 8,
        subpixel: bool | None = None,
    ) -> np.ndarray:
        """Keypoints ``(N, K, 3)`` (x, y, score) in frame pixels for ``(N, H, W, 3)`` frames.

        With ``boxes`` (``(N, 4)`` x, y, w, h, one per frame) the network sees a 256x256 crop
        with context around each; a frame whose box is NaN gets NaN keypoints with score 0.
        Without them a top-down model takes its detector's best box on each frame; any other
        model, or ``boxes="frame"``, sees each whole frame (resized by ``input_scale``,
        mirror-padded to a multiple of 32). ``subpixel`` (default: for models trained here,
        not for SuperAnimal's DeepLabCut outputs) refines each peak between heatmap cells.
        """
        if subpixel is None:
            subpixel = not self.deeplabcut_outputs
        frames = np.asarray(frames)
        if frames.ndim == 3:
            return self.predict(
                frames[None],
                boxes if boxes is None or isinstance(boxes, str) else np.asarray(boxes)[None],
                batch_size,
                subpixel,
            )[0]
        if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
            raise ValueError(
                f"frames must be uint8 (N, H, W, 3), got {frames.dtype} {frames.shape}"
            )
        if boxes is None or isinstance(boxes, str):
            source = self.box_source(boxes)
            boxes = None if source is None else source.boxes(frames)
        out = np.empty((len(frames), len(self.keypoints), 3), np.float32)
        for start in range(0, len(frames), batch_size):
            stop = min(start + batch_size, len(frames))
            if boxes is None:
                out[start:stop] = self._predict_full(frames[start:stop], subpixel)
            else:
                out[start:stop] = self._predict_crops(
                    frames[start:stop], np.asarray(boxes)[start:stop], subpixel
                )
        if self.calibration is not None:
            out[..., 2] = self.calibration(out[..., 2])
        return out

    def _normalize(self, frames: np.ndarray) -> torch.Tensor:
        """DeepLabCut's input bits for its models, the project's own for networks trained here
        (:func:`~.preprocess.normalize`)."""
        return normalize(frames, deeplabcut=self.deeplabcut_outputs)

    def _predict_full(self, frames: np.ndarray, subpixel: bool) -> np.ndarray:
        # ``input_scale``: the network was trained on frames resized by it (a light network
        # trained from scratch on large frames sees more of the animal per pixel of its input)
        scale = self.input_scale
        seen = rescale_frames(frames, scale)
        extent = None if self.deeplabcut_outputs else seen.shape[1:3]
        batch = self._normalize(pad_to_multiple(seen, 32))
        out = self._keypoints(batch, subpixel, extent, frames.shape[1:3])
        return input_to_frame(out, frames.shape[1:3], scale)

    def _predict_crops(self, frames: np.ndarray, boxes: np.ndarray, subpixel: bool) -> np.ndarray:
        out = np.full((len(frames), len(self.keypoints), 3), np.nan, np.float32)
        # no box, or one under a pixel (DeepLabCut raises on its empty crop): no animal,
        # keypoints NaN with score 0
        out[..., 2] = 0.0
        found = [
            i
            for i, b in enumerate(boxes)
            if np.isfinite(b).all() and b[2] > 0 and b[3] > 0 and crop_corners(b) is not None
        ]
        if not found:
            return out
        crops, transforms = zip(
            *(crop_with_context(frames[i], boxes[i], TOP_DOWN_SIZE) for i in found), strict=True
        )
        pred = self._keypoints(self._normalize(np.stack(crops)), subpixel)
        out[found] = np.stack([t.to_frame(p) for t, p in zip(transforms, pred, strict=True)])
        return out

    def predict_video(
        self,
        video,
        frames: Iterable[int] | None = None,
        batch_size: int = 8,
        progress: Callable[[int, int], None] | None = None,
        boxes: BoxSource | tuple | str | None = None,
        flag: bool = True,
    ) -> np.ndarray:
        """Predict frames of a :class:`~napari_superanimal.video.Video` (all by default).

        ``boxes`` is ``None`` (the model's own: its detector's animal, followed from frame to
        frame and detected again every ``detector.every`` frames or when lost; whole frames
        without a detector), ``"frame"`` (whole frames), a region ``(x, y, w, h)`` or a
        :class:`~napari_superanimal.model.boxes.BoxSource`. The next batch is read (from the
        store or the source) in a thread while the network runs on the current one. A model
        trained here flags what the frames in time show to be wrong (:mod:`.motion`) unless
        ``flag`` is False (a caller that judges a longer run itself). Returns
        ``(len(frames), K, 3)``.
        """
        source = self.box_source(boxes, video=True)
        poses = self._follow(video, frames, batch_size, progress, source, flag)
        if poses.shape[1] != 1:
            raise ValueError("these boxes hold several animals a frame: use predict_animals")
        return poses[:, 0]

    def predict_animals(
        self,
        video,
        n_animals: int,
        frames: Iterable[int] | None = None,
        every: int | None = None,
        progress: Callable[[int, int], None] | None = None,
        tracks=None,
    ) -> np.ndarray:
        """Keypoints of up to ``n_animals`` animals on frames of a video, ``(len(frames),
        n_animals, K, 3)``, each animal in the same row on every frame (NaN, score 0: not
        there). The detector runs every ``every`` frames (default: the detector's) and when an
        animal is lost (:class:`~.tracking.Tracks`, or pass your own ``tracks``)."""
        if tracks is None:
            if self.detector is None:
                raise ValueError(f"{self.name} has no detector: it cannot find several animals")
            tracks = self.tracks(n_animals, every=every)
        return self._follow(video, frames, 1, progress, tracks)

    def _follow(self, video, frames, batch_size, progress, boxes, flag=True) -> np.ndarray:
        """``(len(frames), A, K, 3)``: whole frames (A = 1), or crops around the boxes of
        ``boxes`` (A of them a frame)."""
        if boxes is not None and boxes.sequential:
            batch_size = 1
        indices = np.arange(len(video)) if frames is None else np.asarray(list(frames), int)
        batches = [indices[i : i + batch_size] for i in range(0, len(indices), batch_size)]
        out: np.ndarray | None = None
        previous = None

        def read(batch: np.ndarray) -> np.ndarray:
            return np.stack([video.read_frame(int(i)) for i in batch])

        with ThreadPoolExecutor(1, thread_name_prefix="frame-prefetch") as pool:
            pending = pool.submit(read, batches[0]) if batches else None
            done = 0
            for b, batch in enumerate(batches):
                pixels = pending.result()
                if b + 1 < len(batches):
                    pending = pool.submit(read, batches[b + 1])
                if boxes is None:
                    poses = self.predict(pixels, FULL_FRAME, batch_size=len(batch))[:, None]
                else:
                    if boxes.sequential and previous is not None and abs(batch[0] - previous) != 1:
                        boxes.restart()  # a jump: the animal is not where it was (tracks run
                        # forwards or backwards in time)
                    previous = int(batch[-1])
                    boxes.seek(int(batch[0]))
                    found = np.asarray(boxes.boxes(pixels)).reshape(len(batch), -1, 4)
                    per = found.shape[1]
                    seen = pixels if per == 1 else np.repeat(pixels, per, axis=0)
                    poses = self.predict(seen, found.reshape(-1, 4), per * len(batch))
                    boxes.update(poses)
                    poses = poses.reshape(len(batch), per, *poses.shape[1:])
                if out is None:
                    out = np.empty((len(indices), *poses.shape[1:]), np.float32)
                out[done : done + len(batch)] = poses
                done += len(batch)
                if progress is not None:
                    progress(done, len(indices))
        if out is None:
            return np.empty((0, 1, len(self.keypoints), 3), np.float32)
        if flag and not self.deeplabcut_outputs:  # what the video says (:mod:`.motion`)
            out = flag_implausible(out, indices)
        return out


class _Outputs(torch.nn.Module):
    """The network with a tuple output ``(heatmap, locref or None)``, traceable by torch.fx."""

    def __init__(self, network: PoseModel):
        super().__init__()
        self.network = network

    def forward(self, x: torch.Tensor):
        out = self.network(x)
        return out["heatmap"], out.get("locref")


def estimator_from_snapshot(
    path: str | os.PathLike,
    arch: str,
    keypoints: Iterable[str],
    *,
    name: str = "",
    input_scale: float = 1.0,
    device: str = "auto",
    detector=None,
    crops: bool = False,
    calibration=None,
    deeplabcut_outputs: bool = False,
    layout=None,
) -> PoseEstimator:
    """A :class:`PoseEstimator` for a snapshot of a known architecture and keypoint set (a
    version trained in a project, or a training round's base model); ``detector`` (a
    :class:`~.detector.DetectorRef`) or ``crops`` (trained on animals' crops) make it
    top-down; ``calibration`` (:class:`~.calibration.Calibration`) maps its scores;
    ``layout`` (:class:`~.layout.Layout`) places its unsure keypoints on whole frames;
    ``deeplabcut_outputs`` for SuperAnimal weights (see :class:`PoseEstimator`)."""
    names = tuple(keypoints)
    network = build_network(arch, len(names))
    load_snapshot(path, network)
    return PoseEstimator(
        network,
        names,
        device,
        name or Path(path).stem,
        weights=path,
        input_scale=input_scale,
        detector=detector,
        crops=crops,
        calibration=calibration,
        deeplabcut_outputs=deeplabcut_outputs,
        export_dir=export_folder(path),
        layout=layout,
    )


def export_folder(snapshot: str | os.PathLike) -> Path | None:
    """Where a project version's exported graph lives: beside its snapshot
    (``models/<version>/onnx``). None (the user cache) for any other file, such as the zoo's
    weights in the Hugging Face cache, or a read-only project."""
    folder = Path(snapshot).resolve().parent
    if folder.parent.name != "models" or not os.access(folder, os.W_OK):
        return None
    return folder / "onnx"


def load_model(
    name: str = "superanimal_topviewmouse",
    weights: str | os.PathLike | None = None,
    device: str = "auto",
    arch: str = "hrnet_w32",
    keypoints: Iterable[str] | None = None,
    download: bool = True,
    detector: str | None = DEFAULT_DETECTOR,
    detector_weights: str | os.PathLike | None = None,
) -> PoseEstimator:
    """Load a SuperAnimal model (or a light/custom one) ready to ``predict``.

    ``name`` is a SuperAnimal dataset (``superanimal_topviewmouse``, ``superanimal_quadruped``):
    its keypoints are known and its weights are resolved (``weights`` path, local caches, then
    the hub), and so are its ``detector``'s (``detector_weights``): it runs top-down as in
    DeepLabCut, unless ``detector=None`` (whole frames). For any other name pass ``keypoints``
    and, for trained weights, ``weights``; without weights the network is randomly initialised
    (for training from scratch).
    """
    ref = None
    if name.startswith("superanimal_"):
        entry = get_entry(name, arch)
        names = tuple(keypoints) if keypoints is not None else entry.keypoints
        path = resolve_weights(entry.weights, weights, download=download)
        if detector is not None:
            from .detector import DetectorRef

            ref = DetectorRef.resolve(name, detector, detector_weights, download=download)
    else:
        if keypoints is None:
            raise ValueError(f"{name!r} is not a SuperAnimal model: pass keypoints=[...]")
        names = tuple(keypoints)
        path = Path(weights) if weights is not None else None
    network = build_network(arch, len(names))
    if path is not None:
        load_snapshot(path, network)
    return PoseEstimator(
        network,
        names,
        device=device,
        name=f"{name}_{arch}",
        weights=path,
        detector=ref,
        deeplabcut_outputs=name.startswith("superanimal_"),  # parity with DeepLabCut
    )
