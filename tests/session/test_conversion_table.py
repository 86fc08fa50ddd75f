"""The conversion table a project keeps for a SuperAnimal model: checked before it is kept."""

from __future__ import annotations

import pytest

from fixtures.sessions import KEYPOINTS
from napari_superanimal import open_video
from napari_superanimal.errors import SuperAnimalError
from napari_superanimal.session import Session


def test_a_conversion_table_naming_unknown_keypoints_is_refused_in_one_line(video_copy):
    with Session.open(open_video(video_copy, convert=False), keypoints=KEYPOINTS) as session:
        for table, match in (
            ({"snout": "nose"}, "unknown: snout"),
            ({"nose": "beak"}, "unknown: beak"),
            ({}, "none given"),
        ):
            with pytest.raises(SuperAnimalError, match=match) as err:
                session.set_conversion("superanimal_topviewmouse", table)
            assert "\n" not in str(err.value)
        with pytest.raises(SuperAnimalError, match="unknown SuperAnimal dataset 'birds'"):
            session.set_conversion("birds", {"nose": "nose"})
        assert session.conversion("superanimal_topviewmouse") is None
        session.set_conversion("superanimal_quadruped", {"nose": "nose", "tail_base": "tail_base"})
        assert session.conversion("superanimal_quadruped") == {
            "nose": "nose",
            "tail_base": "tail_base",
        }
