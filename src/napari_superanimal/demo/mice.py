"""A synthetic top-view video of two or three mice whose paths cross, identities known.

Mice 1 and 2 run the same figure-eight mirrored left to right, so they meet head-on in the
middle of the arena twice a lap and pass each other side by side, their bodies touching; a
third mouse runs up and down through the middle, across both. The mice are drawn as in
:mod:`.mouse` (same keypoints), in a fixed order, so where they overlap the later one hides
the earlier. The ground truth says which mouse is which on every frame: what an identity
switch benchmark needs.

Example::

    from napari_superanimal.demo.mice import make_mice_video
    path, truth = make_mice_video("/tmp/mice.mp4", n_frames=300, n_mice=3)
    truth.shape    # (300, 3, 7, 2): x, y per frame, mouse and keypoint
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..video.synthetic import write_video
from .mouse import KEYPOINTS, draw_mouse, finish_frame, make_floor, mouse_keypoints

LAP = 150  # frames for mice 1 and 2 to run their figure-eight once (they meet twice a lap)
PASS_GAP = 0.45  # how far apart (in body half-lengths) mice 1 and 2 pass, centre to centre


def mice_paths(n_frames: int, n_mice: int, height: int, width: int, seed: int = 0):
    """Centres ``(T, n_mice, 2)`` (x, y) and headings ``(T, n_mice)`` of crossing mice."""
    if not 2 <= n_mice <= 3:
        raise ValueError(f"the crossing video has 2 or 3 mice, not {n_mice}")
    rng = np.random.default_rng(seed)
    speed = 1 + 0.25 * np.sin(np.linspace(0, 5, n_frames) + rng.uniform(0, 6))
    phase = 2 * np.pi * np.cumsum(speed) / LAP + rng.uniform(0, 0.5)
    cx, cy = width / 2, height / 2
    gap = PASS_GAP * 26.0 * min(height, width) / 256
    rx, ry = 0.3 * width, 0.12 * height
    xy = np.empty((n_frames, n_mice, 2))
    xy[:, 0] = np.stack([cx + rx * np.cos(phase), cy - gap + ry * np.sin(2 * phase)], axis=1)
    xy[:, 1] = np.stack([cx - rx * np.cos(phase), cy + gap + ry * np.sin(2 * phase)], axis=1)
    if n_mice == 3:
        slow = 0.77 * phase + 1.0
        xy[:, 2] = np.stack([cx + 0.1 * width * np.sin(slow), cy + 0.3 * height * np.cos(slow)], 1)
    velocity = np.gradient(xy, axis=0)
    headings = np.arctan2(velocity[..., 1], velocity[..., 0])
    return xy, headings


def make_mice_video(
    path: str | os.PathLike,
    n_frames: int = 300,
    n_mice: int = 2,
    size: tuple[int, int] = (256, 320),
    fps: int = 30,
    seed: int = 0,
) -> tuple[Path, np.ndarray]:
    """Write the video to ``path`` (H.264) and return ``(path, truth)``: ``(T, n_mice,
    len(KEYPOINTS), 2)`` float32 x, y, mouse ``i`` in row ``i`` on every frame. The truth is
    also written beside the video as ``<name>.keypoints.npz``."""
    path = Path(path)
    height, width = size
    scale = min(height, width) / 256
    rng = np.random.default_rng(seed)
    floor = make_floor(height, width, seed)
    centres, headings = mice_paths(n_frames, n_mice, height, width, seed)
    truth = np.empty((n_frames, n_mice, len(KEYPOINTS), 2), np.float32)

    def frames():
        for t in range(n_frames):
            img = floor.copy()
            for m in range(n_mice):
                wag = 0.35 * t + 2.0 * m
                truth[t, m] = mouse_keypoints(centres[t, m], headings[t, m], wag, scale)
                draw_mouse(img, truth[t, m], headings[t, m], scale)
            yield finish_frame(img, rng)

    write_video(path, frames(), fps, "libx264", {"crf": "20", "preset": "veryfast", "g": "60"})
    np.savez(path.with_suffix(".keypoints.npz"), keypoints=truth, names=np.array(KEYPOINTS))
    return path, truth
