"""Errors that reach the user as one line.

Every problem with the user's input (a file that is not a video, a store made from a different
video, ...) is raised as a subclass of :class:`SuperAnimalError` whose message is a single line
naming the file and what is wrong. The CLI prints it and exits non-zero; the napari layer shows
it as a notification.
"""

from __future__ import annotations


class SuperAnimalError(Exception):
    """Base class for problems the user can fix; ``str(err)`` is one line."""

    def __init__(self, message: str):
        super().__init__(" ".join(str(message).split()))


class VideoError(SuperAnimalError, ValueError):
    """A video cannot be opened or decoded (missing, not a video, truncated, no frames)."""


class StoreError(SuperAnimalError, ValueError):
    """A frame store is unusable: made from a different video, foreign, or from newer code."""


class LabelFormatError(SuperAnimalError, ValueError):
    """A label file (DeepLabCut, SLEAP, COCO) is malformed or does not fit the project."""
