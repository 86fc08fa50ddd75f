"""``napari-superanimal register-reader``: napari opens videos with this plugin, no dialog."""

from __future__ import annotations

import argparse

from ._common import PROG

NAME = "register-reader"
HELP = "make napari open video files with this plugin (no chooser dialog)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--force", action="store_true", help="also take patterns given to others")
    p.add_argument("--quiet", action="store_true")


def run(args: argparse.Namespace) -> int:
    from .._napari.settings import register_reader

    owned = register_reader(force=args.force)
    if not args.quiet:
        print(f"napari opens {', '.join(sorted(owned)) or 'nothing new'} with {PROG}")
    return 0
