"""Fault injection (issue "Nothing a user does loses or silently corrupts data"), many runs.

``python bench_faults.py [--runs 20]``. Every run injects one fault as a hostile but realistic
user would, on a synthetic video whose frames carry their own index (``read_index``), so a wrong
frame is caught wherever it comes from, then checks what a user would rely on:

- **acknowledged edits / edits lost**: label edits whose call returned, and those missing after
  the fault (SIGKILL while labeling, the SQLite journal deleted and then a SIGKILL);
- **complete but not**: a frame store marked complete in which a frame does not read back right;
- **silent wrong frames**: a frame read without an error that is not the frame asked for (black
  frames from a missing shard, garbage from flipped bytes);
- **wrong result, exit 0**: a command that exited 0 (or a call that returned) while leaving a
  wrong result: a store not whole, labels from a malformed file, a project rewritten with other
  keypoints, a store kept in another codec than asked.

The goal is the last four columns at 0 in every row. Faults:

- ``ingest --overwrite`` of a store another ingest is converting, killed 0-1.5 s later;
- two ``ingest`` of one video started 0-0.4 s apart;
- SIGKILL during ``ingest``, then ``ingest`` again (it resumes);
- a converted store with one shard deleted, truncated, or with a flipped byte; every frame read,
  then ``ingest`` (re-converts the damage);
- ``ingest --codec lossless`` on a JPEG store;
- a bad video (empty, text named ``.mp4``, cut at a random byte) ingested;
- SIGKILL while labeling, through the documented command
  ``python -m napari_superanimal.session.crashcheck`` (a writer killed at random moments);
- ``labels.sqlite-wal`` deleted while a project is open, then SIGKILL;
- ``project.json`` lost, the project opened with other keypoints;
- a DeepLabCut CSV with a bodypart written twice, imported;
- and, from ``_faults_project.py``: a project on read-only media (a bind mount: run as root),
  a project opened by a second process, SIGKILL during ``train``, the viewer SIGKILLed while
  its training child runs, ``predict --model VERSION`` (one video or dask), ``export`` from
  another folder, malicious ``.pt`` / ``config.yaml`` files.

``--only WORD ...`` runs the faults whose names hold one of the words.
Results: ``results/bench_faults.json``.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

import numpy as np

import _faults_project as faults_project
from _common import print_table, save
from napari_superanimal.errors import SuperAnimalError
from napari_superanimal.video.store import FrameStore
from napari_superanimal.video.synthetic import read_index, write_index_video

INGEST = [sys.executable, "-m", "napari_superanimal.cli", "ingest", "--quiet"]
KEYPOINTS = ["nose", "left_ear", "right_ear", "tail_base"]
COLUMNS = ["acknowledged", "lost", "complete_but_not", "silent_wrong_frames", "wrong_exit_0"]


def outcome(**counts) -> dict:
    return {name: int(counts.get(name, 0)) for name in COLUMNS}


def store_of(video: Path) -> Path:
    return video.with_name(video.stem + ".frames.zarr")


def check_store(video: Path) -> dict:
    """Read every frame of ``video``'s store: is it what its flags say, and never wrong?"""
    from napari_superanimal import open_video

    path = store_of(video)
    if not FrameStore.is_store(path):
        return {"complete": False, "whole": False, "silent_wrong": 0}
    store = FrameStore.open(path, mode="r")
    written = store.n_frames if store.complete else store.frames_written
    whole, silent_wrong = store.complete, 0
    try:
        reader = open_video(path)
    except SuperAnimalError:
        return {"complete": store.complete, "whole": False, "silent_wrong": 0}
    for i in range(written):
        try:
            frame = reader.read_frame(i)
        except SuperAnimalError:  # damage said out loud: fine, but not a whole store
            whole = False
            continue
        if read_index(frame) != i:
            silent_wrong += 1
            whole = False
    return {"complete": store.complete, "whole": whole, "silent_wrong": silent_wrong}


def store_outcome(video: Path, exits: list[int]) -> dict:
    state = check_store(video)
    broken = not (state["complete"] and state["whole"])
    return outcome(
        complete_but_not=state["complete"] and not state["whole"],
        silent_wrong_frames=state["silent_wrong"],
        wrong_exit_0=sum(1 for code in exits if code == 0) if broken else 0,
    )


# -- faults ------------------------------------------------------------------------------------
def ingest_overwrite_race(video: Path, rng: random.Random) -> dict:
    shutil.rmtree(store_of(video), ignore_errors=True)
    first = subprocess.Popen(
        [*INGEST, str(video)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    time.sleep(rng.uniform(0.8, 2.0))  # the first one is converting by now (imports: ~1 s)
    second = subprocess.Popen(
        [*INGEST, "--overwrite", str(video)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    time.sleep(rng.uniform(0.0, 1.5))
    second.send_signal(signal.SIGKILL)
    second.wait()
    first.wait()
    return store_outcome(video, [first.returncode])


def ingest_twin_start(video: Path, rng: random.Random) -> dict:
    shutil.rmtree(store_of(video), ignore_errors=True)
    first = subprocess.Popen(
        [*INGEST, str(video)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    time.sleep(rng.uniform(0.0, 0.4))
    second = subprocess.Popen(
        [*INGEST, str(video)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    codes = [first.wait(), second.wait()]
    return store_outcome(video, codes)


def kill_during_ingest(video: Path, rng: random.Random) -> dict:
    shutil.rmtree(store_of(video), ignore_errors=True)
    proc = subprocess.Popen(
        [*INGEST, str(video)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    time.sleep(rng.uniform(1.0, 3.0))
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    again = subprocess.run([*INGEST, str(video)], capture_output=True)
    return store_outcome(video, [again.returncode])


def damaged_store(kind: str):
    def run(video: Path, rng: random.Random, pristine: Path) -> dict:
        store = store_of(video)
        shutil.rmtree(store, ignore_errors=True)
        shutil.copytree(pristine, store)
        shards = sorted((store / "frames" / "c").glob("*/0/0/0"))
        shard = rng.choice(shards)
        if kind == "deleted":
            shard.unlink()
        elif kind == "truncated":
            shard.write_bytes(shard.read_bytes()[: rng.randint(1, shard.stat().st_size - 1)])
        else:
            data = bytearray(shard.read_bytes())
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
            shard.write_bytes(bytes(data))
        read = check_store(video)  # every frame read: errors are fine, wrong frames are not
        again = subprocess.run([*INGEST, str(video)], capture_output=True)
        after = store_outcome(video, [again.returncode])
        after["silent_wrong_frames"] += read["silent_wrong"]
        return after

    return run


def codec_mismatch(video: Path, rng: random.Random, pristine: Path) -> dict:
    store = store_of(video)
    shutil.rmtree(store, ignore_errors=True)
    shutil.copytree(pristine, store)
    proc = subprocess.run([*INGEST, "--codec", "lossless", str(video)], capture_output=True)
    kept = FrameStore.open(store, mode="r").meta["storage"]["codec"]
    return outcome(wrong_exit_0=proc.returncode == 0 and kept != "lossless")


def kill_while_labeling(video: Path, runs: int, work: Path) -> dict:
    """The documented crash check, as a user runs it: a writer SIGKILLed ``runs`` times."""
    project = work / "crash.superanimal"
    proc = subprocess.run(
        [sys.executable, "-m", "napari_superanimal.session.crashcheck", str(video)]
        + ["--project", str(project), "--kills", str(runs)],
        capture_output=True,
        text=True,
    )
    if not proc.stdout.strip():
        raise SystemExit(f"the crash check did not run: {proc.stderr.strip()[-300:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    if result["kills"] != runs and not result["lost"]:
        raise SystemExit(f"the crash check stopped after {result['kills']} kills")
    return outcome(
        acknowledged=result["acknowledged"],
        lost=len(result["lost"]) + result["integrity_failures"],
    )


JOURNAL = """
import os, sys
from napari_superanimal.session import Session
s = Session.open(sys.argv[1], keypoints={keypoints!r}, project=sys.argv[2])
s.label(0, "nose", 1, 1)
print(0, flush=True)
os.remove(s.project.labels.path.with_name("labels.sqlite-wal"))
for f in range(1, int(sys.argv[3])):
    s.label(f, "nose", f, f + 0.5)
    print(f, flush=True)
os.kill(os.getpid(), 9)
"""


def journal_deleted(video: Path, rng: random.Random, work: Path) -> dict:
    from napari_superanimal.session import Session

    project = work / f"journal-{rng.random():.9f}.superanimal"
    n = rng.randint(5, 40)
    code = JOURNAL.format(keypoints=KEYPOINTS)
    proc = subprocess.run(
        [sys.executable, "-c", code, str(video), str(project), str(n)],
        capture_output=True,
        text=True,
    )
    acknowledged = [int(line) for line in proc.stdout.split()]
    try:
        with Session.open(video, project=project) as session:
            lost = [f for f in acknowledged if "nose" not in session.labels(f)]
    except SuperAnimalError:
        lost = acknowledged
    shutil.rmtree(project, ignore_errors=True)
    return outcome(acknowledged=len(acknowledged), lost=len(lost))


def lost_project_file(video: Path, rng: random.Random, work: Path) -> dict:
    from napari_superanimal.session import Session

    project = work / f"keys-{rng.random():.9f}.superanimal"
    frames = rng.sample(range(100), 5)
    with Session.open(video, keypoints=KEYPOINTS, project=project) as session:
        for f in frames:
            session.label(f, "left_ear", f, 3.0)
    (project / "project.json").unlink()
    accepted = True
    try:
        Session.open(video, keypoints=["a", "b", "c"], project=project).close()
    except SuperAnimalError:
        accepted = False
    rewritten = (project / "project.json").exists()
    lost = 0
    with Session.open(video, keypoints=KEYPOINTS, project=project) as session:
        lost = sum(1 for f in frames if "left_ear" not in session.labels(f))
    shutil.rmtree(project, ignore_errors=True)
    return outcome(acknowledged=len(frames), lost=lost, wrong_exit_0=accepted or rewritten)


def duplicate_dlc_column(video: Path, rng: random.Random, work: Path) -> dict:
    from napari_superanimal.cli import main
    from napari_superanimal.session import Session

    project = work / f"dlc-{rng.random():.9f}.superanimal"
    frames = sorted(rng.sample(range(100), 3))
    with Session.open(video, keypoints=KEYPOINTS, project=project) as session:
        for f in frames:
            session.label(f, "nose", 7.0, 7.0)
    twice = rng.choice(KEYPOINTS)
    header = ["me"] * 10, [*KEYPOINTS, twice], ["x", "y"]
    rows = [
        ",".join(["scorer", *header[0]]),
        ",".join(["bodyparts", *[b for b in header[1] for _ in "xy"]]),
        ",".join(["coords", *(["x", "y"] * 5)]),
    ]
    for f in frames:
        rows.append(",".join([f"labeled-data/{video.stem}/img{f:03d}.png", *["20.5"] * 10]))
    csv = work / f"CollectedData_me-{rng.random():.9f}.csv"
    csv.write_text("\n".join(rows) + "\n")
    code = main(["import", str(video), str(csv), "--project", str(project)])
    with Session.open(video, project=project) as session:
        changed = sum(1 for f in frames if session.labels(f)["nose"].x != 7.0)
    shutil.rmtree(project, ignore_errors=True)
    return outcome(acknowledged=len(frames), lost=changed, wrong_exit_0=code == 0)


# -- the table ---------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--frames", type=int, default=2000, help="length of the test video")
    parser.add_argument("--only", nargs="*", help="run the faults whose names hold these words")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        video = write_index_video(work / "clip.mp4", n_frames=args.frames, size=(96, 160), gop=60)
        subprocess.run([*INGEST, str(video)], check=True, capture_output=True)
        pristine = work / "pristine.frames.zarr"
        shutil.copytree(store_of(video), pristine)
        ctx = faults_project.make_context(work, video, KEYPOINTS)
        store_faults = {
            "ingest --overwrite while another ingest converts, killed": ingest_overwrite_race,
            "two ingests of one video, 0-0.4 s apart": ingest_twin_start,
            "SIGKILL during ingest, ingest again": kill_during_ingest,
        }
        faults = {name: partial(f, video) for name, f in store_faults.items()}
        for kind in ("deleted", "truncated", "flipped"):
            faults[f"store: a shard {kind}, every frame read, ingest"] = partial(
                damaged_store(kind), video, pristine=pristine
            )
        faults["ingest --codec lossless on a JPEG store"] = partial(
            codec_mismatch, video, pristine=pristine
        )
        faults["bad video (empty, text, cut), ingest"] = partial(
            faults_project.bad_video, ctx, check_store=check_store
        )
        for name, f in {
            "labels.sqlite-wal deleted while open, SIGKILL": journal_deleted,
            "project.json lost, opened with other keypoints": lost_project_file,
            "DLC CSV with a bodypart twice, imported": duplicate_dlc_column,
        }.items():
            faults[name] = partial(f, video, work=work)
        for name, f in {
            "project on read-only media (bind mount): read, edit, train": "read_only_media",
            "project open in one process, opened in another, SIGKILL": "two_label_writers",
            "SIGKILL during train (the CLI)": "kill_during_train",
            "viewer SIGKILLed while its training child runs": "orphaned_training_child",
            "predict --model VERSION (one video / dask)": "predict_project_model",
            "export from another folder, file read from a third": "export_from_elsewhere",
            "malicious .pt (--weights) or config.yaml (import)": "malicious_files",
        }.items():
            faults[name] = partial(getattr(faults_project, f), ctx)
        for name, fault in faults.items():
            if args.only and not any(word in name for word in args.only):
                continue
            t0 = time.perf_counter()
            totals = outcome()
            for _ in range(args.runs):
                got = outcome(**fault(rng=rng))
                totals = {k: totals[k] + got[k] for k in COLUMNS}
            rows.append(
                {
                    "fault": name,
                    "runs": args.runs,
                    **totals,
                    "seconds": round(time.perf_counter() - t0, 1),
                }
            )
            print(json.dumps(rows[-1]), flush=True)
        if not args.only or any("crashcheck" in word for word in args.only):
            t0 = time.perf_counter()
            killed = kill_while_labeling(video, args.runs, work)
            rows.append(
                {
                    "fault": "SIGKILL while labeling (python -m ...session.crashcheck)",
                    "runs": args.runs,
                    **killed,
                    "seconds": round(time.perf_counter() - t0, 1),
                }
            )
    print_table(rows, ["fault", "runs", *COLUMNS, "seconds"])
    zero = all(r[c] == 0 for r in rows for c in COLUMNS[1:])
    print(f"goal (the last four columns at 0 in every row): {'met' if zero else 'NOT met'}")
    save(
        "bench_faults",
        {
            "rows": rows,
            "met": zero,
            "runs": args.runs,
            "video": f"synthetic, {args.frames:,} frames of 96x160, frame index in pixels",
        },
    )


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
