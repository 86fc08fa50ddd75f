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

from ._triton import keep_triton_out

keep_triton_out()  # before timm: it imports torch._dynamo, which would load Triton

import timm  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402


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
    heatmap_padding: tuple[int, ...] = (0,)  # DeepLabCut's deconvolutions have none
    hidden_channels: tuple[int, ...] = ()  # channels between stacked deconv layers
    features_only: bool = True  # False: the backbone's forward_features (last map, no pooling)
    locref: bool = False
    locref_std: float = 7.2801  # location refinement offsets are predicted in these units
    stride: int = 4  # input pixels per heatmap cell, as the decoder assumes it
    description: str = ""
    # whether CPU inference runs in ONNX Runtime (model/runtime.py); measured per architecture
    # in benchmarks/bench_onnx.py
    onnx_runtime: bool = True


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
    # SuperAnimal / DeepLabCut 3 ResNet-50: timm resnet50_gn at output stride 16 (layer4
    # dilated), its last feature map, then 3x3 stride-2 transposed convolutions without padding
    # (so a 16x16 map gives 33x33 heatmaps) for heatmaps and location refinement; the decoder
    # assumes stride 8 and adds the refinement, scaled by 7.2801, at the peak.
    "resnet_50": Architecture(
        name="resnet_50",
        timm_name="resnet50_gn",
        timm_kwargs={"output_stride": 16, "drop_path_rate": 0.0, "drop_block_rate": 0.0},
        features_only=False,
        feature_channels=2048,
        heatmap_kernels=(3,),
        heatmap_strides=(2,),
        locref=True,
        stride=8,
        description="ResNet-50 (GroupNorm), stride 8, location refinement (DeepLabCut 3 layout)",
        # ONNX's opset-17 group norm (InstanceNorm between reshapes) ran 0.8-1.1x PyTorch's
        # speed here and moved keypoints by up to 2e-3 px: PyTorch stays
        onnx_runtime=False,
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
        heatmap_padding=(1,),
        stride=4,
        description="ResNet-18 to stride 8 + a stride-2 deconvolution (for CPU fine-tuning)",
        # in ONNX Runtime 0.92x PyTorch's speed on a 256 crop here, 0.97x on a 640x480 frame
        onnx_runtime=False,
    ),
}


class TimmBackbone(nn.Module):
    """A timm model giving one feature map (state keys ``model.*``).

    ``features_only`` architectures return the chosen map of timm's feature list; the others
    return ``forward_features`` (the classifier is replaced by an identity, so it has no keys).
    """

    def __init__(self, arch: Architecture, pretrained: bool = False):
        super().__init__()
        kwargs = {"features_only": True} if arch.features_only else {}
        self.model = timm.create_model(
            arch.timm_name, pretrained=pretrained, **kwargs, **arch.timm_kwargs
        )
        if not arch.features_only:
            self.model.fc = nn.Identity()
        self.features_only = arch.features_only
        self.feature_index = arch.feature_index

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.features_only:
            return self.model(x)[self.feature_index]
        return self.model.forward_features(x)


class DeconvHead(nn.Module):
    """Transposed convolutions with ReLU between them (state keys ``deconv_layers.N.*``)."""

    def __init__(
        self,
        channels: list[int],
        kernels: tuple[int, ...],
        strides: tuple[int, ...],
        padding: tuple[int, ...],
    ):
        super().__init__()
        layers: list[nn.Module] = []
        for i, (k, s, p) in enumerate(zip(kernels, strides, padding, strict=True)):
            layers.append(nn.ConvTranspose2d(channels[i], channels[i + 1], k, stride=s, padding=p))
            if i < len(kernels) - 1:
                layers.append(nn.ReLU())
        self.deconv_layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.deconv_layers(x)


class BodypartHead(nn.Module):
    """Heatmaps (and location refinement fields) for every keypoint."""

    def __init__(self, arch: Architecture, num_keypoints: int):
        super().__init__()
        chans = [arch.feature_channels, *arch.hidden_channels, num_keypoints]
        layers = (arch.heatmap_kernels, arch.heatmap_strides, arch.heatmap_padding)
        self.heatmap_head = DeconvHead(chans, *layers)
        self.locref_head = (
            DeconvHead([*chans[:-1], 2 * num_keypoints], *layers) if arch.locref else None
        )

    def forward(self, features: torch.Tensor) -> dict[str, torch.Tensor]:
        out = {"heatmap": self.heatmap_head(features)}
        if self.locref_head is not None:
            out["locref"] = self.locref_head(features)
        return out


class PoseModel(nn.Module):
    """Backbone + ``heads["bodypart"]``; ``forward`` returns ``{"heatmap": (N, K, h, w)}``
    (and ``"locref"``: ``(N, 2K, h, w)``, dx and dy per keypoint, for ResNet-50)."""

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
