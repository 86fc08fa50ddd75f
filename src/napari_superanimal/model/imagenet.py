"""A new network starts from ImageNet: its backbone's timm weights, when they can be had.

DeepLabCut starts a new network's backbone from ImageNet weights; so does a round that trains a
light network from scratch here, when the weights are in the Hugging Face cache or the hub
answers within a few seconds. Otherwise (offline, a
firewall, ``HF_HUB_OFFLINE=1``) the network starts from random weights at once, and the round's
report says which (:func:`new_network`'s second value goes into the version's info, ``init``).

Example::

    network, init = new_network("light_resnet18", num_keypoints=5)
    init   # "ImageNet weights (timm/resnet18.a1_in1k)" or "random weights (offline: ...)"
"""

from __future__ import annotations

import urllib.request

from ..errors import WeightsNotFoundError
from ..zoo.weights import WeightsSource, hub_endpoint, hub_offline
from .networks import ARCHITECTURES, PoseModel, build_network

WEIGHTS_FILE = "model.safetensors"  # what timm's Hugging Face repositories hold
HUB_TIMEOUT = 3.0  # seconds to wait for the hub before starting from random weights


def imagenet_source(arch: str) -> WeightsSource | None:
    """Where ``arch``'s backbone's ImageNet weights live on the hub (timm's default tag)."""
    from timm.models import get_pretrained_cfg

    cfg = get_pretrained_cfg(ARCHITECTURES[arch].timm_name)
    if cfg is None or not cfg.hf_hub_id:
        return None
    return WeightsSource(cfg.hf_hub_id, WEIGHTS_FILE)


def hub_reachable(timeout: float = HUB_TIMEOUT) -> bool:
    """Whether the model hub answers at all (one request, no retries), unless offline."""
    if hub_offline():
        return False
    try:
        request = urllib.request.Request(hub_endpoint(), method="HEAD")
        urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError:
        return True  # it answered
    except (OSError, ValueError):
        return False
    return True


def new_network(arch: str, num_keypoints: int) -> tuple[PoseModel, str]:
    """A network for ``arch`` whose backbone holds ImageNet weights when they can be had (the
    Hugging Face cache, else the hub if it answers), and how it was initialised."""
    from huggingface_hub import hf_hub_download, try_to_load_from_cache

    network = build_network(arch, num_keypoints)
    source = imagenet_source(arch)
    if source is None:
        return network, "random weights (timm has no ImageNet weights for this backbone)"
    path = try_to_load_from_cache(source.repo_id, source.filename)
    if not isinstance(path, str):
        if not hub_reachable():
            return network, f"random weights (offline: {source.repo_id} not in the cache)"
        try:
            path = hf_hub_download(source.repo_id, source.filename)
        except Exception as err:  # noqa: BLE001 - any hub failure: train from random weights
            return network, f"random weights ({source.url}: {type(err).__name__})"
    from safetensors.torch import load_file

    missing, _ = network.backbone.model.load_state_dict(load_file(path), strict=False)
    if missing:  # the classifier is left out; the backbone must be whole
        raise WeightsNotFoundError(
            f"{path}: not {source.repo_id}'s weights ({len(missing)} backbone tensors missing)"
        )
    return network, f"ImageNet weights ({source.repo_id})"
