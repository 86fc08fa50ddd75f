"""The session the format tests import into and export from."""

from __future__ import annotations

import pytest

from napari_superanimal.session import Session
from napari_superanimal.video import open_video


@pytest.fixture()
def session(video_copy, tmp_path, request):
    """A session on the index video with the test module's ``KEYPOINTS`` and, when it has them,
    its ``EDGES`` as the skeleton; the project in ``tmp_path / "proj"``."""
    video = open_video(video_copy, convert=False)
    with Session.open(video, keypoints=request.module.KEYPOINTS, project=tmp_path / "proj") as s:
        edges = getattr(request.module, "EDGES", None)
        if edges:
            s.project.set_skeleton(edges)
        yield s
