"""The ``napari-superanimal`` command line: one module per subcommand, its options beside it.

Subcommands: ``open`` (a video in napari), ``ingest`` (convert to a frame store; run again, it
repairs one), ``verify`` (check a store's every frame), ``predict`` (keypoints on every frame,
as a DeepLabCut ``.h5``), ``train`` (one fine-tuning round),
``adapt`` (video adaptation, no labels), ``export`` (a DLC ``.h5``, a DLC project, SLEAP
``.slp`` or COCO JSON), ``import`` (labels from DLC, SLEAP or COCO), ``suggest`` (frames to label
next), ``demo``, ``register-reader``. Each module has ``HELP``, ``add_arguments(parser)`` and
``run(args)`` (and ``NAME`` when the command is not the module's name). Only ``open``, ``demo``
and ``register-reader`` reach napari. Bad input ends with a one-line reason on stderr and exit
status 1.

Example::

    napari-superanimal ingest mouse.mp4          # prints the store path
    napari-superanimal open mouse.mp4
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .. import __version__
from ..errors import SuperAnimalError
from . import (
    adapt,
    demo,
    export,
    import_labels,
    ingest,
    open,
    predict,
    register_reader,
    suggest,
    train,
    verify,
)
from ._common import PROG

COMMANDS = (
    open,
    ingest,
    verify,
    predict,
    train,
    export,
    adapt,
    import_labels,
    suggest,
    demo,
    register_reader,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        name = getattr(command, "NAME", command.__name__.rsplit(".", 1)[-1])
        p = sub.add_parser(name, help=command.HELP, description=command.__doc__.split("\n\n")[0])
        command.add_arguments(p)
        p.set_defaults(func=command.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``napari-superanimal`` console script."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (SuperAnimalError, ValueError, OSError) as err:
        print(f"{PROG}: error: {one_line(err)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130


def one_line(err: BaseException) -> str:
    """An error as one line (OS errors name the file and the reason)."""
    if isinstance(err, OSError) and not isinstance(err, SuperAnimalError) and err.filename:
        return f"{err.filename}: {err.strerror or err}"
    return " ".join(str(err).split()) or type(err).__name__
