"""AlexNet's convolutional feature stack, with torchvision's ``features.*`` parameter names.

Only the five convolutions are kept (what LPIPS taps); the layer indices match torchvision's
``alexnet().features`` so that ``alexnet-owt-7be5be79.pth`` (torchvision's ImageNet weights)
loads by name. The file's ``classifier.*`` entries are known and set aside; anything else that
does not fit is an error that lists every missing key, unexpected key and shape mismatch.

Networks know nothing of files: :meth:`AlexNetFeatures.from_torchvision_state_dict` takes a
state dict; reading it from the weights cache is :mod:`viewgen.evaluation.perceptual`'s job.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from viewgen.networks.pretrained import check_state_dict

__all__ = ["ALEXNET_TAP_CHANNELS", "AlexNetConfig", "AlexNetFeatures"]

ALEXNET_TAP_CHANNELS = (64, 192, 384, 256, 256)
_CLASSIFIER_PREFIX = "classifier."


@dataclass(frozen=True)
class AlexNetConfig:
    """channels: output channels of the five convolutions (torchvision's AlexNet: 64, 192, 384, 256, 256)."""

    channels: tuple[int, int, int, int, int] = ALEXNET_TAP_CHANNELS


class AlexNetFeatures(nn.Module):
    """AlexNet's ``features`` stack, returning the five ReLU outputs LPIPS compares.

    Layout (torchvision indices): 0 conv 11x11/4 pad 2, 1 ReLU, 2 max-pool 3/2, 3 conv 5x5 pad 2,
    4 ReLU, 5 max-pool 3/2, 6 conv 3x3, 7 ReLU, 8 conv 3x3, 9 ReLU, 10 conv 3x3, 11 ReLU.
    The final max-pool (12) is not needed and not built.
    """

    def __init__(self, config: AlexNetConfig = AlexNetConfig()) -> None:
        super().__init__()
        self.config = config
        c1, c2, c3, c4, c5 = config.channels
        self.features = nn.Sequential(
            nn.Conv2d(3, c1, 11, stride=4, padding=2), nn.ReLU(inplace=False), nn.MaxPool2d(3, 2),
            nn.Conv2d(c1, c2, 5, padding=2), nn.ReLU(inplace=False), nn.MaxPool2d(3, 2),
            nn.Conv2d(c2, c3, 3, padding=1), nn.ReLU(inplace=False),
            nn.Conv2d(c3, c4, 3, padding=1), nn.ReLU(inplace=False),
            nn.Conv2d(c4, c5, 3, padding=1), nn.ReLU(inplace=False),
        )

    # the torchvision indices after which LPIPS taps the activations (relu1 .. relu5)
    TAPS = (1, 4, 7, 9, 11)

    def forward(self, x: Tensor) -> list[Tensor]:
        """``x [B, 3, H, W]`` (already scaled as the caller's metric wants) -> five ``[B, C_k, H_k, W_k]``.

        H, W must be at least 31 pixels for the two max-pools to leave a pixel.
        """
        taps = []
        for index, layer in enumerate(self.features):
            x = layer(x)
            if index in self.TAPS:
                taps.append(x)
        return taps

    @classmethod
    def from_torchvision_state_dict(cls, state: Mapping[str, Tensor], source: str = "the state dict",
                                    config: AlexNetConfig = AlexNetConfig()) -> AlexNetFeatures:
        """Build the stack and load torchvision AlexNet weights strictly (``classifier.*`` set aside).

        Raises :class:`~viewgen.networks.StateDictMismatchError` listing every missing key,
        unexpected key and shape mismatch of the ``features.*`` part.
        """
        features = {key: value for key, value in state.items() if not key.startswith(_CLASSIFIER_PREFIX)}
        with torch.device("meta"):
            model = cls(config)
        expected = {key: tuple(value.shape) for key, value in model.state_dict().items()}
        check_state_dict(expected, features, source)
        model.load_state_dict({key: value.float() for key, value in features.items()}, strict=True, assign=True)
        return model.eval().requires_grad_(False)
