"""Terminal progress bars for long work (ingest, predict, demo), on stderr."""

from __future__ import annotations

import sys

from tqdm import tqdm


def frame_bar(total: int, desc: str, quiet: bool = False) -> tqdm:
    """A frames-counting bar; ``bar.update(done - bar.n)`` moves it to ``done``."""
    return tqdm(total=total, unit="frame", desc=desc, disable=quiet, file=sys.stderr)
