"""The MiDaS v2.1 networks in plain PyTorch, with the official checkpoints' parameter names.

Two variants (Ranftl et al., "Towards Robust Monocular Depth Estimation", TPAMI 2020;
github.com/isl-org/MiDaS, release v2_1):

* **large** (``midas_v21-f6b98070.pt``, 384 px): a ResNeXt-101 32x8d encoder (the WSL
  ImageNet weights' torchvision layout) and a RefineNet-style decoder with 256 features.
* **small** (``midas_v21_small-70d6b9c8.pt``, 256 px): an EfficientNet-Lite3 encoder (rwightman's
  ``gen-efficientnet`` ``tf_efficientnet_lite3``: TF "same" padding, BN eps 1e-3, ReLU6) and
  a decoder whose widths grow with depth (``expand``: 64, 128, 256, 512) with 1x1 output convs.

Module names reproduce the official ``state_dict`` keys exactly, e.g.
``pretrained.layer1.0.weight`` (the stem conv), ``pretrained.layer1.4.0.conv1.weight`` (the
first ResNeXt bottleneck), ``pretrained.layer1.3.0.conv_dw.weight`` (the first EfficientNet
block), ``scratch.layer1_rn.weight``, ``scratch.refinenet4.resConfUnit1.conv1.weight``,
``scratch.output_conv.0.weight``. Widths and depths come from :class:`MidasConfig`, so tests can
build the same architecture tiny; :data:`MIDAS_V21_LARGE` / :data:`MIDAS_V21_SMALL` are the
official presets.

Two behaviours of the original code are kept on purpose because the weights were trained with
them: the large model's residual units apply an in-place ReLU to their input, so the skip
connection adds ``relu(x)``, not ``x``; the small model's units do not (their activation is not
in-place). Unlike the original exportable EfficientNet, the TF "same" padding is recomputed for
every input size, so one model serves images of any size.

Input: ImageNet-normalized RGB ``[B, 3, H, W]`` with H, W multiples of 32. Output: relative
inverse depth ``[B, 1, H, W]`` (non-negative, arbitrary scale).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    "MIDAS_V21_LARGE",
    "MIDAS_V21_SMALL",
    "EfficientNetLiteConfig",
    "MidasConfig",
    "MidasNet",
    "ResNeXtConfig",
]


# ----------------------------------------------------------------------------- configs


@dataclass(frozen=True)
class ResNeXtConfig:
    """A torchvision-layout ResNeXt. Defaults: ResNeXt-101 32x8d (MiDaS v2.1 large)."""

    layers: tuple[int, int, int, int] = (3, 4, 23, 3)
    planes: tuple[int, int, int, int] = (64, 128, 256, 512)
    stem_channels: int = 64
    groups: int = 32
    width_per_group: int = 8
    expansion: int = 4

    def out_channels(self) -> tuple[int, ...]:
        return tuple(p * self.expansion for p in self.planes)


# (block type "ds"/"ir", repeats, kernel, stride, expansion ratio, output channels), already
# scaled for Lite3 (channel x1.2 rounded to multiples of 8, depth x1.4 rounded up, first and
# last stage fixed, as gen-efficientnet's ``_gen_efficientnet_lite``).
_LITE3_STAGES = (
    ("ds", 1, 3, 1, 1, 24),
    ("ir", 3, 3, 2, 6, 32),
    ("ir", 3, 5, 2, 6, 48),
    ("ir", 5, 3, 2, 6, 96),
    ("ir", 5, 5, 1, 6, 136),
    ("ir", 6, 5, 2, 6, 232),
    ("ir", 1, 3, 1, 6, 384),
)


@dataclass(frozen=True)
class EfficientNetLiteConfig:
    """An EfficientNet-Lite trunk with TF "same" padding. Defaults: tf_efficientnet_lite3.

    ``layer_ends``: the stage index that ends each of MiDaS's four encoder layers
    (layer1 = stem + stages 0-1, layer2 = stage 2, layer3 = stages 3-4, layer4 = stages 5-6).
    """

    stem_channels: int = 32
    stages: tuple[tuple[str, int, int, int, int, int], ...] = _LITE3_STAGES
    layer_ends: tuple[int, int, int, int] = (2, 3, 5, 7)
    bn_eps: float = 1e-3

    def out_channels(self) -> tuple[int, ...]:
        return tuple(self.stages[end - 1][5] for end in self.layer_ends)


@dataclass(frozen=True)
class MidasConfig:
    """One MiDaS v2.1 network.

    encoder: ``"resnext"`` (large) or ``"efficientnet_lite"`` (small), configured by the
        matching sub-config.
    features: decoder width (256 large, 64 small); with ``expand`` the four decoder levels use
        1x, 2x, 4x, 8x that width (small).
    custom_decoder: the small model's fusion blocks (upstream ``FeatureFusionBlock_custom``):
        a 1x1 ``out_conv`` after upsampling and a plain (not in-place ReLU) residual skip.
    head_channels: channels after the first output conv (128 large; ``features // 2`` small).
    input_size: the square bound the official transform resizes to (384 large, 256 small).
    """

    encoder: str = "resnext"
    features: int = 256
    expand: bool = False
    custom_decoder: bool = False
    head_channels: int = 128
    input_size: int = 384
    resnext: ResNeXtConfig = field(default_factory=ResNeXtConfig)
    efficientnet: EfficientNetLiteConfig = field(default_factory=EfficientNetLiteConfig)

    def encoder_channels(self) -> tuple[int, ...]:
        if self.encoder == "resnext":
            return self.resnext.out_channels()
        if self.encoder == "efficientnet_lite":
            return self.efficientnet.out_channels()
        raise ValueError(f"unknown MiDaS encoder {self.encoder!r}; expected 'resnext' or 'efficientnet_lite'")

    def decoder_channels(self) -> tuple[int, int, int, int]:
        if self.expand:
            return (self.features, self.features * 2, self.features * 4, self.features * 8)
        return (self.features,) * 4


MIDAS_V21_LARGE = MidasConfig()
MIDAS_V21_SMALL = MidasConfig(encoder="efficientnet_lite", features=64, expand=True, custom_decoder=True,
                              head_channels=32, input_size=256)


# ----------------------------------------------------------------------------- ResNeXt encoder


class Bottleneck(nn.Module):
    """torchvision's ResNet bottleneck (stride on the 3x3 conv), grouped for ResNeXt."""

    def __init__(self, in_channels: int, planes: int, stride: int, config: ResNeXtConfig) -> None:
        super().__init__()
        width = int(planes * (config.width_per_group / 64.0)) * config.groups
        out_channels = planes * config.expansion
        self.conv1 = nn.Conv2d(in_channels, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride=stride, padding=1, groups=config.groups, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, out_channels, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or in_channels != out_channels:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False), nn.BatchNorm2d(out_channels)
            )

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


def _resnext_encoder(config: ResNeXtConfig) -> nn.Module:
    """``pretrained.layer1`` = stem (conv, bn, relu, maxpool) + torchvision ``layer1``; ``layer2-4`` as torchvision."""
    layers = []
    in_channels = config.stem_channels
    for index, (blocks, planes) in enumerate(zip(config.layers, config.planes)):
        stride = 1 if index == 0 else 2
        stage = []
        for block in range(blocks):
            stage.append(Bottleneck(in_channels, planes, stride if block == 0 else 1, config))
            in_channels = planes * config.expansion
        layers.append(nn.Sequential(*stage))
    encoder = nn.Module()
    encoder.layer1 = nn.Sequential(
        nn.Conv2d(3, config.stem_channels, 7, stride=2, padding=3, bias=False),
        nn.BatchNorm2d(config.stem_channels),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(kernel_size=3, stride=2, padding=1),
        layers[0],
    )
    encoder.layer2, encoder.layer3, encoder.layer4 = layers[1], layers[2], layers[3]
    return encoder


# ----------------------------------------------------------------------------- EfficientNet-Lite encoder


def _make_divisible(value: float, divisor: int = 8) -> int:
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


def _same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    total = max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class Conv2dSame(nn.Conv2d):
    """A bias-free conv with TensorFlow "SAME" padding: symmetric when stride is 1, computed
    from the input size (extra pixel at the bottom/right) when it is 2."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int, stride: int = 1, groups: int = 1) -> None:
        static = stride == 1 and kernel % 2 == 1
        super().__init__(in_channels, out_channels, kernel, stride=stride,
                         padding=(kernel - 1) // 2 if static else 0, groups=groups, bias=False)
        self.dynamic = not static

    def forward(self, x: Tensor) -> Tensor:
        if self.dynamic:
            top, bottom = _same_padding(x.shape[-2], self.kernel_size[0], self.stride[0])
            left, right = _same_padding(x.shape[-1], self.kernel_size[1], self.stride[1])
            x = F.pad(x, (left, right, top, bottom))
        return super().forward(x)


class DepthwiseSeparable(nn.Module):
    """gen-efficientnet ``DepthwiseSeparableConv``: dw conv, BN, ReLU6, pw conv, BN (+ skip)."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int, stride: int, eps: float) -> None:
        super().__init__()
        self.conv_dw = Conv2dSame(in_channels, in_channels, kernel, stride, groups=in_channels)
        self.bn1 = nn.BatchNorm2d(in_channels, eps=eps)
        self.act1 = nn.ReLU6(inplace=True)
        self.conv_pw = Conv2dSame(in_channels, out_channels, 1)
        self.bn2 = nn.BatchNorm2d(out_channels, eps=eps)
        self.residual = stride == 1 and in_channels == out_channels

    def forward(self, x: Tensor) -> Tensor:
        out = self.bn2(self.conv_pw(self.act1(self.bn1(self.conv_dw(x)))))
        return out + x if self.residual else out


class InvertedResidual(nn.Module):
    """gen-efficientnet ``InvertedResidual`` without squeeze-excite: pw expand, dw, pw linear (+ skip)."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int, stride: int, expansion: int,
                 eps: float) -> None:
        super().__init__()
        mid = _make_divisible(in_channels * expansion)
        self.conv_pw = Conv2dSame(in_channels, mid, 1)
        self.bn1 = nn.BatchNorm2d(mid, eps=eps)
        self.act1 = nn.ReLU6(inplace=True)
        self.conv_dw = Conv2dSame(mid, mid, kernel, stride, groups=mid)
        self.bn2 = nn.BatchNorm2d(mid, eps=eps)
        self.act2 = nn.ReLU6(inplace=True)
        self.conv_pwl = Conv2dSame(mid, out_channels, 1)
        self.bn3 = nn.BatchNorm2d(out_channels, eps=eps)
        self.residual = stride == 1 and in_channels == out_channels

    def forward(self, x: Tensor) -> Tensor:
        out = self.act1(self.bn1(self.conv_pw(x)))
        out = self.act2(self.bn2(self.conv_dw(out)))
        out = self.bn3(self.conv_pwl(out))
        return out + x if self.residual else out


def _efficientnet_encoder(config: EfficientNetLiteConfig) -> nn.Module:
    """``pretrained.layer1`` = conv_stem, bn1, act1, stages 0-1; then the stages split by ``layer_ends``."""
    stages = []
    in_channels = config.stem_channels
    for kind, repeats, kernel, stride, expansion, out_channels in config.stages:
        blocks = []
        for index in range(repeats):
            block_stride = stride if index == 0 else 1
            if kind == "ds":
                blocks.append(DepthwiseSeparable(in_channels, out_channels, kernel, block_stride, config.bn_eps))
            elif kind == "ir":
                blocks.append(InvertedResidual(in_channels, out_channels, kernel, block_stride, expansion,
                                               config.bn_eps))
            else:
                raise ValueError(f"unknown EfficientNet block type {kind!r}")
            in_channels = out_channels
        stages.append(nn.Sequential(*blocks))
    ends = config.layer_ends
    encoder = nn.Module()
    encoder.layer1 = nn.Sequential(
        Conv2dSame(3, config.stem_channels, 3, stride=2),
        nn.BatchNorm2d(config.stem_channels, eps=config.bn_eps),
        nn.ReLU6(inplace=True),
        *stages[: ends[0]],
    )
    encoder.layer2 = nn.Sequential(*stages[ends[0]: ends[1]])
    encoder.layer3 = nn.Sequential(*stages[ends[1]: ends[2]])
    encoder.layer4 = nn.Sequential(*stages[ends[2]: ends[3]])
    return encoder


# ----------------------------------------------------------------------------- decoder


class ResidualConvUnit(nn.Module):
    """Two 3x3 convs with pre-activation ReLU and a skip.

    ``relu_skip=True`` reproduces the large model's in-place ReLU, whose skip adds ``relu(x)``.
    """

    def __init__(self, features: int, relu_skip: bool) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(features, features, 3, padding=1, bias=True)
        self.conv2 = nn.Conv2d(features, features, 3, padding=1, bias=True)
        self.relu_skip = relu_skip

    def forward(self, x: Tensor) -> Tensor:
        activated = F.relu(x)
        out = self.conv2(F.relu(self.conv1(activated)))
        return out + (activated if self.relu_skip else x)


class FeatureFusionBlock(nn.Module):
    """RefineNet fusion: ``resConfUnit1`` on the skip, add, ``resConfUnit2``, 2x bilinear
    upsampling (align_corners=True), then ``out_conv`` (1x1) in the small model."""

    def __init__(self, features: int, out_features: int | None, relu_skip: bool) -> None:
        super().__init__()
        self.resConfUnit1 = ResidualConvUnit(features, relu_skip)
        self.resConfUnit2 = ResidualConvUnit(features, relu_skip)
        self.out_conv = nn.Conv2d(features, out_features, 1, bias=True) if out_features is not None else None

    def forward(self, x: Tensor, skip: Tensor | None = None, size: tuple[int, int] | None = None) -> Tensor:
        if skip is not None:
            x = x + self.resConfUnit1(skip)
        x = self.resConfUnit2(x)
        size = size or (x.shape[-2] * 2, x.shape[-1] * 2)
        x = F.interpolate(x, size=size, mode="bilinear", align_corners=True)
        return self.out_conv(x) if self.out_conv is not None else x


class _OutputUpsample(nn.Module):
    """The 2x bilinear upsampling (align_corners=False) inside ``scratch.output_conv``."""

    def forward(self, x: Tensor) -> Tensor:
        return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)


class MidasNet(nn.Module):
    """MiDaS v2.1 (large or small, by config): ImageNet-normalized RGB -> relative inverse depth.

    ``forward(x [B, 3, H, W]) -> [B, 1, H, W]``, H and W multiples of 32 (other sizes run, the
    decoder following the encoder's feature sizes, but the official transform never makes them).
    """

    def __init__(self, config: MidasConfig = MIDAS_V21_LARGE) -> None:
        super().__init__()
        self.config = config
        if config.encoder == "resnext":
            self.pretrained = _resnext_encoder(config.resnext)
        elif config.encoder == "efficientnet_lite":
            self.pretrained = _efficientnet_encoder(config.efficientnet)
        else:
            raise ValueError(f"unknown MiDaS encoder {config.encoder!r}; expected 'resnext' or 'efficientnet_lite'")
        encoder_channels = config.encoder_channels()
        decoder_channels = config.decoder_channels()
        small = config.custom_decoder
        scratch = nn.Module()
        for index, (cin, cout) in enumerate(zip(encoder_channels, decoder_channels), start=1):
            setattr(scratch, f"layer{index}_rn", nn.Conv2d(cin, cout, 3, padding=1, bias=False))
        for index in range(4, 0, -1):
            features = decoder_channels[index - 1]
            if small:
                out_features = features // 2 if config.expand and index > 1 else features
            else:
                out_features = None
            setattr(scratch, f"refinenet{index}", FeatureFusionBlock(features, out_features, relu_skip=not small))
        scratch.output_conv = nn.Sequential(
            nn.Conv2d(config.features, config.head_channels, 3, padding=1),
            _OutputUpsample(),
            nn.Conv2d(config.head_channels, 32, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(32, 1, 1),
            nn.ReLU(inplace=True),
        )
        self.scratch = scratch

    def forward(self, x: Tensor) -> Tensor:
        layer1 = self.pretrained.layer1(x)
        layer2 = self.pretrained.layer2(layer1)
        layer3 = self.pretrained.layer3(layer2)
        layer4 = self.pretrained.layer4(layer3)
        s = self.scratch
        path = s.refinenet4(s.layer4_rn(layer4), size=tuple(layer3.shape[-2:]))
        path = s.refinenet3(path, s.layer3_rn(layer3), size=tuple(layer2.shape[-2:]))
        path = s.refinenet2(path, s.layer2_rn(layer2), size=tuple(layer1.shape[-2:]))
        path = s.refinenet1(path, s.layer1_rn(layer1))
        return s.output_conv(path)
