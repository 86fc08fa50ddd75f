"""``napari-superanimal ingest VIDEO...``: convert videos into frame stores; print their paths."""

from __future__ import annotations

import argparse
import sys

from ..errors import StoreError
from ._common import add_quiet, add_store_options, frame_bar, stores_for

HELP = "convert videos into frame stores; print their paths"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("video", nargs="+", help="one or more videos (several: on a dask cluster)")
    p.add_argument("--scheduler", help="a dask.distributed scheduler address")
    p.add_argument("--workers", type=int, help="local cluster size (default 2)")
    add_store_options(p)
    p.add_argument(
        "--codec",
        choices=("jpeg", "lossless"),
        help="frame codec of a new store: jpeg (default, ~25x smaller) or lossless "
        "(bit-exact); an existing store with another codec needs --overwrite",
    )
    p.add_argument("--quality", type=int, default=90, help="JPEG quality 1-100 (default 90)")
    p.add_argument("--overwrite", action="store_true", help="rebuild an existing store")
    add_quiet(p)


def run(args: argparse.Namespace) -> int:
    from ..video import open_video

    stores = stores_for(args)
    options = dict(convert=False, codec=args.codec, quality=args.quality, overwrite=args.overwrite)
    if len(args.video) > 1 or args.scheduler:
        from ..cluster import ingest_videos

        # A bad file fails here, in one line; the workers then fill the stores made here.
        targets = [
            str(open_video(path, store=stores[path], **options).store_path) for path in args.video
        ]
        for store in ingest_videos(targets, scheduler=args.scheduler, n_workers=args.workers or 2):
            print(store)
        return 0
    video = open_video(args.video[0], store=stores[args.video[0]], **options)
    if video.complete:  # converted before: check every frame, re-convert only what is damaged
        repair(video, args.quiet)
    else:
        with frame_bar(len(video), f"ingest {video.name}", args.quiet) as bar:
            for done in video.convert_iter():
                bar.update(done - bar.n)
    print(video.store_path)
    return 0


def repair(video, quiet: bool) -> None:
    """Verify a converted store in full; re-convert its damaged shards from the video."""
    with frame_bar(len(video), f"verify {video.name}", quiet) as bar:
        damage = video.store.verify(lambda done, _: bar.update(done - bar.n))
    if not damage:
        return
    for d in damage:
        print(f"{video.store_path}: {d}; re-converting", file=sys.stderr)
    video.repair(damage)
    left = video.store.verify()
    if left:
        raise StoreError(f"{video.store_path}: still damaged after re-converting ({left[0]})")
