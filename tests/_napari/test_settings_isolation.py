"""The test suite never reads or writes the user's napari settings."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from fixtures.napari import settings_fingerprint

pytestmark = pytest.mark.gui


def test_napari_settings_go_to_a_temporary_file(real_napari_settings, make_napari_viewer):
    from napari.settings import get_settings
    from napari.settings._napari_settings import _CFG_PATH

    ours = Path(real_napari_settings["env"])
    assert ours.is_relative_to(tempfile.gettempdir())
    assert Path(_CFG_PATH) == ours != real_napari_settings["path"]
    make_napari_viewer()  # resets and saves napari's settings: into our file
    get_settings().save()
    assert ours.is_file()
    real = real_napari_settings["path"]
    assert settings_fingerprint(real) == real_napari_settings["before"], f"{real} changed"


def test_the_environment_is_set_before_napari_reads_it():
    assert os.environ["NAPARI_CONFIG"].endswith("settings.yaml")
