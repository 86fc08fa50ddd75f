"""A synthetic top-view mouse video with ground-truth keypoints, made on the spot.

The arena floor is smooth random texture inside a darker wall; the mouse is a body and a head
(ellipses), two ears and a curved tail, and it wanders, turns and changes speed. Keypoint names
follow SuperAnimal TopViewMouse (a subset), so the same video serves the demo, tests and
benchmarks without any download.

Example::

    from napari_superanimal.demo.mouse import make_mouse_video
    video_path, keypoints = make_mouse_video("/tmp/mouse.mp4", n_frames=300)
    keypoints.shape   # (300, 7, 2): x, y per frame and keypoint
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from scipy import ndimage
from skimage import draw

from ..video.synthetic import write_video

KEYPOINTS = ("nose", "left_ear", "right_ear", "neck", "mid_back", "tail_base", "tail_end")
_BODY = 26.0  # body half-length in pixels at the default size


def mouse_path(n_frames: int, height: int, width: int, seed: int = 0):
    """Smooth positions ``(T, 2)`` (x, y) and headings ``(T,)`` inside the arena."""
    rng = np.random.default_rng(seed)
    margin = 0.3 * min(height, width)
    pos = np.array([width / 2, height / 2], dtype=float)
    heading = rng.uniform(0, 2 * np.pi)
    speed = 1.5
    xy, angles = np.empty((n_frames, 2)), np.empty(n_frames)
    for t in range(n_frames):
        heading += rng.normal(0, 0.12)
        speed = float(np.clip(speed + rng.normal(0, 0.3), 0.0, 4.0))
        step = speed * np.array([np.cos(heading), np.sin(heading)])
        nxt = pos + step
        if not (margin < nxt[0] < width - margin and margin < nxt[1] < height - margin):
            centre = np.array([width / 2, height / 2])
            heading = np.arctan2(*(centre - pos)[::-1]) + rng.normal(0, 0.3)
            nxt = pos + speed * np.array([np.cos(heading), np.sin(heading)])
        pos = nxt
        xy[t], angles[t] = pos, heading
    return xy, angles


def _rotate(points: np.ndarray, angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return points @ np.array([[c, s], [-s, c]])


def mouse_keypoints(centre: np.ndarray, heading: float, wag: float, scale: float) -> np.ndarray:
    """The 7 keypoints (x, y) of a mouse at ``centre`` facing ``heading`` (radians)."""
    b = _BODY * scale
    local = np.array(
        [
            [1.75 * b, 0.0],  # nose
            [1.05 * b, -0.42 * b],  # left_ear
            [1.05 * b, 0.42 * b],  # right_ear
            [0.85 * b, 0.0],  # neck
            [0.0, 0.0],  # mid_back
            [-0.95 * b, 0.0],  # tail_base
            [-2.3 * b, 0.9 * b * np.sin(wag)],  # tail_end
        ]
    )
    return centre + _rotate(local, heading)


def render_frame(
    floor: np.ndarray, kp: np.ndarray, heading: float, scale: float, rng: np.random.Generator
) -> np.ndarray:
    """Draw the mouse described by keypoints ``kp`` on a copy of ``floor``."""
    img = floor.copy()
    draw_mouse(img, kp, heading, scale)
    return finish_frame(img, rng)


def draw_mouse(img: np.ndarray, kp: np.ndarray, heading: float, scale: float) -> None:
    """Draw a mouse (keypoints ``kp``, facing ``heading``) on the float image ``img``."""
    h, w = img.shape[:2]
    b = _BODY * scale
    rot = -heading  # skimage's ellipse rotation is counter-clockwise in (row, col)
    body = kp[4] + 0.05 * (kp[3] - kp[5])
    rr, cc = draw.ellipse(body[1], body[0], 0.55 * b, 1.1 * b, shape=(h, w), rotation=rot)
    img[rr, cc] = (58, 52, 50)
    head = (kp[0] + kp[3]) / 2
    rr, cc = draw.ellipse(head[1], head[0], 0.38 * b, 0.55 * b, shape=(h, w), rotation=rot)
    img[rr, cc] = (70, 62, 60)
    for ear in kp[1:3]:
        rr, cc = draw.disk((ear[1], ear[0]), 0.22 * b, shape=(h, w))
        img[rr, cc] = (190, 140, 140)
    rr, cc = draw.disk((kp[0][1], kp[0][0]), 0.09 * b + 1, shape=(h, w))
    img[rr, cc] = (220, 150, 160)
    mid = (kp[5] + kp[6]) / 2 + _rotate(np.array([[0.0, 0.35 * b]]), heading)[0] * 0.3
    for a, z in ((kp[5], mid), (mid, kp[6])):
        rr, cc, val = draw.line_aa(int(a[1]), int(a[0]), int(z[1]), int(z[0]))
        ok = (rr >= 0) & (rr < h) & (cc >= 0) & (cc < w)
        for d in (-1, 0, 1):
            r2 = np.clip(rr[ok] + d, 0, h - 1)
            img[r2, cc[ok]] = (
                img[r2, cc[ok]] * (1 - val[ok, None]) + np.array([150, 110, 110]) * val[ok, None]
            )


def finish_frame(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The camera's blur and noise on a drawn float image; uint8."""
    img = ndimage.gaussian_filter(img.astype(np.float32), sigma=(0.7, 0.7, 0))
    img += rng.normal(0, 3.0, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def make_floor(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A textured arena floor with a darker wall, ``(H, W, 3)`` float32."""
    rng = np.random.default_rng(seed + 1)
    tex = ndimage.gaussian_filter(rng.normal(0, 1, (height, width)), 6)
    tex = (tex - tex.min()) / (np.ptp(tex) + 1e-9)
    floor = 170 + 50 * tex
    speckle = ndimage.gaussian_filter(rng.normal(0, 1, (height, width)), 1.2) * 12
    floor = floor + speckle
    wall = max(6, int(0.04 * min(height, width)))
    floor[:wall], floor[-wall:], floor[:, :wall], floor[:, -wall:] = 90, 90, 90, 90
    return np.stack([floor * 1.0, floor * 0.97, floor * 0.9], axis=-1).astype(np.float32)


def make_mouse_video(
    path: str | os.PathLike,
    n_frames: int = 300,
    size: tuple[int, int] = (256, 320),
    fps: int = 30,
    seed: int = 0,
) -> tuple[Path, np.ndarray]:
    """Write the synthetic video to ``path`` (H.264) and return ``(path, keypoints)``.

    ``keypoints`` is ``(T, len(KEYPOINTS), 2)`` float32 (x, y) in pixels. The ground truth is
    also written beside the video as ``<name>.keypoints.npz``.
    """
    path = Path(path)
    height, width = size
    scale = min(height, width) / 256
    rng = np.random.default_rng(seed)
    floor = make_floor(height, width, seed)
    centres, headings = mouse_path(n_frames, height, width, seed)
    truth = np.empty((n_frames, len(KEYPOINTS), 2), np.float32)

    def frames():
        for t in range(n_frames):
            truth[t] = mouse_keypoints(centres[t], headings[t], wag=0.35 * t, scale=scale)
            yield render_frame(floor, truth[t], headings[t], scale, rng)

    write_video(path, frames(), fps, "libx264", {"crf": "20", "preset": "veryfast", "g": "60"})
    np.savez(path.with_suffix(".keypoints.npz"), keypoints=truth, names=np.array(KEYPOINTS))
    return path, truth
