"""Test-suite set-up: the user's environment is never touched, shared fixtures are plugins.

- napari's settings: ``make_napari_viewer`` resets and saves napari's settings file, so the
  whole session points ``NAPARI_CONFIG`` at a temporary file, set here before napari is
  imported; :mod:`fixtures.napari` also fails the session if the real file changed.
- the model hub: offline (``HF_HUB_OFFLINE``), its cache a temporary folder (``HF_HUB_CACHE``).
- inference: PyTorch (``NAPARI_SUPERANIMAL_ENGINE``), except where a test asks for ONNX Runtime.
- caches: :mod:`fixtures.paths` points the frame-store cache at a temporary folder per test.
- GUI tests (marked ``gui``) need a display: under ``make test`` they run inside ``xvfb-run``.

Fixtures live in ``tests/fixtures/`` (one module per kind: paths and data, videos, sessions,
napari); test modules mirror the package (``tests/video/`` tests ``napari_superanimal.video``).
"""

from __future__ import annotations

import os
import shutil
import tempfile

_SETTINGS_DIR = tempfile.mkdtemp(prefix="napari-superanimal-tests-")
os.environ["NAPARI_CONFIG"] = os.path.join(_SETTINGS_DIR, "settings.yaml")
# nothing is downloaded, and the user's Hugging Face cache is neither read nor written (a test
# that needs the hub serves a fake one and says so in its own environment)
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_HUB_CACHE"] = os.path.join(_SETTINGS_DIR, "hub")
# models predict with PyTorch unless a test asks for ONNX Runtime (test_onnx_runtime.py): each
# model's background export would otherwise start a process in every test
os.environ["NAPARI_SUPERANIMAL_ENGINE"] = "torch"

pytest_plugins = [
    "fixtures.paths",
    "fixtures.videos",
    "fixtures.sessions",
    "fixtures.napari",
    "fixtures.zoo",
]


def pytest_unconfigure(config):
    # The settings folder is the session's own; leaving it would pile up in /tmp run after run.
    shutil.rmtree(_SETTINGS_DIR, ignore_errors=True)


def pytest_collection_modifyitems(config, items):
    # GUI tests need a display: under `make test` they run inside xvfb-run.
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return
    import pytest

    skip = pytest.mark.skip(reason="needs a display: run under xvfb-run (make test)")
    for item in items:
        if "gui" in item.keywords:
            item.add_marker(skip)
