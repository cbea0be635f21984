"""Infinite Nature Zero's refiner: forward-splat the current frame, then re-imagine it with the co-modulated StyleGAN2.

One call of :meth:`StyleGANRefiner.render_and_refine` is the original ``RenderModel.render_and_refine``::

    warped, disparity, coverage = render_forward_splat([rgb, alpha], 1 / disparity, R, t, K)   # softmax splat
    mask      = (warped_alpha > 0.3) * (coverage > 0.9)                  # known pixels (0/1)
    disparity = clamp(disparity, 0.01, 1)
    condition = [rgb * mask, disparity * mask, mask]                     # [B, 5, R, R] in [0, 1]
    rgbd      = G(feature_encoder(condition), global_code, [z], psi, mean_latent, noise)

``alpha`` is the Sobel foreground alpha of the current disparity (:meth:`StyleGANRefiner.foreground_alpha`,
beta 4): it is small across depth edges, so pixels splatted from an edge count as unknown.

What a flight fixes once is a :class:`ZeroStyle` (:meth:`StyleGANRefiner.sample_style`): the global
code of the first frame, the latent ``z``, the truncation centre (the mean latent) and the spatial
noise maps. Every random draw comes from a ``torch.Generator`` the caller passes (or a tensor it
gives), never from torch's global RNG, so a flight is reproducible. The original runs its generator
in training mode: the global code goes through ``Dropout(0.5)`` (``config.dropout``; give the
original's keep mask to reproduce a recorded run) and each noise layer draws fresh maps on every
call (``config.fixed_noise=False`` draws fresh maps per frame from the flight's generator; the
default keeps one set per flight, as the reference recordings do).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import torch
from torch import Tensor

from viewgen.checks import check_shape
from viewgen.networks.stylegan2 import CoModGenerator
from viewgen.refiners.base import RefinerBase
from viewgen.rendering.splat import render_forward_splat, sobel_foreground_alpha

__all__ = ["StyleGANRefiner", "StyleGANRefinerConfig", "ZeroRefinement", "ZeroStyle", "ZeroWarp", "generate",
           "splat_known"]


@dataclass(frozen=True)
class StyleGANRefinerConfig:
    """Settings of a :class:`StyleGANRefiner`; the defaults are the original's ``view_generation``.

    truncation: psi of the truncation trick (``w = mean + psi (w - mean)``); 1 (or more) turns it off.
    alpha_threshold, mask_threshold: a target pixel is known where the splatted Sobel alpha exceeds
        ``alpha_threshold`` and the splatted coverage exceeds ``mask_threshold``.
    min_disparity: the splatted disparity is clamped to ``[min_disparity, 1]``.
    sobel_beta: sharpness of the Sobel foreground alpha ``exp(-beta |grad disparity|)``.
    mean_latent_samples, mean_latent_seed: the truncation centre is the mean mapped latent of this
        many ``z`` drawn from a generator with this seed (the original: 50000, from the global RNG).
    dropout: apply the style encoder's dropout to the global code (the original's training mode).
    fixed_noise: one set of spatial noise maps per flight; ``False`` draws new maps every frame.
    """

    truncation: float = 0.7
    alpha_threshold: float = 0.3
    mask_threshold: float = 0.9
    min_disparity: float = 0.01
    sobel_beta: float = 4.0
    mean_latent_samples: int = 50000
    mean_latent_seed: int = 0
    dropout: bool = True
    fixed_noise: bool = True

    def __post_init__(self) -> None:
        for name in ("truncation", "alpha_threshold", "mask_threshold", "min_disparity", "sobel_beta"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value == value or value < 0:
                raise ValueError(f"StyleGANRefinerConfig.{name} must be a non-negative number, got {value!r}")
        if not 0 < self.min_disparity <= 1:
            raise ValueError(f"StyleGANRefinerConfig.min_disparity must lie in (0, 1], got {self.min_disparity}")
        if isinstance(self.mean_latent_samples, bool) or int(self.mean_latent_samples) < 1:
            raise ValueError(f"StyleGANRefinerConfig.mean_latent_samples must be >= 1, got {self.mean_latent_samples}")
        for name in ("dropout", "fixed_noise"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"StyleGANRefinerConfig.{name} must be true or false, got {getattr(self, name)!r}")


@dataclass(frozen=True, eq=False)
class ZeroStyle:
    """What a flight keeps fixed (batch ``B``; ``D`` the latent size, ``C`` the code size).

    global_code: ``[B, C]`` the first frame's global code (after dropout when it is on).
    z: ``[B, D]`` the latent.
    mean_latent: ``[1, D]`` the truncation centre.
    noise: one ``[1 or B, 1, s, s]`` map per noise input (``CoModGenerator.noise_names``), or ``None``
        to draw new maps at every frame.
    kernels: the generator's modulated kernels for this style (:meth:`StyleGANRefiner.with_kernels`), or
        ``None`` to compute them at every frame. Fixed with the style: a flight keeps the kernels of the
        weights it started with. Used only with gradients off (training needs them recomputed).
    """

    global_code: Tensor
    z: Tensor
    mean_latent: Tensor
    noise: tuple[Tensor, ...] | None
    kernels: tuple[Tensor, ...] | None = None


@dataclass(frozen=True, eq=False)
class ZeroWarp:
    """The current frame splatted into the next camera, each ``[B, c, R, R]``.

    rgb: splatted RGB (c = 3, not masked); alpha: splatted Sobel alpha; coverage: splatted ones;
    disparity: splatted disparity clamped to ``[min_disparity, 1]``; mask: the known pixels, 0/1 float.
    """

    rgb: Tensor
    alpha: Tensor
    disparity: Tensor
    coverage: Tensor
    mask: Tensor

    @property
    def condition(self) -> Tensor:
        """The generator's condition ``[rgb * mask, disparity * mask, mask]``: ``[B, 5, R, R]`` in [0, 1]."""
        return torch.cat([self.rgb * self.mask, self.disparity * self.mask, self.mask], dim=1)


@dataclass(frozen=True, eq=False)
class ZeroRefinement:
    """One render-and-refine step: ``rgbd [B, 4, R, R]`` in [0, 1] and the :class:`ZeroWarp` it grew from."""

    rgbd: Tensor
    warp: ZeroWarp


class StyleGANRefiner(RefinerBase):
    """Infinite Nature Zero's refiner around a :class:`~viewgen.networks.stylegan2.CoModGenerator`.

    It works at the generator's resolution ``R`` (square frames). The generator is kept in eval mode:
    dropout and noise are applied explicitly (module doc). Shapes: RGB(A) ``[B, 3|4, R, R]``,
    disparity ``[B, 1, R, R]``, rotation ``[B|1, 3, 3]``, translation ``[B|1, 3]`` (source camera to
    target camera, ``P_tgt = R P_src + t``), ``K`` the integer-pixel ``[3, 3]`` or ``[B|1, 3, 3]``.
    """

    name = "stylegan"

    def __init__(self, generator: CoModGenerator, config: StyleGANRefinerConfig | None = None) -> None:
        if not isinstance(generator, CoModGenerator):
            raise TypeError(f"generator must be a CoModGenerator, got {type(generator).__name__}")
        if generator.config.image_channels != 4:
            raise ValueError(f"the flight needs a 4-channel (RGBD) generator, got {generator.config.image_channels}")
        self.generator = generator.eval()
        self.config = config or StyleGANRefinerConfig()
        self._mean_latent: Tensor | None = None

    @property
    def image_size(self) -> tuple[int, int]:
        return (self.generator.config.resolution,) * 2

    @property
    def style_dim(self) -> int:
        return self.generator.config.code_dim

    @property
    def device(self) -> torch.device:
        return self.generator.G_synthesis.G_4x4.ToRGB.bias.device

    def to(self, device: torch.device | str, dtype: torch.dtype = torch.float32) -> StyleGANRefiner:
        """Move the generator (eval mode); a cached mean latent follows it."""
        self.generator = self.generator.to(device, dtype).eval()
        if self._mean_latent is not None:
            self._mean_latent = self._mean_latent.to(device, dtype)
        return self

    # ------------------------------------------------------------------ what a flight fixes

    @torch.no_grad()
    def mean_latent(self) -> Tensor:
        """The truncation centre ``[1, D]``, computed once (``config.mean_latent_samples``, ``mean_latent_seed``)."""
        if self._mean_latent is None:
            generator = torch.Generator().manual_seed(self.config.mean_latent_seed)
            self._mean_latent = self.generator.mean_latent(int(self.config.mean_latent_samples), generator)
        return self._mean_latent

    def foreground_alpha(self, disparity: Tensor) -> Tensor:
        """Sobel foreground alpha ``[B, 1, R, R] -> [B, 1, R, R]`` (beta ``config.sobel_beta``)."""
        return sobel_foreground_alpha(disparity, beta=self.config.sobel_beta)

    def draw_keep_mask(self, batch: int, generator: torch.Generator) -> Tensor:
        """A dropout keep mask ``[batch, C]`` (bool), drawn as the style encoder's dropout draws it."""
        keep = torch.empty(batch, self.style_dim, device=generator.device)
        return keep.bernoulli_(1.0 - self.generator.config.dropout, generator=generator).bool()

    @torch.no_grad()
    def sample_style(self, rgbd: Tensor, generator: torch.Generator | None = None, *, keep_mask: Tensor | None = None,
                     z: Tensor | None = None, mean_latent: Tensor | None = None,
                     noise: Sequence[Tensor] | None = None) -> ZeroStyle:
        """The flight's :class:`ZeroStyle` for its first frame ``rgbd [B, 4, R, R]`` (RGB + disparity in [0, 1]).

        Whatever is not given is drawn from ``generator`` (a fresh one seeded 0 if ``None``) in the
        original's order: the dropout keep mask (when ``config.dropout``), ``z ~ N(0, I)``, then the
        noise maps (when ``config.fixed_noise``). ``mean_latent`` defaults to :meth:`mean_latent`.
        """
        generator = generator if generator is not None else torch.Generator().manual_seed(0)
        self._check_rgbd(rgbd, "rgbd")
        batch, device = rgbd.shape[0], self.device
        if keep_mask is None and self.config.dropout and self.generator.config.dropout > 0:
            keep_mask = self.draw_keep_mask(batch, generator)
        code = self.generator.encode_style(rgbd.to(device), keep_mask=_on(keep_mask, device))
        if z is None:
            z = torch.randn(batch, self.generator.config.latent_dim, generator=generator, device=generator.device)
        check_shape(z, ("B", self.generator.config.latent_dim), "z", sizes={"B": batch})
        if noise is None and self.config.fixed_noise:
            noise = self.generator.make_noise(1, generator)
        mean_latent = self.mean_latent() if mean_latent is None else mean_latent
        check_shape(mean_latent, (1, self.generator.config.latent_dim), "mean_latent")
        noise = None if noise is None else tuple(_on(value, device) for value in noise)
        return ZeroStyle(code, z.to(device), mean_latent.to(device), noise)

    @torch.no_grad()
    def with_kernels(self, style: ZeroStyle) -> ZeroStyle:
        """``style`` with the generator's modulated kernels computed once (bit-identical frames, ~15% less work
        per frame on a CPU, ~72 MiB kept at batch 1 for the released generator)."""
        kernels = self.generator.style_kernels(style.global_code, style.z, self.config.truncation, style.mean_latent)
        return replace(style, kernels=kernels)

    def encode_style(self, rgbd: Tensor) -> tuple[Tensor, Tensor]:
        """The :class:`~viewgen.refiners.base.Refiner` call: ``(global code, no dropout; zeros)``, ``[B, C]`` each."""
        with torch.no_grad():
            code = self.generator.encode_style(self._check_rgbd(rgbd, "rgbd").to(self.device))
        return code, torch.zeros_like(code)

    # ------------------------------------------------------------------ one step

    @torch.no_grad()
    def render(self, rgba: Tensor, disparity: Tensor, rotation: Tensor, translation: Tensor,
               pixel_matrix: Tensor) -> ZeroWarp:
        """Splat ``rgba [B, 4, R, R]`` (RGB + Sobel alpha) at depth ``1 / disparity [B, 1, R, R]`` into the
        camera ``(rotation, translation)`` away, with ``K = pixel_matrix``; returns the :class:`ZeroWarp`."""
        self._check_rgbd(rgba, "rgba", " (RGB + Sobel alpha)")
        check_shape(disparity, (rgba.shape[0], 1, *rgba.shape[-2:]), "disparity")
        device = self.device
        return splat_known(rgba.to(device), disparity.to(device), rotation.to(device), translation.to(device),
                           pixel_matrix.to(device), self.config)

    @torch.no_grad()
    def refine(self, warped_rgbd: Tensor, mask: Tensor, style: ZeroStyle,
               noise_generator: torch.Generator | None = None) -> Tensor:
        """``warped_rgbd [B, 4, R, R]`` (disparity clamped here), ``mask [B, 1, R, R]`` (0/1) and the flight's
        :class:`ZeroStyle` -> refined RGBD ``[B, 4, R, R]`` in [0, 1]. ``noise_generator`` draws the noise
        maps when ``style.noise`` is ``None``."""
        self._check_rgbd(warped_rgbd, "warped_rgbd")
        check_shape(mask, (warped_rgbd.shape[0], 1, *warped_rgbd.shape[-2:]), "mask", hint=" (1 = known)")
        warped_rgbd, mask = warped_rgbd.to(self.device), mask.to(self.device)
        disparity = warped_rgbd[:, 3:].clamp(min=self.config.min_disparity, max=1.0)
        condition = torch.cat([warped_rgbd[:, :3] * mask, disparity * mask, mask], dim=1)
        return self._generate(condition, style, noise_generator)

    def render_and_refine(self, rgba: Tensor, disparity: Tensor, rotation: Tensor, translation: Tensor,
                          pixel_matrix: Tensor, style: ZeroStyle,
                          noise_generator: torch.Generator | None = None) -> ZeroRefinement:
        """:meth:`render`, then the generator on the warp's condition: the original's ``render_and_refine``."""
        warp = self.render(rgba, disparity, rotation, translation, pixel_matrix)
        return ZeroRefinement(self._generate(warp.condition, style, noise_generator), warp)

    @torch.no_grad()
    def _generate(self, condition: Tensor, style: ZeroStyle, noise_generator: torch.Generator | None) -> Tensor:
        """``condition [B, 5, R, R]`` in [0, 1] -> RGBD ``[B, 4, R, R]`` with the flight's style."""
        return generate(self.generator, condition, style, self.config.truncation, noise_generator)

    def _check_rgbd(self, rgbd: Tensor, name: str, hint: str = " (RGB + disparity in [0, 1])") -> Tensor:
        if not isinstance(rgbd, Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(rgbd).__name__}")
        check_shape(rgbd, ("B", 4, *self.image_size), name, hint=hint)
        return rgbd


def splat_known(rgba: Tensor, disparity: Tensor, rotation: Tensor, translation: Tensor, pixel_matrix: Tensor,
                config: StyleGANRefinerConfig) -> ZeroWarp:
    """:meth:`StyleGANRefiner.render`'s arithmetic, unchecked and differentiable (training runs it with gradients):
    ``rgba [B, 4, R, R]`` splatted at depth ``1 / disparity [B, 1, R, R]`` by ``(rotation [B|1, 3, 3],
    translation [B|1, 3])`` with ``pixel_matrix [B|1, 3, 3]``; the known mask and the clamp use ``config``."""
    warped, splatted, coverage = render_forward_splat(rgba, 1.0 / disparity, rotation, translation, pixel_matrix)
    known = (warped[:, 3:4] > config.alpha_threshold) * (coverage > config.mask_threshold)
    clamped = splatted.clamp(min=config.min_disparity, max=1.0)
    return ZeroWarp(warped[:, :3], warped[:, 3:4], clamped, coverage, known.to(warped.dtype))


def generate(generator: CoModGenerator, condition: Tensor, style: ZeroStyle, truncation: float,
             noise_generator: torch.Generator | None = None) -> Tensor:
    """The generator on ``condition [B, 5, R, R]`` (in [0, 1]) with ``style``: refined RGBD ``[B, 4, R, R]``;
    differentiable. ``style.noise`` ``None`` draws fresh noise maps from ``noise_generator``."""
    if style.noise is None and noise_generator is None:
        raise ValueError("style.noise is None (fresh noise every frame): pass a noise_generator to draw it from")
    noise = style.noise if style.noise is not None else generator.make_noise(1, noise_generator)
    features = generator.encode_features(condition)
    kernels = None if torch.is_grad_enabled() else style.kernels  # with gradients, the modulation must be live
    return generator(features, style.global_code, [style.z], truncation=truncation,
                     truncation_mean=style.mean_latent, noise=noise, kernels=kernels)


def _on(value: Tensor | None, device: torch.device) -> Tensor | None:
    return None if value is None else value.to(device)
