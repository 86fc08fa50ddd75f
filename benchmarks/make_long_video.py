"""Make long synthetic 640x480 test videos quickly (``python make_long_video.py N OUT.mp4``).

A drifting texture, a moving dark blob and the frame index as bits, encoded with libx264's
defaults for GOP (250) and B-frames (3), at CRF 23: a realistic stand-in for hours of video.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from scipy import ndimage

from napari_superanimal.video.synthetic import BITS, write_video

H, W = 480, 640


def make(n_frames: int, out: Path, fps: int = 30) -> Path:
    rng = np.random.default_rng(0)
    tex = ndimage.gaussian_filter(rng.normal(0, 1, (H + 64, W + 64)), 5)
    tex = (150 + 60 * tex / tex.std()).clip(0, 255).astype(np.uint8)
    yy, xx = np.mgrid[0:H, 0:W]
    tmp = out.with_suffix(".partial.mp4")

    def frames():
        for i in range(n_frames):
            dy, dx = int(32 + 30 * np.sin(i / 97)), int(32 + 30 * np.cos(i / 61))
            gray = tex[dy : dy + H, dx : dx + W].copy()
            cy, cx = H / 2 + 150 * np.sin(i / 40), W / 2 + 220 * np.cos(i / 53)
            gray[(yy - cy) ** 2 / 900 + (xx - cx) ** 2 / 2500 < 1] = 40
            frame = np.repeat(gray[..., None], 3, axis=-1)
            frame[..., 0] = np.clip(frame[..., 0].astype(np.int16) + 12, 0, 255)
            for bit in range(BITS):
                frame[0:8, bit * 8 : (bit + 1) * 8] = 255 if (i >> bit) & 1 else 0
            yield frame

    write_video(tmp, frames(), fps, "libx264", {"preset": "veryfast", "crf": "23"})
    tmp.replace(out)
    return out


if __name__ == "__main__":
    make(int(sys.argv[1]), Path(sys.argv[2]))
