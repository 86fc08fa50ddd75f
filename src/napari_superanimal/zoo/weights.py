"""Find SuperAnimal weights: an explicit path, then the local caches, then the model hub.

Resolution order for ``resolve_weights(entry)``:

1. ``weights=PATH`` given by the user (must exist);
2. ``<cache>/models/<file>``: a file the user put there by hand (the offline route);
3. the Hugging Face cache (``HF_HUB_CACHE``), as ``huggingface_hub`` left it after a download;
4. a download with ``huggingface_hub.hf_hub_download`` (with its progress bar), unless
   ``download=False`` or ``HF_HUB_OFFLINE=1``.

Offline, the error names the file to fetch, where it comes from and where to put it.

Example::

    from napari_superanimal.zoo import get_entry
    from napari_superanimal.zoo.weights import resolve_weights
    path = resolve_weights(get_entry("superanimal_topviewmouse", "hrnet_w32"))
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import WeightsNotFoundError


def hub_endpoint() -> str:
    """The model hub's address (``HF_ENDPOINT``, else Hugging Face's)."""
    return os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")


def hub_offline() -> bool:
    """Whether downloads are off (``HF_HUB_OFFLINE``)."""
    return os.environ.get("HF_HUB_OFFLINE", "").lower() in {"1", "true", "yes"}


@dataclass(frozen=True)
class WeightsSource:
    """Where a weights file lives on the hub."""

    repo_id: str
    filename: str

    @property
    def url(self) -> str:
        return f"{hub_endpoint()}/{self.repo_id}/resolve/main/{self.filename}"


def manual_dir() -> Path:
    """``<cache>/models``: put weights here by hand when the hub is unreachable."""
    from ..video.video import cache_dir

    return cache_dir() / "models"


def resolve_weights(
    source: WeightsSource,
    weights: str | os.PathLike | None = None,
    *,
    download: bool = True,
    hub_cache: str | os.PathLike | None = None,
) -> Path:
    """Return a local path to ``source``'s weights (see the module docstring for the order)."""
    if weights is not None:
        path = Path(weights).expanduser()
        if not path.is_file():
            raise WeightsNotFoundError(f"{path}: weights file not found")
        return path
    manual = manual_dir() / source.filename
    if manual.is_file():
        return manual
    from huggingface_hub import hf_hub_download, try_to_load_from_cache

    cached = try_to_load_from_cache(source.repo_id, source.filename, cache_dir=hub_cache)
    if isinstance(cached, str) and Path(cached).is_file():
        return Path(cached)
    if download and not hub_offline():
        try:
            return Path(hf_hub_download(source.repo_id, source.filename, cache_dir=hub_cache))
        except Exception as err:  # noqa: BLE001 - any network/hub failure: say what to do
            raise WeightsNotFoundError(
                f"{source.filename}: download from {source.url} failed "
                f"({type(err).__name__}); fetch it by hand and put it at {manual}"
            ) from err
    raise WeightsNotFoundError(
        f"{source.filename}: not in the local caches and downloads are off; fetch {source.url} "
        f"and put it at {manual} (or pass weights=PATH)"
    )
