"""``napari-superanimal verify STORE``: read every frame of a frame store; say what is damaged.

Every written shard must exist and every frame decode (with its checksum, for stores that have
them; older stores are decoded in full). Exit status 0 when nothing is damaged (an incomplete
store is said so, not damage), 1 otherwise, one line per damaged shard on stdout.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ._common import add_quiet, frame_bar

HELP = "check every frame of a frame store; list damaged frames"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("store", help="a frame store (folder or URL), or a video (its default store)")
    add_quiet(p)


def run(args: argparse.Namespace) -> int:
    from ..errors import StoreError
    from ..video import FrameStore, default_store_path
    from ..video.probe import VIDEO_SUFFIXES

    target = args.store
    if Path(target).suffix.lower() in VIDEO_SUFFIXES and Path(target).is_file():
        target = default_store_path(target)
    if not FrameStore.is_store(target):
        raise StoreError(f"{target}: not a napari-superanimal frame store")
    store = FrameStore.open(target, mode="r")
    written = store.n_frames if store.complete else store.frames_written
    with frame_bar(written, f"verify {Path(str(target)).name}", args.quiet) as bar:
        damage = store.verify(lambda done, _: bar.update(done - bar.n))
    for d in damage:
        print(f"{target}: {d}")
    state = "complete" if store.complete else f"incomplete, {written} of {store.n_frames} frames"
    checked = "checksums" if store.meta["storage"].get("checksum") else "decoded, no checksums"
    if damage:
        lost = sum(d.last - d.first + 1 for d in damage)
        print(f"{target}: {lost} of {written} frames damaged ({state}; {checked})")
        return 1
    print(f"{target}: {written} frames ok ({state}; {checked})")
    return 0
