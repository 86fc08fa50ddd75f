"""``python -m napari_superanimal.cli``: the same as the ``napari-superanimal`` command."""

import sys

from . import main

sys.exit(main())
