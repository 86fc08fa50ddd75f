"""CPU inference through ONNX Runtime: DeepLabCut's keypoints, exported once per weights, PyTorch
whenever the export or its check fails (said once)."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pytest
import torch

from napari_superanimal.model import runtime
from napari_superanimal.model.inference import PoseEstimator
from napari_superanimal.model.networks import ARCHITECTURES, build_network
from napari_superanimal.model.preprocess import normalize, pad_to_multiple

BOXES = [(30.0, 20.0, 60.0, 50.0), (120.0, 90.0, 60.0, 60.0), (10.0, 10.0, 4.0, 90.0)]


@pytest.fixture(scope="module")
def frames(tmp_path_factory):
    from napari_superanimal.demo.mouse import make_mouse_video
    from napari_superanimal.video import open_video

    path, _ = make_mouse_video(tmp_path_factory.mktemp("v") / "m.mp4", n_frames=8, seed=3)
    video = open_video(path, convert=False)
    return np.stack([video.read_frame(i) for i in range(8)])


def network(arch: str, frames: np.ndarray, k: int = 5, seed: int = 0) -> torch.nn.Module:
    """Random weights with batch-norm statistics from the frames: heatmaps of order one, as a
    trained network gives (default statistics make a random HRNet's explode)."""
    torch.manual_seed(seed)
    net = build_network(arch, k)
    # the light network stays on PyTorch in the product (no faster); it is the quick one to
    # export, so the engine's behaviour is tested on it
    net.arch = dataclasses.replace(net.arch, onnx_runtime=True)
    for m in net.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.momentum = None
    net.train()
    with torch.no_grad():
        net(normalize(pad_to_multiple(frames, 32)))
    return net.eval()


def pair(net, tmp_path, **kwargs) -> tuple[PoseEstimator, PoseEstimator]:
    names = [f"k{i}" for i in range(net.num_keypoints)]
    plain = PoseEstimator(net, names, "cpu", engine="torch", **kwargs)
    fast = PoseEstimator(net, names, "cpu", engine="auto", export_dir=tmp_path / "onnx", **kwargs)
    return plain, fast


def serve(model: PoseEstimator, frames: np.ndarray) -> None:
    """First prediction (PyTorch, starts the export), wait, the check: ONNX Runtime serves."""
    model.predict(frames[:2])
    model.onnx_engine().wait()
    model.predict(frames[:2])


def assert_same(a: np.ndarray, b: np.ndarray) -> None:
    both = np.isfinite(a[..., 0])
    assert np.array_equal(both, np.isfinite(b[..., 0]))
    assert np.abs(a - b)[both][:, :2].max(initial=0) <= runtime.PIXEL_TOLERANCE
    assert np.abs(a - b)[..., 2].max() <= runtime.SCORE_TOLERANCE


@pytest.mark.slow
@pytest.mark.parametrize("arch, dlc", [("hrnet_w32", True), ("light_resnet18", False)])
def test_onnx_runtime_gives_pytorchs_keypoints_on_frames_and_crops(arch, dlc, frames, tmp_path):
    plain, fast = pair(network(arch, frames), tmp_path, deeplabcut_outputs=dlc)
    serve(fast, frames)
    assert fast.onnx_engine().serving, fast.onnx_engine().failed
    assert_same(plain.predict(frames, "frame"), fast.predict(frames, "frame"))
    for box in BOXES:  # in the middle, touching the frame's edge, thin
        boxes = np.tile(box, (len(frames), 1))
        assert_same(plain.predict(frames, boxes), fast.predict(frames, boxes))


def test_one_graph_per_weights_rebuilt_when_they_change(frames, tmp_path, monkeypatch):
    exports = []
    real_export = runtime.export_in_child
    monkeypatch.setattr(
        runtime, "export_in_child", lambda *a: (exports.append(a[1]), real_export(*a))
    )
    net = network("light_resnet18", frames)
    for _ in range(2):  # a second model on the same weights finds the first one's graph
        _, fast = pair(net, tmp_path)
        serve(fast, frames)
        assert fast.onnx_engine().serving
    assert len(exports) == 1 and exports[0].is_file()

    other = network("light_resnet18", frames, seed=1)  # new weights, same model name
    _, fast = pair(other, tmp_path)
    serve(fast, frames)
    assert len(exports) == 2 and fast.onnx_engine().serving
    assert sorted((tmp_path / "onnx").glob("*.onnx")) == [exports[1]]  # the stale one is gone


def test_a_graph_made_for_other_weights_is_never_used(frames, tmp_path):
    net, stranger = network("light_resnet18", frames), network("light_resnet18", frames, seed=1)
    plain, fast = pair(net, tmp_path)
    key = runtime.weights_key(net)
    planted = tmp_path / "onnx" / f"{fast.name}-{key[:20]}.onnx"
    runtime.export(stranger, planted, runtime.weights_key(stranger))  # another network's graph
    serve(fast, frames)
    assert fast.onnx_engine().serving
    assert_same(plain.predict(frames, "frame"), fast.predict(frames, "frame"))


def test_a_failed_export_leaves_pytorch_serving_and_says_why_once(frames, tmp_path, monkeypatch):
    def broken(*args):
        raise RuntimeError("unsupported operator")

    monkeypatch.setattr(runtime, "export_in_child", broken)
    plain, fast = pair(network("light_resnet18", frames), tmp_path)
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        fast.predict(frames[:2])
        fast.onnx_engine().wait()
        for _ in range(3):
            out = fast.predict(frames, "frame")
    told = [str(w.message) for w in said if "ONNX Runtime" in str(w.message)]
    assert len(told) == 1 and "unsupported operator" in told[0]
    assert not fast.onnx_engine().serving
    np.testing.assert_array_equal(out, plain.predict(frames, "frame"))


def test_outputs_that_fail_the_check_are_never_shown(frames, tmp_path, monkeypatch):
    plain, fast = pair(network("light_resnet18", frames), tmp_path)
    real_run = runtime.OnnxEngine.run

    def off_by_a_cell(self, batch):  # a graph that moves every peak one cell
        heatmap, locref = real_run(self, batch)
        return heatmap.roll(1, dims=-1), locref

    monkeypatch.setattr(runtime.OnnxEngine, "run", off_by_a_cell)
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        fast.predict(frames[:2])
        fast.onnx_engine().wait()
        outs = [fast.predict(frames, "frame") for _ in range(3)]
    told = [str(w.message) for w in said if "ONNX Runtime" in str(w.message)]
    assert len(told) == 1 and "differ from PyTorch's" in told[0]
    for out in outs:
        np.testing.assert_array_equal(out, plain.predict(frames, "frame"))


def test_weights_changed_after_the_export_are_predicted_with_pytorch(frames, tmp_path):
    net = network("light_resnet18", frames)
    plain, fast = pair(net, tmp_path)
    serve(fast, frames)
    assert fast.onnx_engine().serving
    with torch.no_grad():  # a training step, in place
        net.heads["bodypart"].heatmap_head.deconv_layers[-1].bias += 0.5
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        np.testing.assert_array_equal(fast.predict(frames), plain.predict(frames))
    fast.weights_changed()  # said so: exported again
    serve(fast, frames)
    assert fast.onnx_engine().serving
    assert_same(plain.predict(frames), fast.predict(frames))


def test_pytorch_only_where_asked(frames, tmp_path):
    net = network("light_resnet18", frames)
    names = [f"k{i}" for i in range(net.num_keypoints)]
    assert PoseEstimator(net, names, "cpu", engine="torch").onnx_engine() is None
    assert PoseEstimator(net, names, "cpu", optimize=True).onnx_engine() is None
    # measured no faster in ONNX Runtime (ResNet-50 also off by 2e-3 px): PyTorch
    for arch in ("resnet_50", "light_resnet18"):
        plain = build_network(arch, 3)
        assert PoseEstimator(plain, "abc", "cpu", engine="auto").onnx_engine() is None
    hrnet = build_network("hrnet_w32", 3)
    assert PoseEstimator(hrnet, "abc", "cpu", engine="auto").onnx_engine() is not None
    with pytest.raises(ValueError, match="engine"):
        PoseEstimator(net, names, "cpu", engine="tensorrt")


def test_one_variable_turns_onnx_runtime_off_for_every_model(frames, monkeypatch):
    net = network("light_resnet18", frames)
    names = [f"k{i}" for i in range(net.num_keypoints)]
    monkeypatch.delenv("NAPARI_SUPERANIMAL_ENGINE")  # the default (the test session sets it)
    assert PoseEstimator(net, names, "cpu").onnx_engine() is not None
    monkeypatch.setenv("NAPARI_SUPERANIMAL_ENGINE", "torch")  # CLI, cluster workers, napari
    assert PoseEstimator(net, names, "cpu").onnx_engine() is None


def test_a_project_version_serves_from_a_graph_beside_its_snapshot(labeled_mouse, monkeypatch):
    monkeypatch.delenv("NAPARI_SUPERANIMAL_ENGINE")  # the default: ONNX Runtime on a CPU
    light = ARCHITECTURES["light_resnet18"]  # as HRNet-W32 (slow to train here) would
    monkeypatch.setitem(
        ARCHITECTURES, "light_resnet18", dataclasses.replace(light, onnx_runtime=True)
    )
    session, _ = labeled_mouse(range(0, 40, 4))
    result = session.finetune(steps=2, batch_size=2, jitter_frames=0)
    frames = np.stack([session.video.read_frame(i) for i in range(4)])
    folder = session.versions.snapshot_path(result.version).parent / "onnx"
    for model in (session.model, session.versions.load(result.version, device="cpu")):
        serve(model, frames)  # the round's re-predictions, and the version opened again
        assert model.onnx_engine().serving
        assert [p.suffix for p in folder.iterdir()] == [".onnx"]


def test_only_a_project_version_keeps_its_graph_beside_its_snapshot(tmp_path):
    from napari_superanimal.model.inference import export_folder

    version = tmp_path / "project" / "models" / "light_resnet18-r1"
    hub = tmp_path / "hub" / "snapshots" / "0123abcd"  # the zoo's weights: the user cache
    for folder in (version, hub):
        folder.mkdir(parents=True)
    assert export_folder(version / "snapshot.pt") == version / "onnx"
    assert export_folder(hub / "superanimal_topviewmouse_hrnet_w32.pt") is None
