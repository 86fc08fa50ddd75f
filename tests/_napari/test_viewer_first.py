"""No import order crashes the viewer: a window shown first, then a trained project opened.

On software OpenGL (Mesa's llvmpipe: Xvfb, VMs, remote desktops) importing Triton after the
window is up kills the process; timm and torchvision import it through ``torch._dynamo``. Each
scenario runs in its own Python process (a crash there is a failed test, not a dead suite)
that shows a napari window before anything of ours loads a network.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.gui

VIEWER_THEN_PYTHON_API = """
import sys
import napari
from qtpy.QtWidgets import QApplication
viewer = napari.Viewer()
viewer.window._qt_window.show()
for _ in range(10):
    QApplication.processEvents()
assert "timm" not in sys.modules and "torchvision" not in sys.modules
from napari_superanimal import Session
session = Session.open(sys.argv[1])          # the project's trained model: PyTorch + timm
assert session.model is not None, "no model loaded"
import torchvision  # noqa: F401 - what the detector imports: also after the window
print("ok", session.model_version, flush=True)
viewer.close()
"""

VIEWER_THEN_PLUGIN = """
import sys, time
import napari
from qtpy.QtWidgets import QApplication
viewer = napari.Viewer()
viewer.window._qt_window.show()
for _ in range(10):
    QApplication.processEvents()
viewer.open(sys.argv[1], plugin="napari-superanimal")
from napari_superanimal._napari.widget import LabelingWidget
deadline = time.monotonic() + 120
widget = None
while time.monotonic() < deadline:
    QApplication.processEvents()
    docks = [w for w in viewer.window.dock_widgets.values() if isinstance(w, LabelingWidget)]
    widget = docks[0] if docks else None
    if widget is not None and widget.session is not None and widget.session.model is not None:
        break
    time.sleep(0.05)
assert widget is not None and widget.session.model is not None, "the model never loaded"
print("ok", widget.session.model_version, flush=True)
widget.detach()
viewer.close()
"""


@pytest.fixture(scope="module")
def trained_project(tmp_path_factory):
    """A video whose project's active model is a trained version (a few steps: enough)."""
    from napari_superanimal import open_video
    from napari_superanimal.demo.mouse import make_mouse_video
    from napari_superanimal.session import Session

    folder = tmp_path_factory.mktemp("viewer-first")
    path, truth = make_mouse_video(folder / "m.mp4", n_frames=20, size=(128, 160), seed=4)
    from napari_superanimal.demo.mouse import KEYPOINTS

    with Session.open(open_video(path, convert=False), keypoints=KEYPOINTS) as session:
        for f in (0, 10):
            for k, name in enumerate(KEYPOINTS):
                session.label(f, name, *truth[f, k])
        session.finetune(steps=3, jitter_frames=0)
        assert session.project.active_model == "light_resnet18-r1"
    return path


@pytest.mark.parametrize(
    "script", [VIEWER_THEN_PYTHON_API, VIEWER_THEN_PLUGIN], ids=["python-api", "plugin"]
)
def test_a_window_shown_first_then_a_trained_project_does_not_crash(trained_project, script):
    proc = subprocess.run(
        [sys.executable, "-c", script, str(trained_project)],
        capture_output=True,
        text=True,
        timeout=600,
        env=dict(os.environ),
    )
    assert proc.returncode == 0, f"exit {proc.returncode}: {proc.stderr[-2000:]}"
    assert proc.stdout.strip().startswith("ok light_resnet18-r1")


def test_the_guard_marks_triton_absent_only_where_mesa_llvm_is_loaded(monkeypatch):
    from napari_superanimal.model import _triton

    monkeypatch.delitem(sys.modules, "triton", raising=False)
    monkeypatch.setattr(_triton, "llvm_in_process", lambda: False)
    assert _triton.keep_triton_out() is False and "triton" not in sys.modules
    monkeypatch.setattr(_triton, "llvm_in_process", lambda: True)
    assert _triton.keep_triton_out() is True and sys.modules["triton"] is None
