"""The demo's loop over several seeds: is round 2 no worse than round 1 on frames nobody labeled?

``python bench_demo.py [--seeds 0 1 2] [--frames 300]`` runs ``napari-superanimal demo``'s
headless loop (``demo/run.py``: the Suggestions choose the frames to label and to correct, a
simulated user places the true keypoints there, two fine-tuning rounds with the Fine-tune
panel's defaults) once per seed (the seed makes the synthetic video and seeds training), and
prints the error against the truth on the frames nobody labeled after each round.

Target (issue "A codebase..."): round 2 not worse than round 1 on that measure for every seed.
Results: ``results/bench_demo.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import print_table, save  # noqa: E402


def main() -> None:
    from napari_superanimal.demo.run import ROUNDS, run_demo

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--frames", type=int, default=300)
    args = parser.parse_args()
    rows = []
    for seed in args.seeds:
        with tempfile.TemporaryDirectory() as out, contextlib.redirect_stdout(io.StringIO()):
            report = run_demo(out, n_frames=args.frames, seed=seed)
        r1, r2 = report["errors"][-2:]
        rows.append(
            {
                "seed": seed,
                "unlabeled frames": report["unlabeled_frames"],
                "round 1 median (px)": r1["unlabeled_median_px"],
                "round 2 median (px)": r2["unlabeled_median_px"],
                "round 1 mean (px)": r1["unlabeled_mean_px"],
                "round 2 mean (px)": r2["unlabeled_mean_px"],
                "round 2 no worse": r2["unlabeled_median_px"] <= r1["unlabeled_median_px"],
                "chosen": report["chosen"],
                "seconds": report["seconds"],
            }
        )
        print(
            f"seed {seed}: {r1['unlabeled_median_px']:.2f} -> {r2['unlabeled_median_px']:.2f} px",
            flush=True,
        )
    print_table(
        rows,
        [
            "seed",
            "unlabeled frames",
            "round 1 median (px)",
            "round 2 median (px)",
            "round 1 mean (px)",
            "round 2 mean (px)",
            "round 2 no worse",
        ],
    )
    met = all(r["round 2 no worse"] for r in rows)
    print(f"target (round 2 no worse than round 1 for every seed): {'met' if met else 'NOT met'}")
    save("bench_demo", {"frames": args.frames, "rounds": list(ROUNDS), "rows": rows, "met": met})


if __name__ == "__main__":
    main()
