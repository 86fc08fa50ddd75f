"""Every exception napari-superanimal raises, in one place.

Every problem with the user's input (a file that is not a video, a store made from a different
video, a label file that does not fit the project, ...) is raised as a subclass of
:class:`SuperAnimalError` whose message is a single line naming the file and what is wrong. The
CLI prints it and exits non-zero; the napari layer shows it as a notification. Each subclass
also derives from the builtin a caller would expect (``ValueError`` for bad input,
``FileNotFoundError`` for missing weights, ...), so generic handlers keep working.

Example::

    from napari_superanimal.errors import SuperAnimalError
    try:
        session.label(10, "nose", 1e6, 0)
    except SuperAnimalError as err:
        print(err)          # one line: what is wrong and where
"""

from __future__ import annotations


class SuperAnimalError(Exception):
    """Base class for problems the user can fix; ``str(err)`` is one line."""

    def __init__(self, message: str):
        super().__init__(" ".join(str(message).split()))


# -- video and frame stores ------------------------------------------------------------------
class VideoError(SuperAnimalError, ValueError):
    """A video cannot be opened or decoded (missing, not a video, truncated, no frames)."""


class StoreError(SuperAnimalError, ValueError):
    """A frame store is unusable: made from a different video, foreign, or from newer code."""


# -- labels and projects ---------------------------------------------------------------------
class LabelFormatError(SuperAnimalError, ValueError):
    """A label file (DeepLabCut, SLEAP, COCO) is malformed or does not fit the project."""


class LabelStoreError(SuperAnimalError):
    """The label file is foreign, damaged, newer than this code, or in use by another writer."""


class ProjectError(SuperAnimalError):
    """A project folder is missing, foreign, newer than this code, or does not fit a model."""


class SessionError(SuperAnimalError, ValueError):
    """An edit or request that does not fit this session (unknown keypoint, frame, ...)."""


class AnimalsUnknownError(SessionError):
    """A network that sees animals in boxes has no detector, and nothing says where they are
    yet (no box drawn, no label): the user has to show it."""


# -- models ----------------------------------------------------------------------------------
class WeightsNotFoundError(SuperAnimalError, FileNotFoundError):
    """Weights are neither on disk nor downloadable; the message says how to get them."""


class CheckpointError(SuperAnimalError, ValueError):
    """A weights file is missing, unreadable, or does not fit the network."""


class ConversionError(SuperAnimalError, ValueError):
    """A conversion table that does not fit the project or the model."""


# -- training and suggestions ----------------------------------------------------------------
class TrainingError(SuperAnimalError, ValueError):
    """A round that cannot start (no labels, no model and no architecture, ...)."""


class RoundProcessError(SuperAnimalError, RuntimeError):
    """The training process failed or ended without a result."""


class SuggestError(SuperAnimalError, ValueError):
    """Suggestions cannot be computed from what was given (no predictions, bad shapes)."""


# -- internal signals (never reach the user) -------------------------------------------------
class NotGrayError(Exception):
    """A frame sampled as grey turned out to have colour: conversion restarts in colour."""
