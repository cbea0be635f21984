"""The weight-free refiner: classical hole filling and detail restoration in place of SPADE.

Without converted Infinite Nature weights the fly-through still needs something that turns
a warped frame with holes into a complete frame. :class:`ClassicalRefiner` has the same
interface as the learned refiner (``encode_style`` once, ``refine`` every frame)::

    style = refiner.encode_style(rgbd_0)[0]                 # 43 numbers measured on frame 0
    refined = refiner.refine(warped_rgbd, mask, style)      # [B, 4, H, W] in [0, 1]

``refine`` does, per image:

1. un-premultiply the warp (``warp_rgbd`` returns ``rgbd * m`` and ``m * m``) and weigh each
   pixel by a smoothstep of the mask (1 = kept from the warp, 0 = filled; soft edges blend);
2. fill the disparity (:mod:`~viewgen.refiners.classical.fill`: the farther of a fitted
   ground plane and the style's layout prior, plus the OpenCV-Telea-inpainted residual of
   the known pixels, background-first at disocclusions);
3. settle the disparity with two priors that stand in for what SPADE has learned: sky
   recedes by ``exp(-sky_recede_rate)`` per frame down to 0.01 (a flight never reaches a sky
   the depth estimate put at finite depth), ground relaxes by ``layout_rate`` toward the
   frame-0 layout by row (without it a forward flight settles onto the renderer's near clip
   within 5-15 frames and the frame becomes a plane glued to the camera, magnified 1.25x per
   frame);
4. fill the color: the style's sky gradient or ground color by disparity, plus the
   inpainted residual, fading with distance from the known pixels;
5. aerial perspective: the ground's large-scale color relaxes by ``color_rate`` toward the
   style's color at its disparity (everything on the ground arrives from the hazy horizon);
6. restore ground detail (:func:`~viewgen.refiners.classical.detail.restore_detail`): keep
   four detail bands at the style's energies by compensation, attenuation, renewal of
   near-ground and streak-like texture, and synthesis; the sky is left smooth.

Known pixels (mask 1) keep their color within ``max_detail_change + color_rate`` per
channel (the detail layer plus the aerial-perspective pull) and their disparity up to the
two priors: sky disparity only recedes, ground disparity moves at most ``layout_rate`` of the
way (in log space) toward the layout prior.

Hand-written because no library does perpetual-flight refinement; OpenCV supplies the
inpainting. Everything is deterministic: the noise comes from a private ``torch.Generator``
seeded by ``config.seed``, the style and a checksum of the inputs, so ``refine`` is a pure
function of its arguments (on one machine; float reductions may differ across devices).
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from itertools import pairwise

import torch
from torch import Tensor

from viewgen.checks import check_min_size, check_shape
from viewgen.geometry.disparity import DISPARITY_RANGE
from viewgen.refiners.base import RefinerBase
from viewgen.refiners.classical.detail import lowpass, restore_detail
from viewgen.refiners.classical.fill import fill_color, fill_disparity, hole_region, known_weight, unpremultiply
from viewgen.refiners.classical.style import (
    DETAIL_BANDS,
    STYLE_DIM,
    detail_targets,
    ground_color,
    ground_nearness,
    layout_disparity,
    measure_style,
    unpack_style,
)

__all__ = ["ClassicalRefiner", "ClassicalRefinerConfig"]



@dataclass(frozen=True)
class ClassicalRefinerConfig:
    """Settings of :class:`ClassicalRefiner` (lengths are fractions of the image width unless noted).

    known_low, known_high: mask values where a warped pixel starts to count and is fully kept.
    inpaint_radius: ``cv2.inpaint`` neighbourhood in (inpainting) pixels.
    inpaint_height: inpainting runs on the image shrunk by a power of two to about this height
        (its cost grows with the hole boundaries; the fills fade into smooth models anyway).
    rim_fraction, rim_ratio: occluder rims within ``rim_fraction`` of a hole and nearer than
        ``rim_ratio`` x the local background are not used as inpainting sources.
    ground_decay, sky_decay: distance over which the inpainted residual fades into the
        style's model inside a hole (ground, sky).
    hole_color_variation: low-frequency color variation in big ground holes, in units of
        the style's ground color spread.
    sky_margin, sky_threshold_cap: the style's sky threshold, ``clamp(margin * q2 + 0.01, 0.015, cap)``.
    sky_recede_rate: per-frame log shrink of sky disparity toward 0.01.
    layout_rate: per-frame log-space pull of ground disparity toward the style's layout prior.
    detail_sigmas: Gaussian sigmas (pixels) splitting the fine, mid and coarse detail bands
        (the coarse band is only scaled, never synthesised).
    energy_sigma: window (pixels) of the local detail energy.
    max_gain: largest per-frame amplification of the fine and mid detail bands. 1 (off) by
        default: amplification inside the feedback loop turns the renderer's position-dependent
        resampling blur into rings and a cross around the focus of expansion.
    min_gain_far, min_gain_near: strongest per-frame attenuation of a detail band above its
        target on the farthest and nearest ground (interpolated by nearness): removes the
        energy that magnification moves from the fine bands into the coarse ones.
    near_renewal: share of each detail band's energy replaced by fresh texture per frame on the
        nearest ground (scaled by nearness squared, so none on far ground and sky).
    streak_renewal: extra renewal of streak-like (coherent) detail, scaled by nearness.
    color_rate: per-frame pull of the ground's large-scale color toward the style's color
        at its disparity (aerial perspective; full on the nearest ground, 30% on the farthest).
    known_noise_fraction: share of the detail deficit synthesised per frame on known pixels
        (1 in holes); below 1 trades a slower recovery for less flicker.
    max_detail_change: bound on the detail layer's change of any color channel.
    detail_layer: run step 6 (image-space detail restoration); off for a loop that restores
        detail another way (e.g. texture fixed to the 3D surface, added after the warp).
    seed: mixed into every noise seed.
    """

    known_low: float = 0.25
    known_high: float = 0.75
    inpaint_radius: float = 2.0
    inpaint_height: int = 80
    rim_fraction: float = 0.025
    rim_ratio: float = 1.25
    ground_decay: float = 0.05
    sky_decay: float = 0.25
    hole_color_variation: float = 0.7
    sky_margin: float = 1.6
    sky_threshold_cap: float = 0.12
    sky_recede_rate: float = 0.05
    layout_rate: float = 0.1
    detail_sigmas: tuple[float, float, float, float] = (1.0, 3.0, 8.0, 20.0)
    energy_sigma: float = 4.0
    max_gain: float = 1.0
    min_gain_far: float = 0.95
    min_gain_near: float = 0.8
    near_renewal: float = 0.4
    streak_renewal: float = 0.5
    color_rate: float = 0.1
    known_noise_fraction: float = 0.5
    max_detail_change: float = 0.1
    detail_layer: bool = True
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0.0 <= self.known_low < self.known_high <= 1.0:
            raise ValueError("ClassicalRefinerConfig needs 0 <= known_low < known_high <= 1")
        sigmas = self.detail_sigmas
        if len(sigmas) != DETAIL_BANDS or sigmas[0] <= 0.0 or not all(a < b for a, b in pairwise(sigmas)):
            raise ValueError(f"ClassicalRefinerConfig.detail_sigmas must be {DETAIL_BANDS} increasing positive sigmas")
        if self.max_gain < 1.0 or not 0.0 <= self.known_noise_fraction <= 1.0:
            raise ValueError("ClassicalRefinerConfig needs max_gain >= 1 and known_noise_fraction in [0, 1]")


class ClassicalRefiner(RefinerBase):
    """Fill holes and keep detail alive without learned weights (see the module doc).

    ``name`` is shown in the pipeline's one-line announcement; ``image_size = None`` means any
    size works; ``style_dim`` is the length of :meth:`encode_style`'s vectors. The detail layer
    is designed for the paper's loop (:class:`~viewgen.memory.LastFrame`: every frame warps the
    previous one and is shown as refined).
    """

    name = "classical"
    image_size = None
    style_dim = STYLE_DIM

    def __init__(self, config: ClassicalRefinerConfig | None = None) -> None:
        self.config = config or ClassicalRefinerConfig()
        self.device, self.dtype = torch.device("cpu"), torch.float32

    def to(self, device: str | torch.device | None = None, dtype: torch.dtype | None = None) -> ClassicalRefiner:
        """Set where :meth:`encode_style` returns its codes (no parameters to move); returns ``self``."""
        self.device = torch.device(device) if device is not None else self.device
        self.dtype = dtype if dtype is not None else self.dtype
        return self

    @torch.inference_mode()
    def encode_style(self, rgbd: Tensor) -> tuple[Tensor, Tensor]:
        """Frame 0 ``rgbd [B, 4, H, W]`` -> ``(mu [B, style_dim], logvar [B, style_dim])``; logvar is zeros."""
        _check_rgbd(rgbd, "rgbd")
        config = self.config
        mu = measure_style(rgbd.to(self.device, self.dtype), sky_margin=config.sky_margin,
                           sky_threshold_cap=config.sky_threshold_cap, sigmas=config.detail_sigmas,
                           energy_sigma=config.energy_sigma)
        return mu, torch.zeros_like(mu)

    @torch.inference_mode()
    def refine(self, warped_rgbd: Tensor, mask: Tensor, style: Tensor) -> Tensor:
        """Complete each warped frame.

        Args:
            warped_rgbd: ``[B, 4, H, W]`` from ``warp_rgbd`` (premultiplied by ``m``, holes 0).
            mask: ``[B, 1, H, W]`` its soft mask ``m * m`` in [0, 1].
            style: ``[B, style_dim]`` or ``[style_dim]`` from :meth:`encode_style` (``[1, ...]``
                is shared by the batch).

        Returns:
            ``[B, 4, H, W]`` in warped_rgbd's dtype and device: RGB in [0, 1], disparity in
            [0.01, 1]. Pixels with mask 1 are kept within the bounds in the module doc.
        """
        _check_rgbd(warped_rgbd, "warped_rgbd")
        batch, _, height, width = warped_rgbd.shape
        check_shape(mask, ("B", 1, "H", "W"), "mask", sizes={"B": batch, "H": height, "W": width})
        style = style.to(warped_rgbd)
        check_shape(style, [(STYLE_DIM,), (1, STYLE_DIM), ("B", STYLE_DIM)], "style", sizes={"B": batch})
        style = style.unsqueeze(0) if style.dim() == 1 else style
        style = style.expand(batch, STYLE_DIM)
        frames = [self._refine_one(warped_rgbd[i:i + 1], mask[i:i + 1].to(warped_rgbd), style[i:i + 1])
                  for i in range(batch)]
        return torch.cat(frames)

    def _refine_one(self, warped_rgbd: Tensor, mask: Tensor, style: Tensor) -> Tensor:
        """One image: ``[1, 4, H, W], [1, 1, H, W], [1, STYLE_DIM] -> [1, 4, H, W]``."""
        config = self.config
        generator = torch.Generator().manual_seed(_noise_seed(warped_rgbd, mask, style, config.seed))
        known = unpremultiply(warped_rgbd, mask)
        weight = known_weight(mask, config.known_low, config.known_high)
        holes = hole_region(known[:, 3:], weight, config)
        threshold = float(unpack_style(style)["sky_threshold"])
        disparity_fill = fill_disparity(known[:, 3:], holes, style, config)
        disparity = self._settle_disparity(torch.lerp(disparity_fill, known[:, 3:], weight), style, threshold)
        rgb_fill = fill_color(known[:, :3], disparity, holes, style, generator, config)
        rgb = self._settle_color(torch.lerp(rgb_fill, known[:, :3], weight), disparity, style, threshold)
        if config.detail_layer:
            rgb = self._restore_ground_detail(rgb, disparity, weight, style, threshold, generator)
        return torch.cat([rgb, disparity], dim=1)

    def _settle_color(self, rgb: Tensor, disparity: Tensor, style: Tensor, threshold: float) -> Tensor:
        """Aerial perspective: the ground's large-scale color relaxes toward the style's color at its depth.

        Everything on the ground arrives from the (hazy) horizon; without this the whole ground
        takes the horizon's haze. ``[1, 3, H, W] -> [1, 3, H, W]``, rate ``color_rate`` per frame
        on the nearest ground, 30% of it on the farthest, none in the sky.
        """
        config = self.config
        ground = (disparity >= threshold).to(rgb)
        rate = config.color_rate * (0.3 + 0.7 * ground_nearness(style, disparity)) * ground
        offset = ground_color(style, disparity) - lowpass(rgb, config.detail_sigmas[-1])
        return (rgb + rate * offset).clamp(0.0, 1.0)

    def _restore_ground_detail(self, rgb: Tensor, disparity: Tensor, weight: Tensor, style: Tensor, threshold: float,
                               generator: torch.Generator) -> Tensor:
        """Detail restoration on the ground only (the sky is left smooth), ``[1, 3, H, W] -> [1, 3, H, W]``.

        The sky is replaced by the far ground color while the bands are measured, so that the
        skyline neither counts as texture nor gets attenuated.
        """
        config = self.config
        sky = ((1.5 * threshold - disparity) / (0.5 * threshold)).clamp(0.0, 1.0)
        ground_only = torch.lerp(rgb, unpack_style(style)["ground_far"][:, :, None, None], sky)
        nearness = ground_nearness(style, disparity)
        min_gain = config.min_gain_far + (config.min_gain_near - config.min_gain_far) * nearness
        restored = restore_detail(
            ground_only, detail_targets(style, disparity), generator, sigmas=config.detail_sigmas,
            energy_sigma=config.energy_sigma, min_gain=min_gain, max_gain=config.max_gain,
            renewal=config.near_renewal * nearness.square(), streak_renewal=config.streak_renewal * nearness,
            noise_fraction=1.0 - weight * (1.0 - config.known_noise_fraction), max_change=config.max_detail_change)
        return (rgb + (1.0 - sky) * (restored - ground_only)).clamp(0.0, 1.0)

    def _settle_disparity(self, disparity: Tensor, style: Tensor, threshold: float) -> Tensor:
        """Sky recedes toward 0.01; ground relaxes toward the layout prior (in log space); clamp.

        ``[1, 1, H, W] -> [1, 1, H, W]`` in [0.01, 1].
        """
        config = self.config
        sky = disparity < threshold
        receded = disparity * math.exp(-config.sky_recede_rate)
        layout = layout_disparity(style, disparity.shape[2])
        relaxed = disparity.clamp_min(1e-6) ** (1.0 - config.layout_rate) * layout ** config.layout_rate
        return torch.where(sky, receded, relaxed).clamp(*DISPARITY_RANGE)


def _check_rgbd(rgbd: Tensor, name: str) -> None:
    check_shape(rgbd if isinstance(rgbd, Tensor) else None, ("B", 4, "H", "W"), name)
    if not rgbd.is_floating_point():
        raise ValueError(f"{name} must be a floating-point tensor, got {rgbd.dtype}")
    check_min_size(rgbd, 8, name)


def _noise_seed(warped_rgbd: Tensor, mask: Tensor, style: Tensor, seed: int) -> int:
    """A seed from the config, the style and a checksum of the inputs (same inputs -> same noise)."""
    summary = torch.stack([warped_rgbd.double().sum(), mask.double().sum(), (warped_rgbd[:, :3].double() ** 2).sum()])
    numbers = torch.cat([summary.cpu(), style.double().flatten().cpu()])
    return zlib.crc32(numbers.mul(1e4).round().to(torch.int64).numpy().tobytes(), seed & 0xFFFFFFFF)
