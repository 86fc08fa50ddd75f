"""The npe2 manifest validates, and a non-editable wheel install carries and finds it."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def test_npe2_validate_passes_on_the_installed_plugin():
    proc = subprocess.run(
        [str(BIN / "npe2"), "validate", "napari-superanimal"], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "valid" in (proc.stdout + proc.stderr).lower()


def test_manifest_contributes_the_video_reader():
    from npe2 import PluginManager

    pm = PluginManager()
    pm.discover()
    manifest = pm.get_manifest("napari-superanimal")
    patterns = {p for r in manifest.contributions.readers for p in r.filename_patterns}
    assert {"*.mp4", "*.avi", "*.mov", "*.mkv"} <= patterns
    assert all(r.accepts_directories for r in manifest.contributions.readers)


@pytest.mark.slow
def test_wheel_install_finds_the_manifest(tmp_path):
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(dist), str(ROOT)],
        check=True,
        capture_output=True,
    )
    wheel = next(dist.glob("napari_superanimal-*.whl"))
    with zipfile.ZipFile(wheel) as zf:
        assert zf.read("napari_superanimal/napari.yaml") == (ROOT / "napari.yaml").read_bytes()
    # A plain venv with only the wheel (no editable source on its path), borrowing the other
    # dependencies from this environment's site-packages without its .pth files.
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = venv / "bin" / "python"
    subprocess.run(
        [str(py), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)],
        check=True,
        capture_output=True,
    )
    purelib = subprocess.run(
        [str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    (Path(purelib) / "zz_borrowed.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    code = (
        "import napari_superanimal, npe2\n"
        "pm = npe2.PluginManager(); pm.discover()\n"
        "mf = pm.get_manifest('napari-superanimal')\n"
        "print(napari_superanimal.__file__)\n"
        "print(len(mf.contributions.readers))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    out = subprocess.run(
        [str(py), "-c", code], check=True, capture_output=True, text=True, env=env
    ).stdout.split()
    assert out[0].startswith(str(venv))  # imported from the wheel, not from src/
    assert int(out[1]) >= 1
