"""One video, its project and a model, as the widget, Jupyter and the CLI use them.

Example::

    from napari_superanimal.session import Session
    with Session.open("mouse.mp4") as s:
        s.label(10, "nose", 101.5, 80.0)
"""

from ..labels.model import FramePoint
from .events import SessionEvents
from .session import DEFAULT_KEYPOINTS, Session

__all__ = ["DEFAULT_KEYPOINTS", "FramePoint", "Session", "SessionEvents"]
