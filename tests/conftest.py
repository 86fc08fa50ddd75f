"""Shared fixtures: small synthetic videos made by the tests themselves (no downloads)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from napari_superanimal.video.synthetic import decode_all, write_index_video

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Keep stores made in the cache folder out of the user's home."""
    monkeypatch.setenv("NAPARI_SUPERANIMAL_CACHE", str(tmp_path_factory.mktemp("cache")))


@pytest.fixture(scope="session")
def index_video(tmp_path_factory) -> Path:
    """150 frames, 96x160, libx264 with 3 B-frames and a 60-frame GOP, index drawn in."""
    folder = tmp_path_factory.mktemp("videos")
    return write_index_video(folder / "index.mp4", n_frames=150, gop=60, bframes=3)


@pytest.fixture(scope="session")
def index_frames(index_video) -> object:
    """Every frame of :func:`index_video`, decoded plainly in sequence: the reference."""
    return decode_all(index_video)


@pytest.fixture()
def video_copy(index_video, tmp_path) -> Path:
    """A private copy of the index video, so a test may put stores beside it."""
    target = tmp_path / "clip.mp4"
    target.write_bytes(index_video.read_bytes())
    return target


def pytest_collection_modifyitems(config, items):
    # GUI tests need a display: under `make test` they run inside xvfb-run.
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return
    skip = pytest.mark.skip(reason="needs a display: run under xvfb-run (make test)")
    for item in items:
        if "gui" in item.keywords:
            item.add_marker(skip)
