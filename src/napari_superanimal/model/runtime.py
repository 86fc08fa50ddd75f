"""CPU inference through ONNX Runtime: the same network, exported once per weights.

On a CPU, HRNet-W32's forward pass and decoding run 1.49x faster (256x256 crop) and 1.43x
(640x480 frame) in ONNX Runtime than in PyTorch here (``benchmarks/bench_onnx.py``; other
architectures were no faster: ``Architecture.onnx_runtime``). :class:`OnnxEngine` gives
:class:`~.inference.PoseEstimator` that forward pass:

- **Export in the background.** The first prediction runs PyTorch; then a child process
  exports the network (opset 17, dynamic batch, height and width) while PyTorch keeps serving
  (in-process, the exporter would hold Python's lock for up to a second: a frozen viewer).
- **Cached per weights.** The graph is named by a hash of the weights' content (and of what
  shapes the export), stored in ``directory``, and carries that key in its metadata: a graph
  whose key does not match is exported again, never used.
- **Checked before use.** The first batch ONNX Runtime could serve runs through both engines;
  ONNX Runtime takes over only if its heatmaps agree with PyTorch's (:data:`HEATMAP_TOLERANCE`),
  every keypoint lands within :data:`PIXEL_TOLERANCE` and every score within
  :data:`SCORE_TOLERANCE` of PyTorch's (a keypoint whose two best heatmap cells differ by less
  than that tolerance is a tie either answer is right for).
  Otherwise, or if the export fails, PyTorch stays and the reason is given once, as a warning.

The detector's convolutions are served the same way (:mod:`.detector_runtime`).

Example::

    engine = OnnxEngine(network, cache_dir() / "onnx", name="superanimal_topviewmouse_hrnet_w32")
    heatmap, locref = engine.outputs(batch, torch_forward, decode)   # torch until it is ready
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from ..atomic import atomic_path

OPSET = 17
#: bump when the exported graph changes for the same weights (the key changes with it)
EXPORT_FORMAT = 1
KEY_FIELD = "napari_superanimal.weights_key"
ENGINES = ("auto", "torch")
ENGINE_ENV = "NAPARI_SUPERANIMAL_ENGINE"
PIXEL_TOLERANCE = 1e-3
SCORE_TOLERANCE = 1e-4
#: heatmaps agree within this share of their largest value (at least 1)
HEATMAP_TOLERANCE = 1e-4

Outputs = tuple[torch.Tensor, torch.Tensor | None]


def choose_engine(engine: str | None) -> str:
    """``engine``, else ``$NAPARI_SUPERANIMAL_ENGINE``, else ``"auto"``; checked."""
    engine = engine or os.environ.get(ENGINE_ENV) or "auto"
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")
    return engine


def available() -> str | None:
    """None if ONNX Runtime can run here, else why not."""
    try:
        import onnxruntime  # noqa: F401
    except ImportError as e:
        return f"onnxruntime is not installed ({e})"
    return None


def weights_key(network: torch.nn.Module) -> str:
    """A hash of the network's weights and of what the export depends on."""
    h = hashlib.blake2b(digest_size=16)
    arch = getattr(network, "arch", None)
    h.update(f"{EXPORT_FORMAT}|{OPSET}|{torch.__version__}|{arch}".encode())
    for name, tensor in network.state_dict().items():
        t = tensor.detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}".encode())
        h.update((t.float() if t.dtype == torch.bfloat16 else t).numpy().data)
    return h.hexdigest()


class _Graph(torch.nn.Module):
    """What is exported: heatmaps, and location refinement where the network has it."""

    def __init__(self, network: torch.nn.Module):
        super().__init__()
        self.network = network

    def forward(self, x: torch.Tensor):
        out = self.network(x)
        if out.get("locref") is None:
            return out["heatmap"]
        return out["heatmap"], out["locref"]


def export(network: torch.nn.Module, path: Path, key: str) -> None:
    """Write ``network`` (a CPU :class:`~.networks.PoseModel`, put in eval mode) as an ONNX
    graph carrying ``key``."""
    outputs = ["heatmap", "locref"] if network.arch.locref else ["heatmap"]
    write_graph(_Graph(network).eval(), torch.zeros(1, 3, 256, 256), path, key, outputs, (0, 2, 3))


def write_graph(
    module: torch.nn.Module,
    example: torch.Tensor,
    path: Path,
    key: str,
    outputs: list[str],
    dynamic: tuple[int, ...],
) -> None:
    """Export ``module`` on ``example`` (its ``dynamic`` axes free) as a graph named
    ``input`` -> ``outputs`` carrying ``key``, written atomically."""
    import onnx

    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer and exporter chatter
        torch.onnx.export(
            module,
            (example,),
            str(tmp),
            dynamo=False,  # TorchScript exporter: seconds, where dynamo takes ~30 s for HRNet
            opset_version=OPSET,
            input_names=["input"],
            output_names=outputs,
            dynamic_axes={"input": {axis: f"d{axis}" for axis in dynamic}},
        )
        model = onnx.load(str(tmp))
        onnx.helper.set_model_props(model, {KEY_FIELD: key})
        onnx.save(model, str(tmp))


def export_in_child(network: torch.nn.Module, path: Path, key: str, build: list[str]) -> None:
    """Export ``network`` to ``path`` (and the files beside it that its kind writes) in a child
    process, at low priority: tracing and the exporter's passes hold Python's lock for up to a
    second at a time, which would freeze a viewer. The child gets the weights as arrays
    (written without holding the lock long) and rebuilds the network from ``build``: ``["pose",
    arch, keypoints]`` or ``["detector", variant]``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=".export-") as tmp:
        state = Path(tmp) / "state.npz"
        np.savez(state, **{k: v.detach().cpu().numpy() for k, v in network.state_dict().items()})
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        command = [sys.executable, "-m", __name__, str(state), str(path), key, *build]
        child = subprocess.run(command, capture_output=True, text=True, env=env, timeout=1800)
    if child.returncode:
        lines = child.stderr.strip().splitlines() or [f"exit status {child.returncode}"]
        raise RuntimeError(lines[-1])


def _export_main(argv: list[str]) -> None:
    """The child's side of :func:`export_in_child`."""
    state_path, path, key, kind, *build = argv
    with contextlib.suppress(OSError):
        os.nice(10)  # the viewer and the predictions come first
    torch.set_num_threads(1)
    if kind == "pose":
        from .networks import build_network

        network, write = build_network(build[0], int(build[1])), export
    else:
        from .detector import DetectorNetwork
        from .detector_runtime import export_detector

        network, write = DetectorNetwork(build[0]), export_detector
    with np.load(state_path) as state:
        network.load_state_dict({name: torch.from_numpy(state[name]) for name in state.files})
    write(network.eval(), Path(path), key)


def open_session(path: Path, key: str, threads: int):
    """An ONNX Runtime CPU session for ``path``, or None if the graph is not ``key``'s."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    # no busy-waiting between runs: the threads would take the cores from PyTorch's decoding
    # and from the viewer between frames
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    if session.get_modelmeta().custom_metadata_map.get(KEY_FIELD) != key:
        return None
    return session


def compare(
    torch_out: Outputs, onnx_out: Outputs, decode: Callable[[Outputs], np.ndarray]
) -> str | None:
    """None if the decoded keypoints agree (ties apart), else how they differ."""
    a, b = decode(torch_out), decode(onnx_out)
    scores = float(np.abs(a[..., 2] - b[..., 2]).max(initial=0))
    if scores > SCORE_TOLERANCE:
        return f"scores differ from PyTorch's by {scores:.2g}"
    hm_t, hm_o = torch_out[0].flatten(2).float(), onnx_out[0].flatten(2).float()
    # float32 sums in another order: differences grow with the values summed
    noise = HEATMAP_TOLERANCE * max(1.0, float(hm_t.abs().max()))
    heatmaps = float((hm_t - hm_o).abs().max())
    if heatmaps > noise:
        return f"heatmaps differ from PyTorch's by {heatmaps:.2g}"
    distance = np.hypot(*(a[..., :2] - b[..., :2]).transpose(2, 0, 1))
    at_other = hm_t.gather(-1, hm_o.argmax(-1, keepdim=True))[..., 0]
    tie = (hm_t.max(-1).values - at_other <= noise).numpy()
    wrong = (distance > PIXEL_TOLERANCE) & ~tie
    if wrong.any():
        far = float(distance[wrong].max())
        return f"{int(wrong.sum())} keypoints differ from PyTorch's (up to {far:.3g} px)"
    return None


class OnnxEngine:
    """ONNX Runtime serving a pose network's forward pass once exported and checked.

    Subclasses serve other networks: they say which graphs the export writes
    (:meth:`graph_paths`), how the export child rebuilds the network (:meth:`build`), and
    serve through :meth:`serve`."""

    def __init__(self, network: torch.nn.Module, directory: str | os.PathLike, name: str):
        self.network = network
        self.directory = Path(directory)
        self.name = name
        #: one ONNX Runtime session per graph of :meth:`graph_paths`, once ready
        self.sessions: list | None = None
        #: why PyTorch serves for good (export or check failed), or None
        self.failed: str | None = available()
        self.checked = False
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._told = False
        self._threads = 1
        self._exported: tuple[int, ...] = ()
        self._tensors: list[torch.Tensor] = []

    @property
    def session(self):
        """The (first) graph's session, or None before it is ready."""
        return self.sessions[0] if self.sessions else None

    @property
    def serving(self) -> bool:
        """Whether ONNX Runtime answers (exported and checked)."""
        return self.sessions is not None and self.checked

    def build(self) -> list[str]:
        """How the export child rebuilds the network (:func:`export_in_child`)."""
        from .networks import ARCHITECTURES

        arch = getattr(self.network, "arch", None)
        if arch is None or arch.name not in ARCHITECTURES:
            raise ValueError(f"only the known architectures export ({sorted(ARCHITECTURES)})")
        return ["pose", arch.name, str(self.network.num_keypoints)]

    def graph_paths(self, key: str) -> list[Path]:
        """The graphs the export writes for weights ``key``; the first names the others."""
        return [self.directory / f"{_safe(self.name)}-{key[:20]}.onnx"]

    def start(self) -> None:
        """Export (or find the cached graph) in a background thread."""
        with self._lock:
            if self._thread is None and self.failed is None:
                self._tensors = _weights(self.network)  # walking the modules costs ms
                self._exported = _versions(self._tensors)
                self._threads = torch.get_num_threads()  # the caller's setting, not a new thread's
                self._thread = threading.Thread(target=self._prepare, daemon=True)
                self._thread.start()

    def wait(self, timeout: float | None = None) -> None:
        """Block until the background export is done (tests, benchmarks)."""
        self.start()
        if self._thread is not None:
            self._thread.join(timeout)

    def _open(self, paths: list[Path], key: str) -> list | None:
        if not all(path.is_file() for path in paths):
            return None
        sessions = [open_session(path, key, self._threads) for path in paths]
        return None if any(s is None for s in sessions) else sessions

    def _prepare(self) -> None:
        try:
            key = weights_key(self.network)
            paths = self.graph_paths(key)
            sessions = self._open(paths, key)
            if sessions is None:
                export_in_child(self.network, paths[0], key, self.build())
                sessions = self._open(paths, key)
                if sessions is None:
                    raise RuntimeError("the exported graph does not carry its weights' key")
            _remove_stale(paths[0])
            self.sessions = sessions
        except Exception as e:  # any failure: PyTorch serves, and says why
            self.failed = f"the export failed ({type(e).__name__}: {e})"

    def run(self, batch: torch.Tensor) -> Outputs:
        """ONNX Runtime's outputs for a normalised ``(N, 3, H, W)`` batch."""
        out = self.session.run(None, {"input": batch.detach().cpu().numpy()})
        locref = torch.from_numpy(out[1]) if len(out) > 1 else None
        return torch.from_numpy(out[0]), locref

    def outputs(
        self,
        batch: torch.Tensor,
        torch_forward: Callable[[torch.Tensor], Outputs],
        decode: Callable[[Outputs], np.ndarray],
    ) -> Outputs:
        """The forward pass: ONNX Runtime's once checked, PyTorch's until then (and for good
        if the export or the check failed, said once). The first batch ONNX Runtime can serve
        runs through both and is the check."""
        return self.serve(batch, torch_forward, self.run, lambda a, b: compare(a, b, decode))

    def serve(self, inputs, torch_forward: Callable, onnx_forward: Callable, check: Callable):
        """``onnx_forward(inputs)`` once checked; ``torch_forward(inputs)`` until then, and for
        good if the export failed or ``check(torch's, onnx's)`` (None: they agree, else how
        they differ) did not pass on the first inputs ONNX Runtime could serve."""
        if self.sessions is not None and _versions(self._tensors) != self._exported:
            self.failed, self.sessions = (
                "its weights changed after the export (call weights_changed() to export again)",
                None,
            )
        if self.serving:
            return onnx_forward(inputs)
        if self.sessions is None or self.failed:
            out = torch_forward(inputs)
            self._tell()
            self.start()  # after the first prediction, so that one is not slowed
            return out
        out = torch_forward(inputs)
        problem = check(out, onnx_forward(inputs))
        if problem is None:
            self.checked = True
        else:
            self.failed, self.sessions = problem, None
            self._tell()
        return out

    def _tell(self) -> None:
        if self.failed and not self._told:
            self._told = True
            warnings.warn(
                f"{self.name}: predicting with PyTorch, not ONNX Runtime: {self.failed}",
                RuntimeWarning,
                stacklevel=5,
            )


def _weights(network: torch.nn.Module) -> list[torch.Tensor]:
    return [*network.parameters(), *network.buffers()]


def _versions(tensors: list[torch.Tensor]) -> tuple[int, ...]:
    """PyTorch's in-place change counters of the weights: any training step or load moves them
    (a layer replaced by another object is not seen: call ``weights_changed()``)."""
    return tuple(t._version for t in tensors)


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name) or "network"


def _remove_stale(path: Path) -> None:
    """Graphs of the same name for other weights (the weights changed since), and exports an
    ended process left half-written over an hour ago. ``path`` is ``<name>-<key>.onnx``; the
    graphs beside it for the same weights (``<name>-<key>.<part>.onnx``) stay."""
    stem = path.name.rsplit("-", 1)[0]

    def key(graph: Path) -> str:
        return graph.name[len(stem) + 1 :].split(".")[0]

    for other in path.parent.glob(f"{stem}-*.onnx"):
        if other.name.rsplit("-", 1)[0] == stem and key(other) != key(path):
            other.unlink(missing_ok=True)
    for partial in path.parent.glob("*.onnx.*.partial"):
        with contextlib.suppress(OSError):
            if time.time() - partial.stat().st_mtime > 3600:
                partial.unlink()


if __name__ == "__main__":
    _export_main(sys.argv[1:])
