"""Make this plugin napari's reader for video files, so ``napari video.mp4`` needs no dialog.

napari asks the user to choose when several plugins claim a file (napari's built-in reader and
napari-video also claim .mp4/.avi/.mov). napari's own answer to that is the reader preference
``settings.plugins.extension2reader``; :func:`register_reader` writes it for our patterns, and
leaves alone any pattern the user has already given to another plugin unless ``force=True``.

Example::

    from napari_superanimal.settings import register_reader
    register_reader()   # {'*.mp4': 'napari-superanimal', ...}
"""

from __future__ import annotations

PLUGIN = "napari-superanimal"
#: napari matches preference patterns against the real path; folders end with a separator.
READER_PATTERNS = (
    "*.mp4",
    "*.MP4",
    "*.avi",
    "*.AVI",
    "*.mov",
    "*.MOV",
    "*.mkv",
    "*.MKV",
    "*.m4v",
    "*.frames.zarr/",
)


def register_reader(force: bool = False) -> dict[str, str]:
    """Record napari-superanimal as the preferred reader; return the patterns it now owns."""
    from napari.settings import get_settings

    settings = get_settings()
    current = dict(settings.plugins.extension2reader)
    owned = {}
    for pattern in READER_PATTERNS:
        if force or current.get(pattern) in (None, PLUGIN):
            current[pattern] = PLUGIN
            owned[pattern] = PLUGIN
    settings.plugins.extension2reader = current
    settings.save()
    return owned
