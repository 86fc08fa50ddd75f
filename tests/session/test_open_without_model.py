"""What the labeling dock does on napari's GUI thread: open a project's labels without PyTorch.

The dock opens a session with ``restore_model=False`` as soon as the video's frame is painted and
loads the model afterwards in a worker; importing PyTorch there would freeze the window for
seconds (5-10 s on a laptop CPU) right after the video appears.
"""

from __future__ import annotations

import subprocess
import sys

from napari_superanimal.model.networks import build_network
from napari_superanimal.model.versions import ModelVersions
from napari_superanimal.session import Session

KEYPOINTS = ["nose", "left_ear", "right_ear", "tail_base"]

OPEN_LABELS_ONLY = """
import sys
from napari_superanimal.session import Session
with Session.open(sys.argv[1], restore_model=False) as session:
    assert session.model is None and session.project.active_model == "light_resnet18-r1"
    assert session.labels(3)["nose"].x == 5.0
    print("torch" in sys.modules)
"""


def test_opening_labels_without_the_model_never_imports_pytorch(video_copy):
    with Session.open(video_copy, keypoints=KEYPOINTS) as session:
        session.label(3, "nose", 5.0, 6.0)
        info = {"arch": "light_resnet18", "keypoints": KEYPOINTS, "input_scale": 0.5}
        ModelVersions(session.project).save(
            "light_resnet18-r1", build_network("light_resnet18", 4), info
        )
        session.project.set_active_model("light_resnet18-r1")
        session.video.wait()
    proc = subprocess.run(
        [sys.executable, "-c", OPEN_LABELS_ONLY, str(video_copy)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "False", "PyTorch was imported to open the labels"
