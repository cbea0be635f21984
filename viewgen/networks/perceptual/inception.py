"""The FID Inception-v3 (TensorFlow's 2015-12-05 graph as ported by pytorch-fid), pool features only.

Parameter names follow pytorch-fid's ``pt_inception-2015-12-05-6726825d.pth`` (torchvision's
``Inception3`` names: ``Conv2d_1a_3x3.conv.weight``, ``Mixed_5b.branch1x1.bn.running_mean``, ...),
so that file loads by name. Its ``fc.*`` classifier (1008 classes) is known and set aside; any
other mismatch is an error listing every key. Old files without BatchNorm's
``num_batches_tracked`` are accepted.

The FID variant differs from torchvision's Inception: the 3x3 average pools of the A, C and first
E blocks leave the zero padding out of the mean (TensorFlow's behaviour), and the last E block pools
with a max instead of an average.

Input: RGB in [0, 1], any size; it is resized bilinearly to 299x299 (``align_corners=False``;
:class:`FidInceptionConfig`) and scaled to [-1, 1] inside, as pytorch-fid does. Output: the 2048-d final average pool.
Networks know nothing of files: the caller hands the state dict in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from viewgen.networks.pretrained import check_state_dict

__all__ = ["FID_FEATURES", "FID_INPUT_SIZE", "FidInception", "FidInceptionConfig"]

FID_FEATURES = 2048
FID_INPUT_SIZE = 299
_CLASSIFIER_PREFIX = "fc."
_BN_EPS = 1e-3


@dataclass(frozen=True)
class FidInceptionConfig:
    """input_size: the square size images are resized to (299, the graph's; >= 75; smaller only for tests)."""

    input_size: int = FID_INPUT_SIZE

    def __post_init__(self) -> None:
        if not isinstance(self.input_size, int) or self.input_size < 75:
            raise ValueError(f"the FID Inception input size must be an integer >= 75, got {self.input_size!r}")


class _ConvBn(nn.Module):
    """Convolution without bias, BatchNorm (eps 1e-3), ReLU: torchvision's ``BasicConv2d`` names."""

    def __init__(self, cin: int, cout: int, kernel, stride: int = 1, padding=0) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, stride=stride, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=_BN_EPS)

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(self.bn(self.conv(x)))


def _tf_avg_pool(x: Tensor) -> Tensor:
    """3x3 stride-1 average pool whose mean leaves the zero padding out (TensorFlow's)."""
    return F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)


class _BlockA(nn.Module):
    """35x35 block: 1x1 | 1x1-5x5 | 1x1-3x3-3x3 | pool-1x1 -> 224 + pool_features channels."""

    def __init__(self, cin: int, pool_features: int) -> None:
        super().__init__()
        self.branch1x1 = _ConvBn(cin, 64, 1)
        self.branch5x5_1 = _ConvBn(cin, 48, 1)
        self.branch5x5_2 = _ConvBn(48, 64, 5, padding=2)
        self.branch3x3dbl_1 = _ConvBn(cin, 64, 1)
        self.branch3x3dbl_2 = _ConvBn(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = _ConvBn(96, 96, 3, padding=1)
        self.branch_pool = _ConvBn(cin, pool_features, 1)

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([
            self.branch1x1(x),
            self.branch5x5_2(self.branch5x5_1(x)),
            self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
            self.branch_pool(_tf_avg_pool(x)),
        ], dim=1)


class _BlockB(nn.Module):
    """35 -> 17 reduction: 3x3/2 | 1x1-3x3-3x3/2 | max-pool/2 -> 480 + cin channels."""

    def __init__(self, cin: int) -> None:
        super().__init__()
        self.branch3x3 = _ConvBn(cin, 384, 3, stride=2)
        self.branch3x3dbl_1 = _ConvBn(cin, 64, 1)
        self.branch3x3dbl_2 = _ConvBn(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = _ConvBn(96, 96, 3, stride=2)

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([
            self.branch3x3(x),
            self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
            F.max_pool2d(x, 3, stride=2),
        ], dim=1)


class _BlockC(nn.Module):
    """17x17 block with factorised 7x7 convolutions -> 768 channels."""

    def __init__(self, cin: int, c7: int) -> None:
        super().__init__()
        row, col = ((1, 7), (0, 3)), ((7, 1), (3, 0))
        self.branch1x1 = _ConvBn(cin, 192, 1)
        self.branch7x7_1 = _ConvBn(cin, c7, 1)
        self.branch7x7_2 = _ConvBn(c7, c7, row[0], padding=row[1])
        self.branch7x7_3 = _ConvBn(c7, 192, col[0], padding=col[1])
        self.branch7x7dbl_1 = _ConvBn(cin, c7, 1)
        self.branch7x7dbl_2 = _ConvBn(c7, c7, col[0], padding=col[1])
        self.branch7x7dbl_3 = _ConvBn(c7, c7, row[0], padding=row[1])
        self.branch7x7dbl_4 = _ConvBn(c7, c7, col[0], padding=col[1])
        self.branch7x7dbl_5 = _ConvBn(c7, 192, row[0], padding=row[1])
        self.branch_pool = _ConvBn(cin, 192, 1)

    def forward(self, x: Tensor) -> Tensor:
        double = x
        for index in range(1, 6):
            double = getattr(self, f"branch7x7dbl_{index}")(double)
        return torch.cat([
            self.branch1x1(x),
            self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x))),
            double,
            self.branch_pool(_tf_avg_pool(x)),
        ], dim=1)


class _BlockD(nn.Module):
    """17 -> 8 reduction: 1x1-3x3/2 | 1x1-1x7-7x1-3x3/2 | max-pool/2 -> 512 + cin channels."""

    def __init__(self, cin: int) -> None:
        super().__init__()
        self.branch3x3_1 = _ConvBn(cin, 192, 1)
        self.branch3x3_2 = _ConvBn(192, 320, 3, stride=2)
        self.branch7x7x3_1 = _ConvBn(cin, 192, 1)
        self.branch7x7x3_2 = _ConvBn(192, 192, (1, 7), padding=(0, 3))
        self.branch7x7x3_3 = _ConvBn(192, 192, (7, 1), padding=(3, 0))
        self.branch7x7x3_4 = _ConvBn(192, 192, 3, stride=2)

    def forward(self, x: Tensor) -> Tensor:
        seven = x
        for index in range(1, 5):
            seven = getattr(self, f"branch7x7x3_{index}")(seven)
        return torch.cat([self.branch3x3_2(self.branch3x3_1(x)), seven, F.max_pool2d(x, 3, stride=2)], dim=1)


class _BlockE(nn.Module):
    """8x8 block with split 1x3 / 3x1 branches -> 2048 channels; ``max_pool``: the FID graph's last block."""

    def __init__(self, cin: int, max_pool: bool) -> None:
        super().__init__()
        self.max_pool = max_pool
        self.branch1x1 = _ConvBn(cin, 320, 1)
        self.branch3x3_1 = _ConvBn(cin, 384, 1)
        self.branch3x3_2a = _ConvBn(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3_2b = _ConvBn(384, 384, (3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = _ConvBn(cin, 448, 1)
        self.branch3x3dbl_2 = _ConvBn(448, 384, 3, padding=1)
        self.branch3x3dbl_3a = _ConvBn(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = _ConvBn(384, 384, (3, 1), padding=(1, 0))
        self.branch_pool = _ConvBn(cin, 192, 1)

    def forward(self, x: Tensor) -> Tensor:
        single = self.branch3x3_1(x)
        double = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        pooled = F.max_pool2d(x, 3, stride=1, padding=1) if self.max_pool else _tf_avg_pool(x)
        return torch.cat([
            self.branch1x1(x),
            self.branch3x3_2a(single), self.branch3x3_2b(single),
            self.branch3x3dbl_3a(double), self.branch3x3dbl_3b(double),
            self.branch_pool(pooled),
        ], dim=1)


class FidInception(nn.Module):
    """pytorch-fid's Inception-v3 up to the final average pool: ``[B, 3, H, W]`` in [0, 1] -> ``[B, 2048]``.

    ``num_features`` (2048) is what torchmetrics' FID/KID read from a custom feature module.
    """

    num_features = FID_FEATURES

    def __init__(self, config: FidInceptionConfig = FidInceptionConfig()) -> None:
        super().__init__()
        self.config = config
        self.Conv2d_1a_3x3 = _ConvBn(3, 32, 3, stride=2)
        self.Conv2d_2a_3x3 = _ConvBn(32, 32, 3)
        self.Conv2d_2b_3x3 = _ConvBn(32, 64, 3, padding=1)
        self.Conv2d_3b_1x1 = _ConvBn(64, 80, 1)
        self.Conv2d_4a_3x3 = _ConvBn(80, 192, 3)
        self.Mixed_5b = _BlockA(192, 32)
        self.Mixed_5c = _BlockA(256, 64)
        self.Mixed_5d = _BlockA(288, 64)
        self.Mixed_6a = _BlockB(288)
        self.Mixed_6b = _BlockC(768, 128)
        self.Mixed_6c = _BlockC(768, 160)
        self.Mixed_6d = _BlockC(768, 160)
        self.Mixed_6e = _BlockC(768, 192)
        self.Mixed_7a = _BlockD(768)
        self.Mixed_7b = _BlockE(1280, max_pool=False)
        self.Mixed_7c = _BlockE(2048, max_pool=True)

    def forward(self, images: Tensor) -> Tensor:
        """``[B, 3, H, W]`` RGB in [0, 1] -> ``[B, 2048]`` pool features."""
        x = F.interpolate(images.float(), size=(self.config.input_size,) * 2, mode="bilinear",
                          align_corners=False)
        x = 2.0 * x - 1.0
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = F.max_pool2d(x, 3, stride=2)
        x = F.max_pool2d(self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x)), 3, stride=2)
        for name in ("5b", "5c", "5d", "6a", "6b", "6c", "6d", "6e", "7a", "7b", "7c"):
            x = getattr(self, f"Mixed_{name}")(x)
        return F.adaptive_avg_pool2d(x, 1).flatten(1)

    @classmethod
    def from_state_dict(cls, state: Mapping[str, Tensor], source: str = "the state dict",
                        config: FidInceptionConfig = FidInceptionConfig()) -> FidInception:
        """Build and load pytorch-fid's weights strictly (``fc.*`` set aside, ``num_batches_tracked`` optional).

        Raises :class:`~viewgen.networks.StateDictMismatchError` listing every mismatch.
        """
        with torch.device("meta"):
            model = cls(config)
        expected = {key: tuple(value.shape) for key, value in model.state_dict().items()}
        state = {key: value for key, value in state.items() if not key.startswith(_CLASSIFIER_PREFIX)}
        for key in expected:
            if key.endswith("num_batches_tracked") and key not in state:
                state[key] = torch.zeros((), dtype=torch.long)
        check_state_dict(expected, state, source)
        state = {key: value.float() if value.is_floating_point() else value for key, value in state.items()}
        model.load_state_dict(state, strict=True, assign=True)
        return model.eval().requires_grad_(False)
