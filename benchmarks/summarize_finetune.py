"""The fine-tuning benchmark's rows, grouped and summarised as the issues state targets: the
median over seeds of each measure, per method, label count and results file.

Reads ``results/finetune_reaching_*.json`` (``bench_finetune.py`` and
``bench_finetune_dlc.py``), prints one row per group, writes
``results/finetune_reaching_summary.json``. A group is a results file's tag without its trailing
digits (``auto_new0`` and ``auto_new12``: one code's seeds run in two invocations), a method and
a label count.

Usage::

    python benchmarks/summarize_finetune.py
"""

from __future__ import annotations

import json
from collections import defaultdict

import numpy as np

from _common import RESULTS, print_table, save

MEASURES = ("mean_px", "median_px", "pck5", "pck10", "sure_share", "sure_far", "ece10")


def main() -> None:
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for path in sorted(RESULTS.glob("finetune_reaching_*.json")):
        if path.stem.endswith("summary"):
            continue
        data = json.loads(path.read_text())
        for row in data.get("rows", []):
            tag = path.stem.removeprefix("finetune_reaching_").rstrip("0123456789")
            key = (tag, row["method"], row["labels"])
            groups[key].append({**row, "date": data.get("date")})
    rows = []
    for (results, method, labels), runs in sorted(groups.items(), key=lambda g: (g[0][2], g[0])):
        summary = {
            "results": results,
            "method": method,
            "labels": labels,
            "seeds": len(runs),
            "date": runs[0]["date"],
            "round_s_max": max(r.get("round_s", r.get("train_seconds", np.nan)) for r in runs),
        }
        for m in MEASURES:
            values = [r[m] for r in runs if r.get(m) is not None]
            summary[m] = float(np.median(values)) if values else None
        rows.append(summary)
    print_table(rows, ["results", "method", "labels", "seeds", "round_s_max", *MEASURES])
    save("finetune_reaching_summary", {"rows": rows})


if __name__ == "__main__":
    main()
