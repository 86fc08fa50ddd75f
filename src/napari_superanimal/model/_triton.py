"""Keep Triton out of a process that already draws with Mesa's LLVM (software OpenGL).

timm and torchvision import ``torch._dynamo``, which imports Triton when it is installed (the
CUDA build of PyTorch brings it). Triton ships its own LLVM; loading it into a process where
Mesa's ``libLLVM`` is already mapped (llvmpipe under Xvfb, VMs, remote desktops, and AMD's
Mesa drivers) kills the process with a segmentation fault. A napari window shown before the
first model is loaded does exactly that, whatever the import order of our own modules.

Nothing here uses Triton (it only serves ``torch.compile`` on GPUs), so when Mesa's LLVM is in
the process and Triton is not, :func:`keep_triton_out` marks Triton absent: PyTorch then takes
its "no Triton" path. Every module of ours that imports timm or torchvision calls it first.

Example::

    from ._triton import keep_triton_out
    keep_triton_out()
    import timm
"""

from __future__ import annotations

import sys
from pathlib import Path

_MAPS = Path("/proc/self/maps")


def llvm_in_process() -> bool:
    """True when a shared LLVM library (Mesa's) is mapped into this process (Linux only)."""
    try:
        text = _MAPS.read_text()
    except OSError:  # not Linux: no Mesa/Triton clash is known there
        return False
    return "libLLVM" in text


def keep_triton_out() -> bool:
    """Mark Triton absent if it is not loaded yet and Mesa's LLVM is; True if it did so."""
    if "triton" in sys.modules:
        return False
    if not llvm_in_process():
        return False
    sys.modules["triton"] = None  # ``import triton`` now raises ImportError
    return True
