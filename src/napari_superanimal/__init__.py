"""napari-superanimal: label animal pose in video with SuperAnimal models in the loop.

The package is a headless core (``video``, ``zoo``, ``model``, ``labels``, ``train``,
``suggest``, ``metrics``, ``session``, ``cluster``) that imports neither Qt nor napari, the
command line (``cli``), and a thin napari layer (``_napari``). The public API::

    from napari_superanimal import open_video, load_model, Session
    v = open_video("mouse.mp4")                      # lazy frames; converts in the background
    v.frames[100]                                     # a dask array (T, H, W, 3) uint8
    model = load_model("superanimal_topviewmouse")    # a PoseEstimator (weights: caches, hub)
    with Session.open("mouse.mp4", model=model) as s:
        s.predict(frames=range(100))
        s.label(10, "nose", 101.5, 80.0)
    s = Session.open("mouse.mp4")
    show_session(s)                                   # in napari (Jupyter: %gui qt first)

Everything is imported lazily, so ``import napari_superanimal`` stays cheap (napari scans
plugins at start-up) and PyTorch loads only when a model does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = [
    "Session",
    "StoreError",
    "SuperAnimalError",
    "VideoError",
    "__version__",
    "load_model",
    "open_video",
    "show_session",
]

if TYPE_CHECKING:
    from ._napari.show import show_session
    from .errors import StoreError, SuperAnimalError, VideoError
    from .model.inference import load_model
    from .session import Session
    from .video import open_video

_LAZY = {
    "open_video": ("video", "open_video"),
    "load_model": ("model.inference", "load_model"),
    "Session": ("session", "Session"),
    "show_session": ("_napari.show", "show_session"),
    "SuperAnimalError": ("errors", "SuperAnimalError"),
    "VideoError": ("errors", "VideoError"),
    "StoreError": ("errors", "StoreError"),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from importlib import import_module

        module, attr = _LAZY[name]
        return getattr(import_module(f".{module}", __name__), attr)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
