"""The public API the README shows, importable at the top level."""

from __future__ import annotations

import subprocess
import sys


def test_open_video_load_model_and_session_import_from_the_top():
    code = (
        "import sys\n"
        "from napari_superanimal import open_video, load_model, Session\n"
        "assert callable(open_video) and callable(load_model) and hasattr(Session, 'open')\n"
        "assert 'napari' not in sys.modules and 'qtpy' not in sys.modules\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_importing_the_package_loads_nothing_heavy():
    code = (
        "import sys, napari_superanimal\n"
        "heavy = [m for m in ('torch', 'napari', 'zarr', 'av') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
