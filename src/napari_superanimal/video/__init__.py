"""Video frames for labeling: PyAV decoding, a zarr v3 frame store, lazy dask access."""

from .probe import VIDEO_SUFFIXES, VideoIndex, index_video
from .store import FrameStore
from .video import Video, default_store_path, open_video

__all__ = [
    "VIDEO_SUFFIXES",
    "FrameStore",
    "Video",
    "VideoIndex",
    "default_store_path",
    "index_video",
    "open_video",
]
