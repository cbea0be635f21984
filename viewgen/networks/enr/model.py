"""Equivariant Neural Rendering's model: an image -> a 3D feature volume (the scene) -> an image.

::

    inverse_render:  image [B, 3, H, W] in [0, 1]
                     -> inv_transform_2d (2D StageNet)            [B, C2, h, w]
                     -> inv_projection (1x1 convs), fold channels  [B, C3, D=h, h, w]
                     -> inv_transform_3d (3D StageNet)             [B, S, D', h', w']
                     -> spherical mask                             the scene, [B, 64, 32, 32, 32] for chairs
    render:          scene -> transform_3d (3D StageNet) -> unfold depth into channels
                     -> projection (1x1 convs) -> transform_2d (2D StageNet, 3-channel head) -> sigmoid

The forward networks are the inverse ones transposed (Apple's rule: the stages reversed, ``down``
and ``up`` swapped, each stage taking the channels of the one before it). Rotating the scene
between the two is not the network's business: :func:`viewgen.rendering.volume.rotate_volume`
with a rotation from :mod:`viewgen.geometry.rotations`.

:class:`ENRConfig` names every stage (``"res64"``, ``"down128"``, ``"up64"``); :meth:`ENRConfig.from_apple`
reads Apple's ``config`` dict (parallel ``channels`` / ``strides`` lists, stride -2 meaning up)
and :meth:`ENRConfig.to_apple` writes it. Module names and ``nn.Sequential`` positions are Apple's,
so its ``state_dict`` (313 keys for chairs) loads as it is.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from viewgen.checks import check_shape
from viewgen.networks.enr.blocks import FoldedConvs, StageNet, parse_stage
from viewgen.networks.pretrained import PretrainedMixin

__all__ = ["APPLE_CONFIG_KEYS", "ENRConfig", "EquivariantRenderer", "spherical_mask", "transposed_stages"]

APPLE_CONFIG_KEYS = ("img_shape", "channels_2d", "strides_2d", "channels_3d", "strides_3d",
                     "num_channels_inv_projection", "num_channels_projection", "mode")
_STRIDE_OF = {"res": 1, "down": 2, "up": -2}
_KIND_OF = {stride: kind for kind, stride in _STRIDE_OF.items()}


def _to_lists(stages: tuple[str, ...]) -> tuple[list[int], list[int]]:
    parsed = [parse_stage(stage) for stage in stages]
    return [width for _, width in parsed], [_STRIDE_OF[kind] for kind, _ in parsed]


def _from_lists(channels, strides) -> tuple[str, ...]:
    if len(channels) != len(strides) or any(stride not in _KIND_OF for stride in strides):
        raise ValueError(f"channels and strides must pair up, strides each 1, 2 or -2; got {list(channels)} and "
                         f"{list(strides)}")
    return tuple(f"{_KIND_OF[stride]}{int(width)}" for width, stride in zip(channels, strides))


def transposed_stages(stages: tuple[str, ...]) -> tuple[str, ...]:
    """The forward network's stages for an inverse network's (Apple's rule, see the module doc)."""
    channels, strides = _to_lists(stages)
    forward_channels = channels[::-1][1:] + channels[:1]
    forward_strides = [-stride if abs(stride) == 2 else stride for stride in strides[1:][::-1]] + strides[:1]
    return _from_lists(forward_channels, forward_strides)


def _scale(stages: tuple[str, ...]) -> int:
    """How many times a StageNet of ``stages`` shrinks each side (negative: grows)."""
    kinds = [parse_stage(stage)[0] for stage in stages]
    return kinds.count("down") - kinds.count("up")


def _out_channels(stages: tuple[str, ...]) -> int:
    """Channels out of a StageNet of ``stages`` without a head: the last ``down`` / ``up`` stage's, else the
    first stage's (the stem's; ``res`` stages keep their input's)."""
    resampling = [width for kind, width in map(parse_stage, stages) if kind != "res"]
    return resampling[-1] if resampling else parse_stage(stages[0])[1]


@dataclass(frozen=True)
class ENRConfig:
    """Settings of :class:`EquivariantRenderer`; the defaults are Apple's chairs model (``config.json``).

    image_size: ``(H, W)`` of the images; image_channels: 3.
    encoder_2d, encoder_3d: stages of the inverse renderer's 2D and 3D nets (the forward renderer's
        are their transposes); inverse_projection, projection: widths of the 1x1 convs that fold 2D
        features into a volume (the last width divided by the feature height is the volume's channels)
        and back.
    mode: how the scene is resampled when rotated (``bilinear``, i.e. trilinear, or ``nearest``).
    """

    image_size: tuple[int, int] = (128, 128)
    image_channels: int = 3
    encoder_2d: tuple[str, ...] = ("res64", "res64", "down128", "res128", "down128", "res128", "down256", "res256",
                                   "up128", "res128", "res128")
    inverse_projection: tuple[int, ...] = (256, 512, 1024)
    encoder_3d: tuple[str, ...] = ("res32", "res32", "down128", "res128", "res128", "up64", "res64", "res64")
    projection: tuple[int, ...] = (512, 256, 256)
    mode: str = "bilinear"

    def __post_init__(self) -> None:
        for name in ("encoder_2d", "encoder_3d", "inverse_projection", "projection"):
            if not getattr(self, name):
                raise ValueError(f"ENRConfig.{name} must not be empty")
        for stages in (self.encoder_2d, self.encoder_3d):
            for stage in stages:
                parse_stage(stage)
        if self.mode not in ("bilinear", "nearest"):
            raise ValueError(f"mode must be bilinear or nearest, got {self.mode!r}")
        if _scale(self.encoder_2d) < 0 or _scale(self.encoder_3d) < 0:
            raise ValueError("the 2D and 3D encoders must not grow their input (more up than down stages)")
        height, width = self.feature_size
        factor = 2 ** _scale(self.encoder_2d)
        if min(height, width) < 1 or (height * factor, width * factor) != tuple(self.image_size):
            raise ValueError(f"the 2D stages do not divide the image size {tuple(self.image_size)} evenly")
        if self.inverse_projection[-1] % height:
            raise ValueError(f"the last inverse projection width {self.inverse_projection[-1]} must be a multiple of "
                             f"the feature height {height}")
        factor_3d = 2 ** _scale(self.encoder_3d)
        if height % factor_3d or width % factor_3d:
            raise ValueError(f"the 3D stages do not divide the volume {height}x{height}x{width} evenly")

    @property
    def feature_size(self) -> tuple[int, int]:
        """``(h, w)`` of the 2D features folded into the volume (its depth is ``h``)."""
        factor = 2 ** _scale(self.encoder_2d)
        return self.image_size[0] // factor, self.image_size[1] // factor

    @property
    def scene_shape(self) -> tuple[int, int, int, int]:
        """``(C, D, H, W)`` of the scene volume."""
        height, width = self.feature_size
        factor = 2 ** _scale(self.encoder_3d)
        return _out_channels(self.encoder_3d), height // factor, height // factor, width // factor

    @classmethod
    def from_apple(cls, config: dict) -> ENRConfig:
        """From the ``config`` dict of Apple's checkpoints (:data:`APPLE_CONFIG_KEYS`)."""
        missing = [key for key in APPLE_CONFIG_KEYS if key not in config]
        unknown = sorted(set(config) - set(APPLE_CONFIG_KEYS))
        if missing or unknown:
            raise ValueError(f"not an ENR config: missing {missing or 'nothing'}, unknown {unknown or 'nothing'}")
        channels, height, width = (int(v) for v in config["img_shape"])
        return cls(image_size=(height, width), image_channels=channels,
                   encoder_2d=_from_lists(config["channels_2d"], config["strides_2d"]),
                   inverse_projection=tuple(int(v) for v in config["num_channels_inv_projection"]),
                   encoder_3d=_from_lists(config["channels_3d"], config["strides_3d"]),
                   projection=tuple(int(v) for v in config["num_channels_projection"]), mode=config["mode"])

    def to_apple(self) -> dict:
        """Apple's ``config`` dict for this config (what :meth:`from_apple` reads)."""
        channels_2d, strides_2d = _to_lists(self.encoder_2d)
        channels_3d, strides_3d = _to_lists(self.encoder_3d)
        return {"img_shape": [self.image_channels, *self.image_size], "channels_2d": channels_2d,
                "strides_2d": strides_2d, "channels_3d": channels_3d, "strides_3d": strides_3d,
                "num_channels_inv_projection": list(self.inverse_projection),
                "num_channels_projection": list(self.projection), "mode": self.mode}


def spherical_mask(shape: tuple[int, int, int, int]) -> Tensor:
    """``[C, D, H, W]`` of 0 / 1: 1 where a voxel's squared distance from the centre ``((D - 1) / 2, ...)``
    is at most the squared radius ``(H - 1) / 2`` (Apple's ball; 15,408 of 32,768 voxels at 32^3)."""
    channels, depth, height, width = shape
    radius = (height - 1) / 2
    grids = torch.meshgrid(*(torch.arange(n, dtype=torch.float64) for n in (depth, height, width)), indexing="ij")
    squared = sum((grid - (n - 1) / 2) ** 2 for grid, n in zip(grids, (depth, height, width)))
    inside = (squared <= radius ** 2).float()
    return inside.expand(channels, depth, height, width).clone()


class _SphericalMask(nn.Module):
    def __init__(self, shape: tuple[int, int, int, int]) -> None:
        super().__init__()
        self.register_buffer("mask", spherical_mask(shape))

    def forward(self, volume: Tensor) -> Tensor:
        return volume * self.mask


class EquivariantRenderer(PretrainedMixin, nn.Module):
    """ENR's inverse and forward renderers (see the module doc); configured by :class:`ENRConfig`."""

    config_class = ENRConfig

    def __init__(self, config: ENRConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or ENRConfig()
        height, _ = config.feature_size
        self.inv_transform_2d = StageNet(2, config.image_channels, config.encoder_2d)
        self.inv_projection = FoldedConvs(self.inv_transform_2d.out_channels, config.inverse_projection)
        self.inv_transform_3d = StageNet(3, config.inverse_projection[-1] // height, config.encoder_3d)
        self.spherical_mask = _SphericalMask(config.scene_shape)
        self.transform_3d = StageNet(3, config.scene_shape[0], transposed_stages(config.encoder_3d))
        self.projection = FoldedConvs(self.transform_3d.out_channels * config.scene_shape[1], config.projection)
        self.transform_2d = StageNet(2, config.projection[-1], transposed_stages(config.encoder_2d),
                                     head_channels=config.image_channels)

    def inverse_render(self, image: Tensor) -> Tensor:
        """``image [B, 3, H, W]`` in [0, 1] -> the scene ``[B, *config.scene_shape]`` (zero outside the ball)."""
        check_shape(image, ("B", self.config.image_channels, *self.config.image_size), "image",
                    hint=" (RGB in [0, 1] at the model's size)")
        features = self.inv_projection(self.inv_transform_2d(image))
        batch, channels, height, width = features.shape
        volume = features.view(batch, channels // height, height, height, width)
        return self.spherical_mask(self.inv_transform_3d(volume))

    def render(self, scene: Tensor) -> Tensor:
        """The scene ``[B, *config.scene_shape]`` -> an image ``[B, 3, H, W]`` in (0, 1)."""
        check_shape(scene, ("B", *self.config.scene_shape), "scene", hint=" (an ENR scene volume)")
        return torch.sigmoid(self.transform_2d(self.project(self.transform_3d(scene))))

    def project(self, volume: Tensor) -> Tensor:
        """``[B, C, D, H, W]`` -> ``[B, projection[-1], H, W]``: depth folded into channels, then the 1x1 convs."""
        batch, channels, depth, height, width = volume.shape
        return self.projection(volume.reshape(batch, channels * depth, height, width))
