"""DeepLabCut 3.0.2 takes our multi-animal export: ``create_training_dataset`` on it, in its venv.

Issue "Every animal in the frame...", item 5: a project with several animals exports as a
DeepLabCut multi-animal project (``multianimalproject``, ``individuals``,
``multianimalbodyparts``, ``uniquebodyparts``, CollectedData with an ``individuals`` column
level, the labeled frames as PNGs), and DeepLabCut's own ``create_training_dataset`` must accept
it.

``python check_dlc_multianimal.py [--dlc-python /work/dlcvenv/bin/python]`` (our venv) makes a
synthetic 40-frame video with the demo's mouse, opens a project with two animals, labels 12
frames for each (the demo's known keypoints, the second animal mirrored: a format check, not an
accuracy one) and a unique keypoint (``arena_corner``, a point of the scene), exports it with
``Session.export(format="dlc-project", images=True)``, then runs
in DeepLabCut's venv ``create_training_dataset(net_type="top_down_resnet_50", engine=PYTORCH)``
(``resnet_50``, bottom-up, for the project with a unique keypoint: DeepLabCut 3.0.2 refuses
unique bodyparts with top-down models) and reads back what DeepLabCut made of it: the
individuals and bodyparts of its pose config and the labels of its merged training table,
compared with ours. Writes
``results/check_dlc_multianimal.json``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
UNIQUE_NAME = "arena_corner"
sys.path.insert(0, str(HERE))

DLC_SIDE = r"""
import glob, json, sys
import deeplabcut, pandas as pd, yaml
config, net_type = sys.argv[1], sys.argv[2]
deeplabcut.create_training_dataset(
    config, Shuffles=[1], net_type=net_type,
    engine=deeplabcut.Engine.PYTORCH, userfeedback=False,
)
root = config.rsplit("/", 1)[0]
(pose_cfg,) = glob.glob(f"{root}/dlc-models-pytorch/**/train/pytorch_config.yaml", recursive=True)
pose = yaml.safe_load(open(pose_cfg))
(merged,) = glob.glob(f"{root}/training-datasets/**/CollectedData_*.h5", recursive=True)
df = pd.read_hdf(merged)
print(json.dumps({
    "individuals": pose["metadata"]["individuals"],
    "bodyparts": pose["metadata"]["bodyparts"],
    "unique_bodyparts": pose["metadata"].get("unique_bodyparts"),
    "method": pose.get("method"),
    "detector": bool(pose.get("detector")),
    "rows": len(df),
    "columns": list(df.columns.names),
    "values": df.to_numpy(float).tolist(),
    "column_keys": [list(map(str, c)) for c in df.columns],
}))
"""


def make_project(
    work: Path, unique: bool
) -> tuple[Path, np.ndarray, list[str], list[int], np.ndarray]:
    """Our side: a two-animal project, exported; returns the config, our labels
    ``(frames, animals, keypoints, 2)``, the keypoints, the labeled frames and the unique
    keypoint's labels ``(frames, 2)``."""
    from napari_superanimal.demo.mouse import KEYPOINTS, make_mouse_video
    from napari_superanimal.session import Session

    video, truth = make_mouse_video(work / "mice.mp4", n_frames=40, size=(128, 160), seed=2)
    keypoints = list(KEYPOINTS)
    frames = list(range(0, 40, 40 // 12))[:12]
    labels = np.zeros((len(frames), 2, len(keypoints), 2))
    corner = np.stack([np.full(len(frames), 3.0), 4.0 + np.arange(len(frames))], axis=1)
    with Session.open(video, keypoints=keypoints, project=work / "project") as session:
        session.set_individuals(["mouse1", "mouse2"])
        if unique:
            session.set_unique_keypoints([UNIQUE_NAME])
        width = session.video.shape[2]
        for row, frame in enumerate(frames):
            xy = truth[frame, :, :2]
            for a, (name, points) in enumerate((("mouse1", xy), ("mouse2", xy * [-1, 1]))):
                points = points + [width - 1, 0] if a else points
                labels[row, a] = points
                for k, p in zip(keypoints, points, strict=True):
                    session.label(frame, k, *p, individual=name)
            if unique:
                session.label(frame, UNIQUE_NAME, *corner[row])
        config = session.export(work / "dlc", format="dlc-project", scorer="me")
    return config, labels, keypoints, frames, corner


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dlc-python", default="/work/dlcvenv/bin/python")
    args = parser.parse_args()
    from _common import WORK, machine, save

    # DeepLabCut 3.0.2 trains unique bodyparts with bottom-up models only ("not yet implemented
    # for top-down models"): the project with one goes to its bottom-up resnet_50
    results = {"machine": machine(), "deeplabcut": "3.0.2"}
    for name, unique, net_type in (
        ("animals", False, "top_down_resnet_50"),
        ("animals and a unique bodypart", True, "resnet_50"),
    ):
        work = WORK / "dlc_multianimal" / ("unique" if unique else "animals")
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        results[name] = _check(work, unique, net_type, args.dlc_python)
    print(json.dumps(results, indent=1))
    save("check_dlc_multianimal", results)


def _check(work: Path, unique: bool, net_type: str, dlc_python: str) -> dict:
    config, labels, keypoints, frames, corner = make_project(work, unique)
    env = {"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin", "HOME": str(work)}
    proc = subprocess.run(
        [dlc_python, "-c", DLC_SIDE, str(config), net_type], capture_output=True, text=True, env=env
    )
    if proc.returncode:
        raise SystemExit(f"DeepLabCut refused the export:\n{proc.stderr[-3000:]}")
    dlc = json.loads(proc.stdout.strip().splitlines()[-1])
    # DeepLabCut's merged table, back in our layout: (rows, animals, keypoints, 2)
    values = np.asarray(dlc["values"])
    index = {tuple(c[1:]): i for i, c in enumerate(dlc["column_keys"])}
    theirs = np.full((len(values), 2, len(keypoints), 2), np.nan)
    for a, name in enumerate(["mouse1", "mouse2"]):
        for k, bp in enumerate(keypoints):
            for c, coord in enumerate("xy"):
                theirs[:, a, k, c] = values[:, index[(name, bp, coord)]]
    result = {
        "net_type": net_type,
        "individuals": dlc["individuals"],
        "bodyparts": dlc["bodyparts"],
        "unique bodyparts": dlc["unique_bodyparts"],
        "method": dlc["method"],
        "detector in pose config": dlc["detector"],
        "labeled frames, ours": len(frames),
        "rows in DeepLabCut's training table": dlc["rows"],
        "column levels": dlc["columns"],
        "max label difference (px)": float(np.nanmax(np.abs(theirs - labels))),
    }
    expected_unique = [UNIQUE_NAME] if unique else []
    if unique:
        theirs_corner = np.stack(
            [values[:, index[("single", UNIQUE_NAME, c)]] for c in "xy"], axis=1
        )
        result["max unique label difference (px)"] = float(
            np.nanmax(np.abs(theirs_corner - corner))
        )
    result["accepted"] = (
        dlc["individuals"] == ["mouse1", "mouse2"]
        and dlc["bodyparts"] == keypoints
        and (dlc["unique_bodyparts"] or []) == expected_unique
        and dlc["rows"] == len(frames)
    )
    return result


if __name__ == "__main__":
    main()
