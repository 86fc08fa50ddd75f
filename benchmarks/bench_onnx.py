"""SuperAnimal on a CPU through ONNX Runtime, against DeepLabCut 3.0.2 on the same snapshot.

Issue "SuperAnimal on a CPU at 1.5-2x DeepLabCut's speed, with DeepLabCut's keypoints". Targets:
a 256x256 crop, batch 1, >= 1.8x DeepLabCut; a 640x480 frame >= 1.5x; outputs within 1e-3 px and
1e-4 of a score; the first prediction not slowed by more than 2 s by the export.

``python bench_onnx.py [--arch hrnet_w32 resnet_50 light_resnet18] [--rounds 5] [--repeats 11]
[--detector]``
(our venv; DeepLabCut's venv at ``--dlc-python``, set up as ``bench_finetune_dlc.py`` says):

- **Snapshot.** A TopViewMouse network of each ``--arch`` with random weights whose batch-norm
  statistics are measured on real frames (``bench_inference.calibrated_network``: heatmaps of
  order one, as trained weights give; the hub is unreachable, and speed does not depend on the
  weights), saved as DeepLabCut saves snapshots.
- **Inputs.** Frames of the open-field video (``shared/data/openfield``): a 256x256 top-down
  crop around a box, and the whole 640x480 frame, normalised.
- **Timing**, alternating the programs ``--rounds`` times (the median of the rounds' medians
  of ``--repeats`` runs), 2 threads: DeepLabCut's ``PoseModel`` (built from its own SuperAnimal
  config, the snapshot loaded) forward pass and predictor, in its venv, under inference mode;
  ours, forward pass and heatmap decoding (``PoseEstimator._keypoints``), PyTorch and ONNX
  Runtime taking turns run by run. ``light_resnet18`` (a network trained in a project) has no
  DeepLabCut side. ResNet-50 and the light network are measured through ONNX Runtime although
  the product keeps them on PyTorch (``Architecture.onnx_runtime``): this measurement is why.
- **Parity.** Keypoints and scores of ONNX Runtime against PyTorch on 8 real frames (whole
  frames, and crops around boxes in the middle, at the frame's edge and thin ones), and against
  DeepLabCut's predictor on the timed inputs.
- **First prediction**, in a fresh process with an empty cache: ``load_model`` and one
  ``predict`` with ONNX Runtime on (the export starts after it) and off; then how long until
  ONNX Runtime serves.
- ``--detector``: whether ``fasterrcnn_resnet50_fpn_v2`` exports to ONNX whole and keeps its
  boxes; then the product's ONNX Runtime path (its backbone and box head in ONNX Runtime,
  ``model/detector_runtime.py``) against PyTorch, for each of ``--detector-variants`` (random
  weights, seed 0, scores spread around 0.6): boxes, scores and top-down crops on all 16
  frames, seconds a frame on 4 of them, ``--detector-rounds`` times, taking turns, and whether
  the product lets ONNX Runtime serve that variant. ``--arch`` with no
  architecture and ``--detector`` measures the detector alone and writes
  ``results/bench_onnx_detector.json``.

Writes ``results/bench_onnx.json``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from _common import SHARED_DATA, machine, print_table, save
from bench_inference import calibrated_network
from napari_superanimal import open_video
from napari_superanimal.model.detector_runtime import ONNX_DETECTORS
from napari_superanimal.model.inference import load_model
from napari_superanimal.model.preprocess import (
    crop_corners,
    crop_with_context,
    normalize,
    pad_to_multiple,
)
from napari_superanimal.zoo import get_entry
from napari_superanimal.zoo.registry import DETECTORS

DATASET = "superanimal_topviewmouse"
ZOO_ARCHS = ("hrnet_w32", "resnet_50")
BOXES = {  # x, y, w, h on a 640x480 frame
    "middle": (250.0, 180.0, 120.0, 90.0),
    "edge": (590.0, 400.0, 80.0, 100.0),
    "thin": (100.0, 50.0, 6.0, 140.0),
}

DLC_SIDE = r"""
import json, sys, time
import numpy as np, torch
torch.set_num_threads(2)
from deeplabcut.pose_estimation_pytorch.modelzoo.utils import load_super_animal_config
from deeplabcut.pose_estimation_pytorch.models import PoseModel

arch, snapshot, inputs, out_path, repeats = sys.argv[1:6]
config = load_super_animal_config(super_animal="superanimal_topviewmouse", model_name=arch,
                                  max_individuals=1, device="cpu")
model = PoseModel.build(config["model"])
model.load_state_dict(torch.load(snapshot, map_location="cpu", weights_only=True)["model"])
model.eval()
data, result = np.load(inputs), {}
with torch.inference_mode():
    for name in ("crop", "frame"):
        x = torch.from_numpy(data[name])
        run = lambda: model.get_predictions(model(x))["bodypart"]["poses"]
        run()
        times = []
        for _ in range(int(repeats)):
            t = time.perf_counter()
            poses = run()
            times.append(time.perf_counter() - t)
        result[name + "_ms"] = float(np.median(times) * 1e3)
        result[name + "_poses"] = poses.reshape(-1, 3).tolist()
json.dump(result, open(out_path, "w"))
"""

FIRST_PREDICTION = r"""
import os, sys, time, json
os.environ["NAPARI_SUPERANIMAL_CACHE"] = sys.argv[4]
import numpy as np, torch
torch.set_num_threads(2)
t0 = time.perf_counter()
from napari_superanimal.model.inference import load_model
frame = np.load(sys.argv[3])
zoo = sys.argv[2] in ("hrnet_w32", "resnet_50")
model = load_model("superanimal_topviewmouse" if zoo else "light", weights=sys.argv[1],
                   arch=sys.argv[2], device="cpu", detector=None, download=False,
                   keypoints=None if zoo else [f"k{i}" for i in range(27)])
model.engine = sys.argv[5]
model.predict(frame)
first = time.perf_counter() - t0
second = time.perf_counter(); model.predict(frame); second = time.perf_counter() - second
result = {"first_s": first, "second_s": second}
engine = model.onnx_engine()
if engine is not None:
    engine.wait()
    model.predict(frame)  # the check
    result["onnx_serving_s"] = time.perf_counter() - t0
    result["serving"] = engine.serving
print(json.dumps(result))
"""


def alternating_ms(runs: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Median ms of each run after one warm-up, the runs taking turns (so a slow spell of the
    machine falls on all)."""
    times = {name: [] for name in runs}
    for run in runs.values():
        run()  # warm-up
    for _ in range(repeats):
        for name, run in runs.items():
            t = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - t)
    return {name: float(np.median(t) * 1e3) for name, t in times.items()}


def models(arch: str, snapshot: Path):
    """Ours on the snapshot: PyTorch only, and ONNX Runtime (exported and checked)."""
    zoo = arch in ZOO_ARCHS
    make = lambda: load_model(  # noqa: E731
        DATASET if zoo else "light",
        weights=snapshot,
        arch=arch,
        device="cpu",
        detector=None,
        download=False,
        keypoints=None if zoo else [f"k{i}" for i in range(27)],
    )
    torch_model, onnx_model = make(), make()
    torch_model.engine = "torch"
    onnx_model.export_dir = snapshot.parent / "onnx"
    return torch_model, onnx_model


def parity(torch_model, onnx_model, frames: np.ndarray) -> dict:
    """Largest keypoint and score differences, ONNX Runtime against PyTorch."""
    worst = {"frame_px": 0.0, "frame_score": 0.0, "crop_px": 0.0, "crop_score": 0.0}
    for i in range(0, len(frames), 4):
        batch = frames[i : i + 4]
        a, b = torch_model.predict(batch, "frame"), onnx_model.predict(batch, "frame")
        worst["frame_px"] = max(worst["frame_px"], float(np.abs(a - b)[..., :2].max()))
        worst["frame_score"] = max(worst["frame_score"], float(np.abs(a - b)[..., 2].max()))
        for box in BOXES.values():
            boxes = np.tile(box, (len(batch), 1))
            a, b = torch_model.predict(batch, boxes), onnx_model.predict(batch, boxes)
            worst["crop_px"] = max(worst["crop_px"], float(np.nanmax(np.abs(a - b)[..., :2])))
            worst["crop_score"] = max(worst["crop_score"], float(np.abs(a - b)[..., 2].max()))
    assert onnx_model.onnx_engine().serving, onnx_model.onnx_engine().failed
    return worst


def first_prediction(arch: str, snapshot: Path, frame_path: Path) -> dict:
    out = {}
    for engine in ("torch", "auto"):
        cache = tempfile.mkdtemp(prefix="onnx-first-")
        proc = subprocess.run(
            [sys.executable, "-c", FIRST_PREDICTION, str(snapshot), arch, str(frame_path)]
            + [cache, engine],
            capture_output=True,
            text=True,
        )
        if proc.returncode:
            raise SystemExit(proc.stderr[-3000:])
        out[engine] = json.loads(proc.stdout.strip().splitlines()[-1])
    return out


def bench_arch(arch: str, frames: np.ndarray, args, work: Path) -> dict:
    net = calibrated_network(arch, frames)
    zoo = arch in ZOO_ARCHS  # else a network trained in a project: no DeepLabCut side
    if zoo and net.num_keypoints != len(get_entry(DATASET, arch).keypoints):
        raise SystemExit(f"{arch}: the zoo's keypoints differ from the network's outputs")
    snapshot = work / f"{arch}.pt"
    torch.save({"metadata": {"epoch": 0}, "model": net.state_dict()}, snapshot)
    crop, _ = crop_with_context(frames[0], np.array(BOXES["middle"]), (256, 256))
    inputs = {
        "crop": normalize(crop[None]).numpy(),
        "frame": normalize(pad_to_multiple(frames[:1], 32)).numpy(),
    }
    np.savez(work / "inputs.npz", **inputs)
    np.save(work / "frame.npy", frames[0])
    torch_model, onnx_model = models(arch, snapshot)
    onnx_model.network.arch = dataclasses.replace(net.arch, onnx_runtime=True)  # measured anyway
    onnx_model.predict(frames[:1])
    onnx_model.onnx_engine().wait()
    row = {"arch": arch, **parity(torch_model, onnx_model, frames)}
    times = {k: [] for k in ("dlc_crop", "dlc_frame", "torch_crop", "torch_frame")}
    times.update(onnx_crop=[], onnx_frame=[])
    dlc = {}
    for _ in range(args.rounds):
        out = work / "dlc.json"
        if not zoo:
            proc = None
        else:
            proc = subprocess.run(
                [args.dlc_python, "-c", DLC_SIDE, arch, str(snapshot), str(work / "inputs.npz")]
                + [str(out), str(args.repeats)],
                capture_output=True,
                text=True,
                env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin", "HOME": str(work)},
            )
            if proc.returncode:
                raise SystemExit(f"DeepLabCut's side failed:\n{proc.stderr[-3000:]}")
            dlc = json.loads(out.read_text())
            times["dlc_crop"].append(dlc["crop_ms"])
            times["dlc_frame"].append(dlc["frame_ms"])
        for kind in ("crop", "frame"):  # the two engines alternate run by run
            x = torch.from_numpy(inputs[kind])
            runs = {
                "torch": lambda x=x: torch_model._keypoints(x, False),
                "onnx": lambda x=x: onnx_model._keypoints(x, False),
            }
            for name, ms in alternating_ms(runs, args.repeats).items():
                times[f"{name}_{kind}"].append(ms)
    for key, values in times.items():
        if values:
            row[f"{key}_ms"] = float(np.median(values))
            row[f"{key}_rounds_ms"] = [round(v, 1) for v in values]
    for kind in ("crop", "frame"):
        row[f"{kind}_x_torch_onnx"] = row[f"torch_{kind}_ms"] / row[f"onnx_{kind}_ms"]
        if not zoo:
            continue
        row[f"{kind}_x_dlc_onnx"] = row[f"dlc_{kind}_ms"] / row[f"onnx_{kind}_ms"]
        row[f"{kind}_x_dlc_torch"] = row[f"dlc_{kind}_ms"] / row[f"torch_{kind}_ms"]
        theirs = np.asarray(dlc[f"{kind}_poses"])
        ours = onnx_model._keypoints(torch.from_numpy(inputs[kind]), False)[0]
        row[f"{kind}_vs_dlc_px"] = float(np.abs(ours[:, :2] - theirs[:, :2]).max())
        row[f"{kind}_vs_dlc_score"] = float(np.abs(ours[:, 2] - theirs[:, 2]).max())
    first = first_prediction(arch, snapshot, work / "frame.npy")
    row["first_prediction_torch_s"] = first["torch"]["first_s"]
    row["first_prediction_onnx_s"] = first["auto"]["first_s"]
    row["second_prediction_torch_s"] = first["torch"]["second_s"]
    row["second_prediction_onnx_s"] = first["auto"]["second_s"]
    row["onnx_serving_after_s"] = first["auto"].get("onnx_serving_s")  # None: PyTorch only
    print(row, flush=True)
    return row


def detector_check(frames: np.ndarray, work: Path) -> dict:
    """Does Faster R-CNN (resnet50 fpn v2) export, and does ONNX Runtime keep its boxes?"""
    import onnxruntime as ort

    from bench_topdown_dlc import make_snapshots
    from napari_superanimal.model.detector import DetectorNetwork

    _, det_path = make_snapshots(work, 0)
    net = DetectorNetwork("fasterrcnn_resnet50_fpn_v2")
    net.load_state_dict(torch.load(det_path, weights_only=True)["model"])
    net.eval()
    images = normalize(frames[:4])
    result = {"detector": "fasterrcnn_resnet50_fpn_v2"}
    t = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                net.model,
                ([images[0]],),
                str(work / "detector.onnx"),
                dynamo=False,
                opset_version=17,
                input_names=["image"],
                output_names=["boxes", "labels", "scores"],
                dynamic_axes={"image": {1: "h", 2: "w"}},
            )
    except Exception as e:  # what was found is the result
        result["export"] = f"failed: {type(e).__name__}: {str(e).splitlines()[0][:200]}"
        return result
    result["export_s"] = time.perf_counter() - t
    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    session = ort.InferenceSession(str(work / "detector.onnx"), options)
    box_diff, count_diff = 0.0, 0
    torch_ms, onnx_ms = [], []
    with torch.inference_mode():
        for image in images:
            t = time.perf_counter()
            ref = net.model([image])[0]
            torch_ms.append((time.perf_counter() - t) * 1e3)
            t = time.perf_counter()
            boxes, _, scores = session.run(None, {"image": image.numpy()})
            onnx_ms.append((time.perf_counter() - t) * 1e3)
            keep_t = ref["boxes"][ref["scores"] >= 0.6].numpy()
            keep_o = boxes[scores >= 0.6]
            if len(keep_t) != len(keep_o):
                count_diff += 1
            elif len(keep_t):
                box_diff = max(box_diff, float(np.abs(keep_t - keep_o).max()))
    result.update(
        export="ok",
        frames=len(images),
        frames_with_other_box_count=count_diff,
        max_box_diff_px=box_diff,
        torch_ms=float(np.median(torch_ms)),
        onnx_ms=float(np.median(onnx_ms)),
    )
    return result


def detector_product(frames: np.ndarray, work: Path, rounds: int, variant: str) -> dict:
    """The product's ONNX Runtime path for a detector (``DetectorEngine``: the backbone and box
    head in ONNX Runtime, torchvision's proposals, NMS and RoIAlign around them) against PyTorch
    (torchvision's own forward pass, as DeepLabCut runs it). Boxes are compared on every frame
    of ``frames`` (at most 3 a frame, as the product keeps them): how far they move and how
    many top-down crops that changes. Speed on the first 4 frames, ``rounds`` times, taking
    turns. ``serving``: whether the product lets ONNX Runtime answer for this variant (listed in
    ``ONNX_DETECTORS`` and the check on the first frame passed); the comparison runs the
    graphs either way, so a variant left on PyTorch shows why."""
    from bench_topdown_dlc import random_detector
    from napari_superanimal.model.detector import AnimalDetector
    from napari_superanimal.model.detector_runtime import DetectorEngine, compare_detections
    from napari_superanimal.model.preprocess import normalize

    torch.manual_seed(0)
    net = random_detector(variant).eval()
    plain = AnimalDetector(net, "cpu", engine="torch")
    engine = DetectorEngine(net, work / "detector-onnx", variant)
    t = time.perf_counter()
    engine.wait()
    export_s = time.perf_counter() - t
    if engine.sessions is None:
        return {"export_s": export_s, "serving": False, "failed": engine.failed}

    def onnx(frame, top=3):
        with torch.inference_mode():
            (found,) = engine._detect(list(normalize(frame[None])))
        boxes = found["boxes"][:top].numpy().astype(np.float64)
        boxes[:, 2:] -= boxes[:, :2]
        return boxes, found["scores"][:top].numpy().astype(np.float64), found

    with torch.inference_mode():
        first = net(list(normalize(frames[:1])))
    problem = compare_detections(first, [onnx(frames[0], None)[2]])
    result = {"path": "backbone + box head in ONNX Runtime", "export_s": export_s}
    result["serving"] = variant in ONNX_DETECTORS and problem is None
    result["check"] = problem or "passed"
    times = {"torch": [], "onnx": []}
    for _ in range(rounds):
        for frame in frames[:4]:
            t = time.perf_counter()
            plain.detect(frame, 3)
            times["torch"].append(time.perf_counter() - t)
            t = time.perf_counter()
            onnx(frame)
            times["onnx"].append(time.perf_counter() - t)
    gaps, score_gaps = [], []
    count_diff = crop_changes = 0
    for frame in frames:
        ((a, sa),) = plain.detect(frame, 3)
        b, sb, _ = onnx(frame)
        if len(a) != len(b):
            count_diff += 1
            continue
        if len(a):
            gap = np.abs(a[:, None] - b[None]).max(-1)
            gaps += gap.min(1).tolist()
            score_gaps += np.abs(sa - sb[gap.argmin(1)]).tolist()
            crop_changes += sum(
                crop_corners(x) != crop_corners(y) for x, y in zip(a, b[gap.argmin(1)], strict=True)
            )
    torch_s, onnx_s = (float(np.median(v)) for v in times.values())
    result.update(
        timed_frames=4,
        rounds=rounds,
        compared_frames=len(frames),
        top3_boxes_compared=len(gaps),
        frames_with_other_box_count=count_diff,
        max_box_diff_px=max(gaps, default=0.0),
        median_box_diff_px=float(np.median(gaps)) if gaps else 0.0,
        boxes_not_equal=int(np.count_nonzero(gaps)),
        max_score_diff=max(score_gaps, default=0.0),
        crops_changed=int(crop_changes),
        torch_s=torch_s,
        onnx_s=onnx_s,
        x_torch=torch_s / onnx_s,
    )
    return result


STACKS = ((64, 64), (128, 64), (256, 32), (512, 16), (128, 128))  # channels, side


def conv_stack_rates(channels: int, side: int, work: Path, repeats: int) -> dict:
    """GFLOP/s of eight 3x3 convolutions (``channels`` in and out, ``side`` x ``side``) in ONNX
    Runtime (the product's session options) and in PyTorch, each timed on its own."""
    from napari_superanimal.model.runtime import open_session, write_graph

    convs = [torch.nn.Conv2d(channels, channels, 3, padding=1) for _ in range(8)]
    stack = torch.nn.Sequential(*convs).eval()
    x = torch.rand(1, channels, side, side)
    flop = 8 * 2 * channels * channels * 9 * side * side
    path = work / f"stack-{channels}-{side}.onnx"
    write_graph(stack, x, path, "stack", ["out"], (0,))
    session = open_session(path, "stack", 2)
    with torch.inference_mode():  # one at a time: each is its own best case
        (torch_ms,) = alternating_ms({"torch": lambda: stack(x)}, repeats).values()
    onnx_run = lambda: session.run(None, {"input": x.numpy()})  # noqa: E731
    (onnx_ms,) = alternating_ms({"onnx": onnx_run}, repeats).values()
    return {
        "channels": channels,
        "side": side,
        "gflops_onnx": flop / onnx_ms / 1e6,
        "gflops_torch": flop / torch_ms / 1e6,
    }


def ceiling(frames: np.ndarray, work: Path, repeats: int, targets: dict[str, float]) -> dict:
    """How close ONNX Runtime runs HRNet-W32 to the fastest this CPU does float32 convolutions.

    The network's floating-point operations (PyTorch's FLOP counter, two per multiply-add) over
    its ONNX Runtime time, against the best rate ONNX Runtime reaches on plain stacks of eight
    3x3 convolutions (:data:`STACKS`: channels and side; its best cases), and PyTorch's on the
    same stacks; both through the sessions the product opens (``runtime.open_session``)."""
    from torch.utils.flop_counter import FlopCounterMode

    from napari_superanimal.model.inference import PoseEstimator

    stacks = [conv_stack_rates(channels, side, work, repeats) for channels, side in STACKS]
    best = max(stacks, key=lambda s: s["gflops_onnx"])
    onnx_stack = best["gflops_onnx"] * 1e6  # FLOP a ms
    result = {
        "conv_stacks": stacks,
        "conv_stack_best": f"{best['channels']} channels, {best['side']}x{best['side']}",
        "conv_stack_gflops_onnx": best["gflops_onnx"],
        "conv_stack_gflops_torch": max(s["gflops_torch"] for s in stacks),
    }
    net = calibrated_network("hrnet_w32", frames)
    names = [f"k{i}" for i in range(net.num_keypoints)]
    model = PoseEstimator(net, names, "cpu", engine="auto", export_dir=work / "ceiling-onnx")
    model.predict(frames[:1])
    graph = model.onnx_engine()
    graph.wait()
    for kind, shape in (("crop", (1, 3, 256, 256)), ("frame", (1, 3, 480, 640))):
        inputs = torch.rand(shape)
        with FlopCounterMode(display=False) as counter, torch.inference_mode():
            net(inputs)
        gflop = counter.get_total_flops() / 1e9
        run = lambda i=inputs: graph.session.run(None, {"input": i.numpy()})  # noqa: E731
        (ms,) = alternating_ms({kind: run}, repeats).values()
        result[f"hrnet_{kind}_gflop"] = gflop
        result[f"hrnet_{kind}_onnx_ms"] = ms
        result[f"hrnet_{kind}_gflops_onnx"] = gflop / ms * 1e3
        result[f"hrnet_{kind}_share_of_stack_rate"] = gflop / ms * 1e3 / (onnx_stack / 1e6)
        result[f"hrnet_{kind}_floor_ms"] = gflop / (onnx_stack / 1e6) * 1e3
        if kind in targets:  # what the target asks of the graph, at its best rate
            result[f"hrnet_{kind}_target_ms"] = targets[kind]
            result[f"hrnet_{kind}_target_share_of_stack_rate"] = (
                gflop / targets[kind] * 1e3 / (onnx_stack / 1e6)
            )
    return result


def target_ms(today: str) -> dict[str, float]:
    """DeepLabCut's HRNet-W32 times over the issue's ratios (1.8x a crop, 1.5x a frame), from
    ``results/bench_onnx.json`` if it was measured on ``today``."""
    path = Path(__file__).parent / "results" / "bench_onnx.json"
    if not path.exists():
        return {}
    found = json.loads(path.read_text())
    rows = [r for r in found.get("rows", []) if r.get("arch") == "hrnet_w32" and "dlc_crop_ms" in r]
    if found.get("date") != today or not rows:
        return {}
    return {"crop": rows[0]["dlc_crop_ms"] / 1.8, "frame": rows[0]["dlc_frame_ms"] / 1.5}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--arch", nargs="*", default=["hrnet_w32", "resnet_50", "light_resnet18"])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=11)
    parser.add_argument("--dlc-python", default="/work/dlcvenv/bin/python")
    parser.add_argument("--detector", action="store_true")
    parser.add_argument("--detector-rounds", type=int, default=3)
    parser.add_argument(
        "--detector-variants", nargs="+", choices=list(DETECTORS), default=list(DETECTORS)
    )
    parser.add_argument(
        "--ceiling",
        action="store_true",
        help="only how close ONNX Runtime runs HRNet-W32 to this CPU's float32 convolution rate;"
        " writes results/bench_onnx_ceiling.json",
    )
    args = parser.parse_args()
    torch.set_num_threads(2)
    video = open_video(SHARED_DATA / "openfield" / "m3v1mp4.mp4", store=None)
    video.wait()
    frames = np.stack([video.read_frame(i) for i in range(0, 160, 10)])
    work = Path(tempfile.mkdtemp(prefix="bench-onnx-"))
    if args.ceiling:
        today = time.strftime("%Y-%m-%d")
        found = ceiling(frames, work, args.repeats, target_ms(today))
        print_table(found["conv_stacks"], list(found["conv_stacks"][0]))
        flat = {k: v for k, v in found.items() if k != "conv_stacks"}
        print_table(
            [{k: v if isinstance(v, str) else round(v, 3) for k, v in flat.items()}], list(flat)
        )
        save("bench_onnx_ceiling", {"machine": machine(), "date": today, **found})
        return
    rows = [bench_arch(arch, frames, args, work) for arch in args.arch]
    print(f"\nmachine: {machine()}, torch {torch.__version__}, 2 threads\n")
    print_table(
        rows or [{"arch": "(none: --arch was given no architecture)"}],
        [
            "arch",
            "dlc_crop_ms",
            "torch_crop_ms",
            "onnx_crop_ms",
            "crop_x_torch_onnx",
            "crop_x_dlc_onnx",
            "dlc_frame_ms",
            "torch_frame_ms",
            "onnx_frame_ms",
            "frame_x_torch_onnx",
            "frame_x_dlc_onnx",
            "frame_px",
            "frame_score",
            "crop_px",
            "crop_score",
            "crop_vs_dlc_px",
            "frame_vs_dlc_px",
            "first_prediction_torch_s",
            "first_prediction_onnx_s",
            "onnx_serving_after_s",
        ],
    )
    result = {"machine": machine(), "date": time.strftime("%Y-%m-%d"), "rows": rows}
    result["weights"] = "random, batch-norm statistics from real frames: speed and parity only"
    result["dlc"] = "DeepLabCut 3.0.2 PoseModel forward + predictor, its own venv"
    if args.detector:
        result["detector"] = detector_check(frames, work)
        result["detector_product"] = [
            {"variant": variant, **detector_product(frames, work, args.detector_rounds, variant)}
            for variant in args.detector_variants
        ]
        print(json.dumps({k: result[k] for k in ("detector", "detector_product")}, indent=1))
    # detector only (--arch with no architecture): its own file, the pose rows stay
    save("bench_onnx" if args.arch else "bench_onnx_detector", result)


if __name__ == "__main__":
    main()
