"""Sample data: the synthetic top-view mouse video, opened through this plugin's reader."""

from __future__ import annotations

from ..demo.mouse import make_mouse_video
from ..video.video import cache_dir
from .reader import read_video


def synthetic_mouse_video() -> list[tuple]:
    """Make (once) and open a 300-frame synthetic mouse video from the cache folder."""
    folder = cache_dir() / "samples"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "synthetic_mouse.mp4"
    if not path.exists():
        make_mouse_video(path.with_suffix(".partial.mp4"), n_frames=300)
        path.with_suffix(".partial.mp4").replace(path)
        path.with_suffix(".partial.keypoints.npz").replace(path.with_suffix(".keypoints.npz"))
    return read_video(str(path))
