"""Which frame to label next: rank frames by low confidence, temporal jumps and diversity.

Headless (no Qt, no napari): the session, the command line and the napari timeline dock all
call :func:`suggest_frames`. One module per signal:

- :mod:`.confidence`: frames whose keypoints the model is least sure of;
- :mod:`.jumps`: keypoints moving implausibly fast between consecutive frames;
- :mod:`.swaps`: with several animals, frames where two of them may have traded names;
- :mod:`.thumbnails` + :mod:`.diversity`: k-means on small grayscale thumbnails of sampled
  frames, so suggestions cover different poses and places;
- :mod:`.combined`: the default, which weighs the first two and spreads picks with the third.

Example::

    from napari_superanimal.suggest import compute_thumbnails, suggest_frames
    thumbs = compute_thumbnails(session.frames)          # a few hundred frames, not all
    suggest_frames(session.all_predictions(), session.labeled_frames(), n=20,
                   thumbnails=thumbs)                    # array of frame indices, best first
"""

from __future__ import annotations

from .confidence import confidence_scores, frame_confidence
from .jumps import jump_scores
from .ranking import STRATEGIES, suggest_frames
from .robust import SuggestError
from .swaps import likely_swaps, swap_scores
from .thumbnails import Thumbnails, compute_thumbnails

__all__ = [
    "STRATEGIES",
    "SuggestError",
    "Thumbnails",
    "compute_thumbnails",
    "confidence_scores",
    "frame_confidence",
    "jump_scores",
    "likely_swaps",
    "suggest_frames",
    "swap_scores",
]
