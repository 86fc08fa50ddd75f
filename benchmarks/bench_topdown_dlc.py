"""Top-down SuperAnimal against DeepLabCut 3.0.2 itself: same snapshots, same frames.

Issue "Every animal in the frame...", item 1: with the detector run on every frame, keypoints
for every animal must equal DeepLabCut's pose runner given the same detector and pose
snapshots (<= 1e-3 px, score <= 1e-4), boxes at the frame's edge and thin boxes included.

``python bench_topdown_dlc.py [--frames 20] [--individuals 3] [--seeds 0 1]`` (our venv) makes
random SuperAnimal TopViewMouse snapshots in DeepLabCut's layout (hrnet_w32 pose, and a
``fasterrcnn_resnet50_fpn_v2`` detector whose "animal" logit is raised so that it finds many
boxes, thin ones and ones touching the frame's edge among them), reads frames of the open-field
video (``shared/data/openfield``; a synthetic clip without it), then runs

- DeepLabCut in its own venv (``--dlc-python``, default ``/work/dlcvenv/bin/python``; set up as
  ``bench_finetune_dlc.py`` says): its detector runner, then its pose runner on the detector's
  boxes, as ``video_inference_superanimal`` chains them (``get_inference_runners``, batch 1);
- ours: the same snapshots through ``load_detector`` and ``load_model``; boxes from our
  detector, then our top-down crops on them;
- ours again on DeepLabCut's boxes (the pose path alone);
- what ``predict --detector`` runs: each frame's best box, all frames batched, against
  DeepLabCut's first animal.

It prints, per frame, the largest difference in boxes, keypoints and scores, and writes
``results/bench_topdown_dlc.json``. Weights are random: heatmaps are flat, so a keypoint whose
two best heatmap cells differ by less than float noise may land elsewhere; the table counts
those ties apart (``ties``) instead of hiding them.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DATASET, ARCH, DETECTOR = "superanimal_topviewmouse", "hrnet_w32", "fasterrcnn_resnet50_fpn_v2"

# -- DeepLabCut's side (runs in its venv) ------------------------------------------------------
DLC_SIDE = r"""
import json, sys
import numpy as np, torch
from deeplabcut.pose_estimation_pytorch.apis.utils import get_inference_runners
from deeplabcut.pose_estimation_pytorch.modelzoo.utils import load_super_animal_config

frames_path, pose_path, det_path, out_path, k = sys.argv[1:6]
frames = np.load(frames_path)
torch.set_num_threads(2)
config = load_super_animal_config(
    super_animal="superanimal_topviewmouse", model_name="hrnet_w32",
    detector_name="fasterrcnn_resnet50_fpn_v2", max_individuals=int(k), device="cpu",
)
pose_runner, detector_runner = get_inference_runners(
    model_config=config, snapshot_path=pose_path, max_individuals=int(k),
    num_bodyparts=len(config["metadata"]["bodyparts"]), num_unique_bodyparts=0,
    batch_size=1, detector_batch_size=1, detector_path=det_path,
)
out = {}
for i, frame in enumerate(frames):  # one at a time: a frame DeepLabCut fails on is recorded
    (b,) = detector_runner.inference(images=[frame])
    out[f"boxes_{i}"] = np.asarray(b["bboxes"], dtype=np.float64)
    out[f"scores_{i}"] = np.asarray(b["bbox_scores"], dtype=np.float64)
    out[f"dtype_{i}"] = np.array(str(np.asarray(b["bboxes"]).dtype))
    try:
        (p,) = pose_runner.inference([(frame, b)])
        out[f"pose_{i}"] = np.asarray(p["bodyparts"], dtype=np.float64)
    except Exception as err:  # reported, not hidden
        out[f"error_{i}"] = np.array(f"{type(err).__name__}: {str(err).strip().splitlines()[-1]}")
np.savez(out_path, **out)
"""


def random_detector(variant: str):
    """A detector with random weights whose boxes vary: the seed is the caller's."""
    import torch

    from napari_superanimal.model.detector import DetectorNetwork

    detector = DetectorNetwork(variant)
    predictor = detector.model.roi_heads.box_predictor
    with torch.no_grad():
        # Random box-head features are large (mean |x| ~40): scaled down, the "animal" logit
        # raised, scores spread around box_score_thresh 0.6 and box deltas stay within about
        # +-0.3, so boxes vary in shape (thin ones too) and many touch the frame's edge.
        predictor.cls_score.weight *= 0.01
        predictor.cls_score.bias[1] += 1.0
        predictor.bbox_pred.weight *= 0.005
    return detector


def make_snapshots(folder: Path, seed: int) -> tuple[Path, Path]:
    """Random pose and detector weights, saved as DeepLabCut saves snapshots."""
    import torch

    from napari_superanimal.model.networks import build_network
    from napari_superanimal.zoo import get_entry

    torch.manual_seed(seed)
    pose = build_network(ARCH, len(get_entry(DATASET, ARCH).keypoints))
    detector = random_detector(DETECTOR)
    paths = folder / "pose.pt", folder / "detector.pt"
    for net, path in zip((pose, detector), paths, strict=True):
        torch.save({"metadata": {"epoch": 0}, "model": net.state_dict()}, path)
    return paths


def read_frames(n: int, seed: int) -> tuple[np.ndarray, str]:
    from _common import SHARED_DATA
    from napari_superanimal import open_video

    clip = SHARED_DATA / "openfield" / "m3v1mp4.mp4"
    if clip.is_file():
        video, name = open_video(clip, convert=False), "open-field (shared/data)"
    else:
        from napari_superanimal.video.synthetic import write_index_video

        path = write_index_video(Path(tempfile.mkdtemp()) / "clip.mp4", n_frames=200)
        video, name = open_video(path, convert=False), "synthetic"
    rng = np.random.default_rng(seed)
    picks = sorted(rng.choice(len(video), size=n, replace=False).tolist())
    return np.stack([video.read_frame(i) for i in picks]), name


def run_dlc(python: str, frames: Path, pose: Path, det: Path, out: Path, k: int) -> None:
    code = subprocess.run(
        [python, "-c", DLC_SIDE, str(frames), str(pose), str(det), str(out), str(k)],
        capture_output=True,
        text=True,
        env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin", "HOME": str(out.parent)},
    )
    if code.returncode:
        raise SystemExit(f"DeepLabCut's side failed:\n{code.stderr[-3000:]}")


def ours(frames: np.ndarray, pose: Path, det: Path, k: int, given: list | None = None):
    """Per frame: boxes (M, 4) xywh, scores (M,), keypoints (M, K, 3) frame pixels."""
    from napari_superanimal.model.detector import load_detector
    from napari_superanimal.model.inference import load_model

    model = load_model(
        DATASET, weights=pose, arch=ARCH, device="cpu", download=False, detector=None
    )
    detector = load_detector(DATASET, DETECTOR, weights=det, device="cpu", download=False)
    out = []
    for i, frame in enumerate(frames):
        if given is None:
            ((boxes, scores),) = detector.detect(frame[None], max_animals=k)
        else:
            boxes, scores = given[i]
        poses = [model.predict(frame[None], boxes=box[None])[0] for box in boxes]
        out.append((boxes, scores, np.array(poses).reshape(len(boxes), -1, 3)))
    return out


def product_path(frames: np.ndarray, pose: Path, det: Path) -> np.ndarray:
    """What every prediction path runs for a SuperAnimal model by default: the best box of each
    frame, all frames in one batch through the detector and the pose network. ``(N, K, 3)``."""
    from napari_superanimal.model.inference import load_model

    model = load_model(
        DATASET, weights=pose, arch=ARCH, device="cpu", download=False, detector_weights=det
    )
    assert model.detector.variant == DETECTOR
    return model.predict(frames)


def compare(a, b) -> dict:
    """Largest box, keypoint and score differences of one frame (same number of animals)."""
    (ba, sa, pa), (bb, sb, pb) = a, b
    if len(ba) != len(bb):
        return {"animals": [len(ba), len(bb)], "box": None, "keypoint": None, "score": None}
    if not len(ba):
        return {"animals": [0, 0], "box": 0.0, "box score": 0.0, "keypoint": 0.0, "score": 0.0}
    d = np.abs(pa[..., :2] - pb[..., :2]).max(axis=-1)
    return {
        "animals": [len(ba), len(bb)],
        "box": float(np.abs(ba - bb).max()),
        "box score": float(np.abs(sa - sb).max()),
        "keypoint": float(d.max()),
        "keypoints_off": int((d > 1e-3).sum()),
        "score": float(np.abs(pa[..., 2] - pb[..., 2]).max()),
    }


def run_seed(args, seed: int, print_table) -> dict:
    """One comparison: snapshots and frames drawn with ``seed``."""
    work = Path(tempfile.mkdtemp(prefix="topdown-"))
    pose, det = make_snapshots(work, seed)
    frames, source = read_frames(args.frames, seed)
    np.save(work / "frames.npy", frames)
    run_dlc(args.dlc_python, work / "frames.npy", pose, det, work / "dlc.npz", args.individuals)
    got = np.load(work / "dlc.npz")
    failed = {i: str(got[f"error_{i}"]) for i in range(len(frames)) if f"error_{i}" in got}
    dlc = [
        (
            got[f"boxes_{i}"],
            got[f"scores_{i}"],
            got[f"pose_{i}"][: len(got[f"boxes_{i}"])] if i not in failed else None,
        )
        for i in range(len(frames))
    ]
    mine = ours(frames, pose, det, args.individuals)
    batched = product_path(frames, pose, det)
    on_theirs = ours(frames, pose, det, args.individuals, given=[(b, s) for b, s, _ in dlc])
    rows = []
    for i in range(len(frames)):
        h, w = frames.shape[1:3]
        if i in failed:  # DeepLabCut raised on this frame: what our path gave instead
            rows.append(
                {
                    "frame": i,
                    "animals (ours, DLC)": [len(mine[i][0]), len(dlc[i][0])],
                    "DeepLabCut": failed[i],
                    "smallest box side (px)": float(dlc[i][0][:, 2:].min()),
                    "ours: animals without keypoints": int(
                        np.isnan(mine[i][2][..., :2]).all(axis=(1, 2)).sum()
                    ),
                }
            )
            continue
        full, pose_only = compare(mine[i], dlc[i]), compare(on_theirs[i], dlc[i])
        edge = [
            bool(x <= 0.5 or y <= 0.5 or x + bw >= w - 0.5 or y + bh >= h - 0.5)
            for x, y, bw, bh in dlc[i][0]
        ]
        thin = [bool(min(bw, bh) < 0.25 * max(bw, bh)) for _, _, bw, bh in dlc[i][0]]
        best = dlc[i][2][0] if len(dlc[i][0]) else np.full_like(batched[i], np.nan)
        a, b = batched[i][:, :2], best[:, :2]
        if (np.isnan(a) != np.isnan(b)).any():  # an animal on one side only: a mismatch
            product = float("inf")
        else:
            product = float(np.nan_to_num(np.abs(a - b), nan=0.0).max())
        rows.append(
            {
                "frame": i,
                "animals (ours, DLC)": full["animals"],
                "edge boxes": sum(edge),
                "thin boxes": sum(thin),
                "box diff": full["box"],
                "box score diff": full.get("box score"),
                "keypoint diff (our boxes)": full["keypoint"],
                "keypoint diff (DLC boxes)": pose_only["keypoint"],
                "keypoints > 1e-3 px (DLC boxes)": pose_only.get("keypoints_off"),
                "score diff (DLC boxes)": pose_only["score"],
                "best animal, batched (px)": product,
            }
        )
    compared = [r for r in rows if "DeepLabCut" not in r]
    print_table(compared, list(compared[0]))
    for r in rows:
        if "DeepLabCut" in r:
            print(
                f"frame {r['frame']}: DeepLabCut failed ({r['DeepLabCut']}); smallest box side "
                f"{r['smallest box side (px)']:.3g} px; ours: "
                f"{r['ours: animals without keypoints']} of {r['animals (ours, DLC)'][0]} "
                "animals without keypoints (a box under a pixel is no animal)"
            )
    worst = {
        key: max((r[key] for r in compared if r[key] is not None), default=None)
        for key in (
            "box diff",
            "keypoint diff (our boxes)",
            "keypoint diff (DLC boxes)",
            "best animal, batched (px)",
        )
    }
    print(json.dumps(worst))
    return {
        "seed": seed,
        "source": source,
        "dlc_box_dtype": str(got["dtype_0"]),
        "rows": rows,
        "dlc_failed_frames": sorted(failed),
        "worst": worst,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=20)
    parser.add_argument("--individuals", type=int, default=3)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--dlc-python", default="/work/dlcvenv/bin/python")
    args = parser.parse_args()
    sys.path.insert(0, str(HERE))
    from _common import print_table, save

    runs = []
    for seed in args.seeds:
        print(f"seed {seed}", flush=True)
        runs.append(run_seed(args, seed, print_table))
    compared = sum(sum(1 for r in run["rows"] if "DeepLabCut" not in r) for run in runs)
    failed = sum(len(run["dlc_failed_frames"]) for run in runs)
    worst = {key: max(run["worst"][key] or 0.0 for run in runs) for key in runs[0]["worst"]}
    print(f"{compared} frames compared, {failed} where DeepLabCut failed; worst: {worst}")
    save(
        "bench_topdown_dlc",
        {
            "frames_per_seed": args.frames,
            "individuals": args.individuals,
            "frames_compared": compared,
            "frames_dlc_failed": failed,
            "worst": worst,
            "runs": runs,
        },
    )


if __name__ == "__main__":
    main()
