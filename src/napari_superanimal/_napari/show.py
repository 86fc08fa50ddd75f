"""Show a :class:`~napari_superanimal.session.Session` in napari: the video, its keypoints and
the labeling dock. From Jupyter, run ``%gui qt`` first.

Example::

    from napari_superanimal import Session
    from napari_superanimal._napari.show import show_session
    widget = show_session(Session.open("mouse.mp4"))
"""

from __future__ import annotations


def show_session(session, viewer=None):
    """Show ``session`` in ``viewer`` (the current one, or a new one) with the labeling widget
    wired to it; returns the widget."""
    import napari

    from .reader import WIDGET_NAME
    from .widget import LabelingWidget

    viewer = viewer or napari.current_viewer() or napari.Viewer()
    widget = LabelingWidget(viewer, session=session)
    viewer.window.add_dock_widget(widget, name=WIDGET_NAME, area="right")
    return widget
