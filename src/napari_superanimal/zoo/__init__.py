"""The SuperAnimal model zoo: keypoint sets, architectures, weight resolution and download."""

from .registry import KEYPOINT_SETS, ZooEntry, get_entry
from .weights import WeightsNotFoundError, WeightsSource, resolve_weights

__all__ = [
    "KEYPOINT_SETS",
    "WeightsNotFoundError",
    "WeightsSource",
    "ZooEntry",
    "get_entry",
    "resolve_weights",
]
