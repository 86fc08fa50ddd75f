"""Custom keypoint sets on a SuperAnimal model, through DeepLabCut's conversion tables."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from napari_superanimal.model.convert import (
    ConversionError,
    convert_keypoints,
    read_conversion_table,
)
from napari_superanimal.model.inference import PoseEstimator
from napari_superanimal.model.networks import build_network
from napari_superanimal.zoo.keypoints import TOPVIEWMOUSE

CONFIG = """\
Task: openfield
bodyparts:
- snout
- leftear
- rightear
- tailbase
- headstage
SuperAnimalConversionTables:
  superanimal_topviewmouse:
    snout: nose
    leftear: left_ear
    rightear: right_ear
    tailbase: tail_base
"""
PROJECT = ("snout", "leftear", "rightear", "tailbase", "headstage")


@pytest.fixture()
def table(tmp_path):
    (tmp_path / "config.yaml").write_text(CONFIG)
    return read_conversion_table(tmp_path / "config.yaml", "superanimal_topviewmouse")


@pytest.mark.parametrize("arch", ["hrnet_w32", "resnet_50"])
def test_mapped_keypoints_keep_their_superanimal_channels(table, arch):
    torch.manual_seed(0)
    sa = PoseEstimator(build_network(arch, 27), TOPVIEWMOUSE, device="cpu")
    converted = convert_keypoints(sa, PROJECT, table)
    assert converted.keypoints == PROJECT
    x = torch.randn(1, 3, 128, 128)
    with torch.no_grad():
        old = sa.network.eval()(x)
        new = converted.network.eval()(x)
    assert new["heatmap"].shape[1] == 5
    for i, name in enumerate(PROJECT[:4]):
        j = TOPVIEWMOUSE.index(table[name])
        torch.testing.assert_close(new["heatmap"][:, i], old["heatmap"][:, j])
        if arch == "resnet_50":  # dx and dy channels follow their keypoint
            torch.testing.assert_close(
                new["locref"][:, 2 * i : 2 * i + 2], old["locref"][:, 2 * j : 2 * j + 2]
            )
    # the unmapped keypoint is a new channel, not a copy of any SuperAnimal one
    assert not any(torch.allclose(new["heatmap"][:, 4], old["heatmap"][:, j]) for j in range(27))
    frame = np.random.default_rng(0).integers(0, 255, (96, 128, 3), dtype=np.uint8)
    # the same keypoints to 1e-4 px: a head with fewer output channels sums its 2048 inputs in
    # another order (float32 rounding ~1e-6), and location refinement scales that by 7.28
    np.testing.assert_allclose(
        converted.predict(frame)[:4],
        sa.predict(frame)[[TOPVIEWMOUSE.index(table[k]) for k in PROJECT[:4]]],
        atol=1e-4,
    )


def test_tables_that_do_not_fit_are_refused_clearly(table, tmp_path):
    sa = PoseEstimator(build_network("hrnet_w32", 27), TOPVIEWMOUSE, device="cpu")
    with pytest.raises(ConversionError, match="not in the project: tailbase"):
        convert_keypoints(sa, PROJECT[:3], table)
    with pytest.raises(ConversionError, match="does not predict: whisker"):
        convert_keypoints(sa, PROJECT, {**table, "headstage": "whisker"})
    with pytest.raises(ConversionError, match="no SuperAnimalConversionTables entry"):
        read_conversion_table(tmp_path / "config.yaml", "superanimal_quadruped")
    (tmp_path / "bad.yaml").write_text("a: [b")
    with pytest.raises(ConversionError, match="cannot read"):
        read_conversion_table(tmp_path / "bad.yaml", "superanimal_topviewmouse")


def test_a_session_fine_tunes_a_superanimal_model_on_the_projects_own_keypoints(
    tmp_path, table, video_copy
):
    from napari_superanimal import open_video
    from napari_superanimal.session import Session

    torch.manual_seed(0)
    sa = PoseEstimator(
        build_network("light_resnet18", 27),
        TOPVIEWMOUSE,
        device="cpu",
        name="superanimal_topviewmouse_light",
    )
    video = open_video(video_copy, convert=False)
    with Session.open(video, model=sa, conversion=tmp_path / "config.yaml") as session:
        assert session.keypoints == PROJECT == session.model.keypoints  # bodyparts of config
        for f in (3, 40):
            session.label(f, "snout", 30, 40)
            session.label(f, "headstage", 60, 40)  # the keypoint SuperAnimal does not have
        result = session.finetune(steps=4, batch_size=2)
        assert result.version in session.versions.trained()
        assert session.model.keypoints == PROJECT
        assert session.model_versions()[result.version]["parent"].startswith(
            "superanimal_topviewmouse_light"
        )
