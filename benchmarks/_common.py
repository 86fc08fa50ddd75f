"""Helpers shared by the benchmark scripts: child processes with peak RSS, percentiles, tables."""

from __future__ import annotations

import json
import platform
import subprocess
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
WORK = HERE / "_work"  # inputs the scripts make (videos, stores, projects): not committed
RESULTS = HERE / "results"  # what the scripts measured, as JSON: committed, quoted in the docs


def find_shared_data() -> Path:
    """``shared/data`` (the real videos and labels): ``$NAPARI_SUPERANIMAL_DATA``, else the
    first ``shared/data`` found from the repository's folder upward."""
    import os

    if os.environ.get("NAPARI_SUPERANIMAL_DATA"):
        return Path(os.environ["NAPARI_SUPERANIMAL_DATA"])
    for folder in HERE.parents:
        if (folder / "shared" / "data").is_dir():
            return folder / "shared" / "data"
    return HERE.parents[1] / "shared" / "data"


SHARED_DATA = find_shared_data()


def run_child(code: str, *args: str) -> dict:
    """Run ``code`` in a fresh Python; it must print one JSON object last. Adds ``peak_rss_mb``."""
    wrapper = (
        "import json, resource, sys\n"
        + code
        + "\nresult['peak_rss_mb'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024\n"
        "print(json.dumps(result))\n"
    )
    proc = subprocess.run([sys.executable, "-c", wrapper, *args], capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark child failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def percentiles_ms(seconds: list[float]) -> tuple[float, float]:
    arr = np.asarray(seconds) * 1e3
    return float(np.percentile(arr, 50)), float(np.percentile(arr, 95))


def machine() -> str:
    import os

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


def print_table(rows: list[dict], columns: list[str]) -> str:
    widths = [max(len(c), *(len(_fmt(r.get(c))) for r in rows)) for c in columns]
    lines = [
        "| " + " | ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)) + " |",
        "|" + "|".join("-" * (w + 2) for w in widths) + "|",
    ]
    for r in rows:
        cells = [_fmt(r.get(c)).ljust(w) for c, w in zip(columns, widths, strict=True)]
        lines.append("| " + " | ".join(cells) + " |")
    text = "\n".join(lines)
    print(text, flush=True)
    return text


def _fmt(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"
    return str(value)


def save(name: str, payload: dict) -> Path:
    """Write ``benchmarks/results/<name>.json`` (with the machine and the date) and print its
    path; the docs quote these files."""
    import datetime

    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    payload = {"machine": machine(), "date": datetime.date.today().isoformat(), **payload}
    path.write_text(json.dumps(payload, indent=2, default=_plain))
    print(f"results: {path.relative_to(HERE.parent)}", flush=True)
    return path


def _plain(value):
    """JSON for numpy scalars and arrays, paths."""
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)
