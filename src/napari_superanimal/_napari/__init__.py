"""The thin napari layer: reader, labeling widget, keypoints overlay, sample data.

Importing it keeps PyTorch from loading Triton later in the process. torchvision imports
``torch._dynamo``, which imports Triton if it is installed; Triton's bundled LLVM crashes the
process (segmentation fault) when it loads after Qt has brought up Mesa's llvmpipe OpenGL, as
under Xvfb or on machines without a GPU driver. Nothing here uses Triton (it only serves
``torch.compile`` on GPUs), so we mark it absent unless something already imported it.
"""

import sys

sys.modules.setdefault("triton", None)
