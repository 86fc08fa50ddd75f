"""Pose networks laid out like DeepLabCut 3's, so its snapshots load with ``strict=True``.

A :class:`PoseModel` is a timm backbone (``backbone.model.*``) and one ``bodypart`` head holding a
heatmap head (``heads.bodypart.heatmap_head.deconv_layers.*``) and, for ResNet models, a location
refinement head (``heads.bodypart.locref_head.deconv_layers.*``). The module names are the
state-dict key names DeepLabCut writes; the code is ours.

Example::

    from napari_superanimal.model.networks import build_network
    net = build_network("hrnet_w32", num_keypoints=27)
    out = net(torch.zeros(1, 3, 256, 256))      # {"heatmap": (1, 27, 64, 64)}
"""

from __future__ import annotations

from dataclasses import dataclass, field

import timm
import torch
from torch import nn


@dataclass(frozen=True)
class Architecture:
    """How to build one network: backbone, which feature map, head layers, stride."""

    name: str
    timm_name: str
    timm_kwargs: dict = field(default_factory=dict)
    feature_index: int = -1  # which feature map of timm's features_only output feeds the heads
    feature_channels: int = 0
    heatmap_kernels: tuple[int, ...] = (1,)  # one ConvTranspose2d per entry
    heatmap_strides: tuple[int, ...] = (1,)
    hidden_channels: tuple[int, ...] = ()  # channels between stacked deconv layers
    locref: bool = False
    stride: int = 4  # input pixels per heatmap cell
    description: str = ""


ARCHITECTURES: dict[str, Architecture] = {
    # SuperAnimal HRNet-W32 as DeepLabCut 3 builds it: timm's raw branch outputs (no "incre"
    # modules), branches 1-4 (the stem's stride-2 map is not returned); the first, stride-4
    # 32-channel branch feeds a 1x1 transposed convolution. No location refinement.
    "hrnet_w32": Architecture(
        name="hrnet_w32",
        timm_name="hrnet_w32",
        timm_kwargs={"feature_location": "", "out_indices": (1, 2, 3, 4)},
        feature_index=0,
        feature_channels=32,
        stride=4,
        description="SuperAnimal HRNet-W32 (DeepLabCut 3 layout)",
    ),
    # A light network for training from scratch on a CPU: ResNet-18 to stride 8, then one
    # stride-2 transposed convolution to stride-4 heatmaps.
    "light_resnet18": Architecture(
        name="light_resnet18",
        timm_name="resnet18",
        timm_kwargs={"out_indices": (2,)},
        feature_index=0,
        feature_channels=128,
        heatmap_kernels=(4,),
        heatmap_strides=(2,),
        stride=4,
        description="ResNet-18 to stride 8 + a stride-2 deconvolution (for CPU fine-tuning)",
    ),
}


class TimmBackbone(nn.Module):
    """A timm ``features_only`` model; returns one feature map (state keys ``model.*``)."""

    def __init__(self, arch: Architecture, pretrained: bool = False):
        super().__init__()
        self.model = timm.create_model(
            arch.timm_name, pretrained=pretrained, features_only=True, **arch.timm_kwargs
        )
        self.feature_index = arch.feature_index

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)[self.feature_index]


class DeconvHead(nn.Module):
    """Transposed convolutions with ReLU between them (state keys ``deconv_layers.N.*``)."""

    def __init__(self, channels: list[int], kernels: tuple[int, ...], strides: tuple[int, ...]):
        super().__init__()
        layers: list[nn.Module] = []
        for i, (k, s) in enumerate(zip(kernels, strides, strict=True)):
            padding, output_padding = _same_padding(k, s)
            layers.append(
                nn.ConvTranspose2d(
                    channels[i],
                    channels[i + 1],
                    k,
                    stride=s,
                    padding=padding,
                    output_padding=output_padding,
                )
            )
            if i < len(kernels) - 1:
                layers.append(nn.ReLU())
        self.deconv_layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.deconv_layers(x)


def _same_padding(kernel: int, stride: int) -> tuple[int, int]:
    # Output size = input * stride for the kernels we use (1x1 stride 1; 4x4 / 3x3 stride 2).
    if kernel == 1:
        return 0, 0
    if kernel == 4 and stride == 2:
        return 1, 0
    if kernel == 3 and stride == 2:
        return 1, 1
    raise ValueError(f"no padding rule for kernel {kernel}, stride {stride}")


class BodypartHead(nn.Module):
    """Heatmaps (and location refinement fields) for every keypoint."""

    def __init__(self, arch: Architecture, num_keypoints: int):
        super().__init__()
        chans = [arch.feature_channels, *arch.hidden_channels, num_keypoints]
        self.heatmap_head = DeconvHead(chans, arch.heatmap_kernels, arch.heatmap_strides)
        self.locref_head = (
            DeconvHead([*chans[:-1], 2 * num_keypoints], arch.heatmap_kernels, arch.heatmap_strides)
            if arch.locref
            else None
        )

    def forward(self, features: torch.Tensor) -> dict[str, torch.Tensor]:
        out = {"heatmap": self.heatmap_head(features)}
        if self.locref_head is not None:
            out["locref"] = self.locref_head(features)
        return out


class PoseModel(nn.Module):
    """Backbone + ``heads["bodypart"]``; ``forward`` returns ``{"heatmap": (N, K, h, w)}``."""

    def __init__(self, arch: Architecture, num_keypoints: int, pretrained_backbone: bool = False):
        super().__init__()
        self.arch = arch
        self.num_keypoints = num_keypoints
        self.backbone = TimmBackbone(arch, pretrained=pretrained_backbone)
        self.heads = nn.ModuleDict({"bodypart": BodypartHead(arch, num_keypoints)})

    @property
    def stride(self) -> int:
        return self.arch.stride

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.heads["bodypart"](self.backbone(x))


def build_network(arch: str | Architecture, num_keypoints: int) -> PoseModel:
    """A randomly initialised :class:`PoseModel` for ``arch`` with ``num_keypoints`` outputs."""
    if isinstance(arch, str):
        if arch not in ARCHITECTURES:
            raise ValueError(
                f"unknown architecture {arch!r}; choose one of {sorted(ARCHITECTURES)}"
            )
        arch = ARCHITECTURES[arch]
    return PoseModel(arch, num_keypoints)
