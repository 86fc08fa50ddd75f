"""DeepLabCut's baseline for the fine-tuning benchmark (``bench_finetune.py``).

DeepLabCut 3.0.2 trains its default single-animal PyTorch network, ``resnet_50`` (ResNet-50 with
GroupNorm, stride 16, heatmap + location-refinement head), on the first ``n`` frames of the
fixed split of ``../shared/data/reaching/`` (``_reaching.py``) for a fixed wall-clock budget,
then its own inference predicts the 20 held-out frames (full frame, every keypoint, no
``pcutoff``) and they are scored like ours.

Everything about training is DeepLabCut's default from the generated ``pytorch_config.yaml``:
batch size 8, 448x448 keypoint-aware crops with affine / motion-blur / noise augmentation,
AdamW at 5e-4 dropping to 1e-4 and 1e-5 after 90 and 120 epochs, its seed. Only these differ:

- Random initialisation. ``train_network`` loads ImageNet weights for the backbone from the
  model hub unless it starts from a snapshot, so a randomly initialised model (DeepLabCut's own
  ``PoseModel.build`` with ``pretrained_backbone=False``, its seed) is saved as an epoch-0
  snapshot and training starts from it. The child runs with ``HF_HUB_OFFLINE=1`` so that any
  download attempt would fail at once.
- Wall-clock budget. Training runs in a child process for "a million" epochs with a snapshot
  saved after every epoch; the child is killed ``--budget`` seconds after it calls
  ``train_network`` (DeepLabCut has no stop mechanism), and the last snapshot that loads is
  evaluated (the epoch-0 one if no epoch finished). Dataset creation, the child's import of
  DeepLabCut and the final evaluation are outside the budget.
- No evaluation during training by default. DeepLabCut's "test" split here is the 20 held-out
  frames, which it would predict full-frame every 10 epochs inside the budget (about 11 s a
  pass on 2 idle CPU cores, against about 4 s an epoch with 5 labels); it only monitors and
  does not change what is learned. ``--eval-interval 10`` restores DeepLabCut's default.

Setup, a venv of its own outside the repository (PyTorch first, then pinned)::

    python3.11 -m venv /work/dlcvenv
    /work/dlcvenv/bin/pip install torch==2.14.1 torchvision==0.29.1
    printf 'torch==2.14.1\\ntorchvision==0.29.1\\n' > /work/dlcvenv/constraints.txt
    /work/dlcvenv/bin/pip install -c /work/dlcvenv/constraints.txt deeplabcut==3.0.2

Usage::

    /work/dlcvenv/bin/python benchmarks/bench_finetune_dlc.py --labels 5 10 20 35 --budget 480 \\
        [--tag counts]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import deeplabcut
import numpy as np
import torch
from deeplabcut.pose_estimation_pytorch import utils
from deeplabcut.pose_estimation_pytorch.apis.evaluation import predict
from deeplabcut.pose_estimation_pytorch.apis.utils import get_pose_inference_runner
from deeplabcut.pose_estimation_pytorch.data import DLCLoader
from deeplabcut.pose_estimation_pytorch.data.snapshots import Snapshot, list_snapshots
from deeplabcut.pose_estimation_pytorch.models import PoseModel
from deeplabcut.utils import auxiliaryfunctions

import _reaching
from _common import WORK, machine, print_table, save

METHOD = "deeplabcut-3.0.2 resnet_50 (random init)"
EPOCHS = 10**6
TRAIN = """
import sys
from pathlib import Path
import deeplabcut
config, init, started, epochs, eval_interval = sys.argv[1:]
Path(started).touch()
deeplabcut.train_network(
    config, snapshot_path=init, epochs=int(epochs), save_epochs=1,
    pytorch_cfg_updates={"runner.eval_interval": int(eval_interval)},
)
"""


@contextlib.contextmanager
def into(log: Path):
    """Sends DeepLabCut's prints to ``log``, keeping stdout for the results."""
    with log.open("a") as out, contextlib.redirect_stdout(out):
        yield


def make_project(folder: Path, train: list[int], held: list[int]) -> Path:
    """A copy of the reaching project with one shuffle on this split; returns its config."""
    shutil.rmtree(folder, ignore_errors=True)
    labeled = folder / "labeled-data" / _reaching.VIDEO
    labeled.mkdir(parents=True)
    for file in (_reaching.DATA / "labeled-data" / _reaching.VIDEO).iterdir():
        shutil.copyfile(file, labeled / file.name)  # not copytree: shared/ may be read-only
    config = folder / "config.yaml"
    shutil.copyfile(_reaching.DATA / "config.yaml", config)
    video = str(folder / "videos" / f"{_reaching.VIDEO}.avi")  # names the labeled-data folder
    auxiliaryfunctions.edit_config(
        config, {"project_path": str(folder), "video_sets": {video: {"crop": "0, 832, 0, 747"}}}
    )
    [(fraction, _, _)] = deeplabcut.create_training_dataset(
        str(config),
        Shuffles=[1],
        trainIndices=[train],
        testIndices=[held],
        net_type="resnet_50",
        engine=deeplabcut.Engine.PYTORCH,
        userfeedback=False,
    )
    auxiliaryfunctions.edit_config(config, {"TrainingFraction": [fraction]})
    return config


def random_init(config: Path, path: Path) -> Path:
    """DeepLabCut's model for the shuffle without pretrained weights, as an epoch-0 snapshot."""
    model_cfg = DLCLoader(config=config, shuffle=1).model_cfg
    utils.fix_seeds(model_cfg["train_settings"]["seed"])
    model = PoseModel.build(model_cfg["model"], pretrained_backbone=False)
    torch.save({"model": model.state_dict(), "metadata": {"epoch": 0}}, path)
    return path


def train(config: Path, init: Path, budget: float, eval_interval: int, log: Path) -> float:
    """Runs ``train_network`` in a child killed ``budget`` s after it starts; returns the start."""
    started = init.with_suffix(".started")
    started.unlink(missing_ok=True)
    args = [str(config), str(init), str(started), str(EPOCHS), str(eval_interval or EPOCHS)]
    with log.open("ab") as out:
        child = subprocess.Popen(
            [sys.executable, "-c", TRAIN, *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "HF_HUB_OFFLINE": "1"},
        )
    while not started.exists() or time.time() < started.stat().st_mtime + budget:
        if child.poll() is not None:
            raise RuntimeError(f"DeepLabCut's training stopped early, see {log}")
        time.sleep(0.2)
    child.kill()
    child.wait()
    return started.stat().st_mtime


def last_snapshot(model_folder: Path, init: Path) -> Snapshot:
    """The newest snapshot that loads (the kill may cut the one being written), else the init."""
    for snapshot in reversed(list_snapshots(model_folder, "snapshot", best_in_last=False)):
        try:
            torch.load(snapshot.path, map_location="cpu", weights_only=True)
        except RuntimeError:
            continue
        return snapshot
    return Snapshot(best=False, epochs=0, path=init)


def predict_held(config: Path, snapshot: Path, names: list[str]) -> np.ndarray:
    """DeepLabCut's predictions ``(N, K, 3)`` (x, y, score) for its test split, in the order
    of ``names``."""
    loader = DLCLoader(config=config, shuffle=1)
    runner = get_pose_inference_runner(loader.model_cfg, snapshot_path=snapshot, device="cpu")
    predictions = predict(runner, loader, "test")
    project = config.parent
    return np.stack([predictions[str(project / n)]["bodyparts"][0, :, :3] for n in names])


def one_run(workdir: Path, n_train: int, budget: float, eval_interval: int) -> dict:
    images, _, xy = _reaching.load_labels()
    train_idx, held = _reaching.split(len(images), n_train)
    folder = workdir / f"reaching-{n_train}"
    log = workdir / f"reaching-{n_train}.log"
    log.unlink(missing_ok=True)
    with into(log):
        config = make_project(folder, train_idx, held)
    loader = DLCLoader(config=config, shuffle=1)
    if sorted(loader.image_filenames("train")) != [str(folder / images[i]) for i in train_idx]:
        raise RuntimeError("DeepLabCut's training split differs from _reaching.split")
    init = random_init(config, workdir / f"reaching-{n_train}-init.pt")
    start = train(config, init, budget, eval_interval, log)
    train_seconds = time.time() - start
    snapshot = last_snapshot(loader.model_folder, init)
    with into(log):
        pred = predict_held(config, snapshot.path, [images[i] for i in held])
    batch = loader.model_cfg["train_settings"]["batch_size"]
    return {
        "method": METHOD,
        "labels": n_train,
        "budget_s": budget,
        "train_seconds": train_seconds,
        "epochs": snapshot.epochs,
        "steps": snapshot.epochs * math.ceil(n_train / batch),
        "snapshot": snapshot.path.name,
        "snapshot_s": max(0.0, snapshot.path.stat().st_mtime - start),  # the init: 0
        "eval_interval": eval_interval,
        **_reaching.errors(pred[..., :2], xy[held]),
        **_reaching.confidence(pred[..., :2], pred[..., 2], xy[held]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", nargs="+", type=int, default=list(_reaching.LABEL_COUNTS))
    parser.add_argument("--budget", type=float, default=_reaching.BUDGET_SECONDS)
    parser.add_argument("--workdir", type=Path, default=WORK / "dlc")
    parser.add_argument(
        "--eval-interval",
        type=int,
        default=0,
        help="epochs between DeepLabCut's evaluations during training (its default: 10; 0: none)",
    )
    parser.add_argument("--tag", default="", help="suffix of the results file's name")
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    workdir = args.workdir.resolve()
    print(f"machine: {machine()}, torch {torch.__version__}, threads {torch.get_num_threads()}")
    rows = []
    for n in args.labels:
        rows.append(one_run(workdir, n, args.budget, args.eval_interval))
        print(json.dumps(rows[-1]), flush=True)
    columns = ["method", "labels", "epochs", "steps", "snapshot_s", "mean_px", "median_px"]
    print_table(rows, [*columns, "pck5", "pck10", "sure_share", "sure_far", "ece10"])
    name = "finetune_reaching_dlc" + (f"_{args.tag}" if args.tag else "")
    save(name, {"machine": machine(), "rows": rows})


if __name__ == "__main__":
    main()
