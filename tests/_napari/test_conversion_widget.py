"""A project with its own keypoints picks a SuperAnimal model in the dock: the dock asks for
the conversion table (filled from a DeepLabCut config.yaml), keeps it, and predicts with it."""

from __future__ import annotations

import pytest
import yaml

from fixtures.zoo import MOBILENET
from napari_superanimal import open_video
from napari_superanimal._napari.conversion import NONE
from napari_superanimal._napari.forms import WHOLE_FRAME, ZOO_CHOICES
from napari_superanimal.labels.project import Project
from napari_superanimal.session import Session

pytestmark = [pytest.mark.gui, pytest.mark.slow]
DATASET = "superanimal_topviewmouse"
OWN = ["snout", "leftear", "rightear", "tailbase"]  # DeepLabCut's open-field names
TABLE = {"snout": "nose", "leftear": "left_ear", "rightear": "right_ear", "tailbase": "tail_base"}


def test_the_dock_asks_for_the_conversion_keeps_it_and_predicts_with_it(
    zoo_cache, video_copy, show, qtbot, tmp_path
):
    zoo_cache(detectors=(MOBILENET,))
    folder = tmp_path / "own.superanimal"
    Project.create(folder, OWN).close()
    config = tmp_path / "config.yaml"
    config.write_text(
        yaml.safe_dump({"bodyparts": OWN, "SuperAnimalConversionTables": {DATASET: TABLE}})
    )
    video = open_video(video_copy, convert=False)
    with Session.open(video, project=folder) as session:
        widget = show(session, frame=2)
        form, panel = widget.model_choice, widget.conversion
        form.boxes.value = WHOLE_FRAME
        form.model.value = ZOO_CHOICES[0]
        assert not panel.isHidden() and session.model is None  # asked, nothing loaded yet
        assert [w.value for w in panel.form] == [NONE] * 4  # no keypoint has the model's name
        panel.config.value = config
        assert panel.table() == TABLE
        panel.use_button.click()
        qtbot.waitUntil(lambda: session.has_prediction(2), timeout=180_000)
        assert session.model.keypoints == tuple(OWN) and panel.isHidden()
        assert session.conversion(DATASET) == TABLE
    # the project keeps the table: the same model opens with it, from Python too
    with Session.open(video, DATASET, project=folder, detector=None) as again:
        assert again.model.keypoints == tuple(OWN)
