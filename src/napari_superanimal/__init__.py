"""napari-superanimal: label animal pose in video with SuperAnimal models in the loop.

The package is a headless core (``video``, ...) that imports neither Qt nor napari, and a thin
napari layer in ``_napari``. Example::

    from napari_superanimal import open_video
    v = open_video("mouse.mp4")        # converts in the background on first open
    v.frames[100]                      # a lazy dask array (T, H, W, 3) uint8
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["open_video", "SuperAnimalError", "VideoError", "StoreError", "__version__"]

if TYPE_CHECKING:
    from .errors import StoreError, SuperAnimalError, VideoError
    from .video import open_video


def __getattr__(name: str) -> Any:
    # Imported lazily so that `import napari_superanimal` stays cheap for napari's plugin scan.
    if name == "open_video":
        from .video import open_video

        return open_video
    if name in {"SuperAnimalError", "VideoError", "StoreError"}:
        from . import errors

        return getattr(errors, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
