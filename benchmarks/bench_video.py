"""Video benchmarks (issue "Open any video..."): random access, open time, ingest, size, memory.

For the real open-field video (../shared/data/openfield/m3v1mp4.mp4, when present) and synthetic
640x480 videos of 1k, 10k and 100k frames (made by make_long_video.py, cached in _work/):

- random access p50/p95 over 200 random frames: from the store (``Video.read_frame``), the same
  through the dask array (what napari slices), PyAV seek + decode (the on-demand path), OpenCV
  CAP_PROP_POS_FRAMES seek (how napari-deeplabcut and napari-video read) - same run, same frames;
- open time of a converted store, reading its middle frame through dask (in a fresh process):
  the import of ``napari_superanimal`` apart and with it, since zarr and dask are imported when
  first needed (napari's reader never imports dask);
- ingest throughput vs plain PyAV sequential decode (decode + rgb24, and decode only), store size
  vs source size, PSNR of the stored frames against the decoded source;
- peak RSS of a process that ingests, and of one that reads 200 random frames.

Each measurement runs in its own process. Usage::

    python benchmarks/bench_video.py [--lengths 1000 10000 100000] [--no-real]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from _common import SHARED_DATA, WORK, machine, print_table, run_child, save

CHILD_PLAIN = """
import av, time
path = sys.argv[1]
def run(rgb):
    t = time.perf_counter(); n = 0
    with av.open(path) as c:
        s = c.streams.video[0]; s.thread_type = 'AUTO'
        for f in c.decode(s):
            if rgb: f.to_ndarray(format='rgb24')
            n += 1
    return n, time.perf_counter() - t
n, t_rgb = run(True)
_, t_dec = run(False)
result = {'frames': n, 'decode_rgb_fps': n / t_rgb, 'decode_only_fps': n / t_dec}
"""

CHILD_INGEST = """
import time, shutil
from pathlib import Path
from napari_superanimal import open_video
path, store, codec = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
shutil.rmtree(store, ignore_errors=True)
t = time.perf_counter()
v = open_video(path, store=store, convert=False, codec=codec)
t_open = time.perf_counter() - t
v.convert()
t_total = time.perf_counter() - t
result = {'frames': len(v), 'ingest_s': t_total, 'index_s': t_open, 'ingest_fps': len(v) / t_total,
          'store_mb': v.store.nbytes_on_disk() / 1e6, 'channels': v.store.channels}
"""

CHILD_PSNR = """
import av, numpy as np
from napari_superanimal import open_video
path, store = sys.argv[1], sys.argv[2]
v = open_video(store)
picks = set(np.linspace(0, len(v) - 1, 60).astype(int).tolist())
vals = []
with av.open(path) as c:
    for i, f in enumerate(c.decode(video=0)):
        if i in picks:
            ref = f.to_ndarray(format='rgb24').astype(np.float64)
            mse = np.mean((v.read_frame(i) - ref) ** 2)
            vals.append(99.0 if mse == 0 else 10 * np.log10(255 ** 2 / mse))
result = {'psnr_mean': float(np.mean(vals)), 'psnr_min': float(np.min(vals))}
"""

CHILD_OPEN = """
import time
t = time.perf_counter()
from napari_superanimal import open_video
t_import = time.perf_counter() - t
t = time.perf_counter()
v = open_video(sys.argv[1])
np_frame = v.frames[len(v) // 2].compute()
result = {'open_s': time.perf_counter() - t, 'complete': v.complete, 'import_s': t_import}
"""

CHILD_RANDOM = """
import time, numpy as np
mode, path, store, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
idx = np.random.default_rng(0).integers(0, n, 200)
times = []
if mode in ('store', 'dask'):
    from napari_superanimal import open_video
    v = open_video(store)
    np.asarray(v.frames[0])
    for i in idx:
        t = time.perf_counter()
        if mode == 'store':
            v.read_frame(int(i))
        else:
            np.asarray(v.frames[int(i)])
        times.append(time.perf_counter() - t)
elif mode == 'pyav':
    from napari_superanimal.video.decode import FrameReader
    from napari_superanimal.video.store import FrameStore
    r = FrameReader(path, FrameStore.open(store).video_index())
    for i in idx:
        t = time.perf_counter(); r.read(int(i)); times.append(time.perf_counter() - t)
else:
    import cv2
    cap = cv2.VideoCapture(path)
    for i in idx:
        t = time.perf_counter()
        cap.set(cv2.CAP_PROP_POS_FRAMES, int(i)); ok, frame = cap.read()
        times.append(time.perf_counter() - t)
        assert ok
a = np.asarray(times) * 1e3
result = {'p50_ms': float(np.percentile(a, 50)), 'p95_ms': float(np.percentile(a, 95))}
"""


def bench_one(name: str, path: Path) -> dict:
    store = WORK / f"{name}.frames.zarr"
    print(f"-- {name}: {path}", flush=True)
    plain = run_child(CHILD_PLAIN, str(path))
    ingest = run_child(CHILD_INGEST, str(path), str(store), "jpeg")
    psnr = run_child(CHILD_PSNR, str(path), str(store))
    opened = min(
        (run_child(CHILD_OPEN, str(store)) for _ in range(3)),
        key=lambda r: r["import_s"] + r["open_s"],
    )
    n = ingest["frames"]
    rand = {
        m: run_child(CHILD_RANDOM, m, str(path), str(store), str(n))
        for m in ("store", "dask", "pyav", "opencv")
    }
    source_mb = path.stat().st_size / 1e6
    row = {
        "video": name,
        "frames": n,
        "source_MB": source_mb,
        "store_MB": ingest["store_mb"],
        "size_x_source": ingest["store_mb"] / source_mb,
        "psnr_mean_dB": psnr["psnr_mean"],
        "psnr_min_dB": psnr["psnr_min"],
        "channels": ingest["channels"],
        "ingest_fps": ingest["ingest_fps"],
        "decode_rgb_fps": plain["decode_rgb_fps"],
        "decode_only_fps": plain["decode_only_fps"],
        "ingest_vs_decode_rgb": ingest["ingest_fps"] / plain["decode_rgb_fps"],
        "ingest_vs_decode_only": ingest["ingest_fps"] / plain["decode_only_fps"],
        "open_s": opened["open_s"],
        "import_s": opened["import_s"],
        "import_and_open_s": opened["import_s"] + opened["open_s"],
        "store_p50_ms": rand["store"]["p50_ms"],
        "store_p95_ms": rand["store"]["p95_ms"],
        "dask_p50_ms": rand["dask"]["p50_ms"],
        "dask_p95_ms": rand["dask"]["p95_ms"],
        "pyav_p50_ms": rand["pyav"]["p50_ms"],
        "pyav_p95_ms": rand["pyav"]["p95_ms"],
        "opencv_p50_ms": rand["opencv"]["p50_ms"],
        "opencv_p95_ms": rand["opencv"]["p95_ms"],
        "opencv_over_store_p50": rand["opencv"]["p50_ms"] / rand["store"]["p50_ms"],
        "opencv_over_dask_p50": rand["opencv"]["p50_ms"] / rand["dask"]["p50_ms"],
        "rss_ingest_MB": ingest["peak_rss_mb"],
        "rss_random_store_MB": rand["store"]["peak_rss_mb"],
        "rss_plain_decode_MB": plain["peak_rss_mb"],
    }
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lengths", type=int, nargs="*", default=[1000, 10000, 100000])
    parser.add_argument("--no-real", action="store_true")
    args = parser.parse_args()
    videos = []
    real = SHARED_DATA / "openfield" / "m3v1mp4.mp4"
    if real.exists() and not args.no_real:
        videos.append(("openfield_m3v1mp4", real))
    sys.path.insert(0, str(Path(__file__).parent))
    from make_long_video import make

    for n in args.lengths:
        path = WORK / f"synthetic_{n}.mp4"
        if not path.exists():
            print(f"making {path} ...", flush=True)
            WORK.mkdir(parents=True, exist_ok=True)
            make(n, path)
        videos.append((f"synthetic_{n}", path))
    rows = [bench_one(name, path) for name, path in videos]
    print(f"\nmachine: {machine()}\n")
    print_table(
        rows,
        [
            "video",
            "frames",
            "source_MB",
            "store_MB",
            "size_x_source",
            "psnr_mean_dB",
            "psnr_min_dB",
            "channels",
        ],
    )
    print()
    print_table(
        rows,
        [
            "video",
            "ingest_fps",
            "decode_rgb_fps",
            "decode_only_fps",
            "ingest_vs_decode_rgb",
            "ingest_vs_decode_only",
            "open_s",
            "import_s",
            "import_and_open_s",
        ],
    )
    print()
    print_table(
        rows,
        [
            "video",
            "store_p50_ms",
            "store_p95_ms",
            "dask_p50_ms",
            "dask_p95_ms",
            "pyav_p50_ms",
            "pyav_p95_ms",
            "opencv_p50_ms",
            "opencv_p95_ms",
            "opencv_over_store_p50",
            "opencv_over_dask_p50",
        ],
    )
    print()
    print_table(rows, ["video", "rss_ingest_MB", "rss_random_store_MB", "rss_plain_decode_MB"])
    save("bench_video", {"machine": machine(), "rows": rows})


if __name__ == "__main__":
    main()
