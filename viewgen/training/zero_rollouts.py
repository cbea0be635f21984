"""Infinite Nature Zero's virtual trajectories for training from single photos, differentiable end to end.

A batch holds single photos prepared as a flight's start (``rgbd [B, 4, S, S]`` and the canvas
``rgbd_full [B, 4, F, F]``, :func:`~viewgen.pipelines.zero_inputs.prepare_zero_inputs`): no poses and no
second view. Two kinds of virtual trajectory make training signal out of them:

**Cycle** (:func:`cycle_views`): a trajectory that leaves the photo and comes back to it, so the photo is
the ground truth of its last view::

    virtual  = refine(splat(photo -> random nearby camera v))       an unseen view: judged by the discriminator
    returned = refine(splat(virtual -> the photo's camera))          the photo's view again: L1 / perceptual to it

Content the photo shows but ``v`` does not see comes back as holes that the generator must fill, which
is the job a flight gives it; the return warp also carries the generator's own output, as a flight does.

**Long flight** (:func:`autopilot_rollout`): ``T`` steps of Zero's autopilot from the photo, each step
exactly a flight's (splat, refine, sky dome correction with its crash test, Sobel alpha); there is no
ground truth, so every frame is judged by the discriminator only. Gradients run through the whole
chain; the autopilot's poses are computed from detached frames, as a camera path is not something to
learn.

Both use :func:`~viewgen.refiners.stylegan.splat_known` and :func:`~viewgen.refiners.stylegan.generate`,
the arithmetic of the inference refiner, so training and flight cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from viewgen.control.zero_autopilot import ZeroAutopilotState, zero_autopilot_step
from viewgen.geometry.rotations import rotation_x, rotation_y
from viewgen.networks.stylegan2 import CoModGenerator
from viewgen.pipelines.zero_inputs import correct_sky, sky_dome_view
from viewgen.refiners.stylegan import StyleGANRefinerConfig, ZeroStyle, generate, splat_known
from viewgen.rendering.splat import sobel_foreground_alpha

__all__ = ["CycleViews", "VirtualCameraRange", "autopilot_rollout", "cycle_views", "draw_style", "virtual_cameras"]


@dataclass(frozen=True)
class VirtualCameraRange:
    """How far a cycle's virtual camera strays from the photo's: a move of up to ``forward`` along the view, up to
    ``sideways`` left or right and ``vertical`` up or down (depth units: the photo's disparity is at most 0.8, so
    its nearest point is 1.25 away), and a turn of up to ``yaw_deg`` / ``pitch_deg`` each way, all uniform."""

    forward: float = 0.4
    sideways: float = 0.2
    vertical: float = 0.1
    yaw_deg: float = 10.0
    pitch_deg: float = 5.0

    def __post_init__(self) -> None:
        for name in ("forward", "sideways", "vertical", "yaw_deg", "pitch_deg"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1e3:
                raise ValueError(f"VirtualCameraRange.{name} must be a number in [0, 1000), got {value!r}")


def virtual_cameras(batch: int, spread: VirtualCameraRange, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """``(rotation [B, 3, 3], translation [B, 3])`` from the photo's camera to a random virtual one
    (``P_virtual = R P_photo + t``), drawn from ``generator`` within ``spread``."""
    uniform = torch.rand(batch, 5, generator=generator, dtype=torch.float64) * 2.0 - 1.0
    centre = torch.stack([uniform[:, 0] * spread.sideways, uniform[:, 1] * spread.vertical,
                          (uniform[:, 2] + 1.0) * 0.5 * spread.forward], dim=1)  # in the photo's camera
    turn = rotation_y(uniform[:, 3] * spread.yaw_deg) @ rotation_x(uniform[:, 4] * spread.pitch_deg)  # camera axes
    rotation = turn.transpose(1, 2)  # photo -> virtual camera: P_v = turn^T (P - centre)
    translation = -(rotation @ centre.unsqueeze(-1)).squeeze(-1)
    return rotation.float(), translation.float()


def draw_style(generator_net: CoModGenerator, rgbd: Tensor, generator: torch.Generator) -> ZeroStyle:
    """A training style for photos ``rgbd [B, 4, S, S]``: their global codes (through the encoder's dropout, its
    mask drawn from ``generator``), ``z ~ N(0, I)`` and one set of noise maps per photo, all drawn from
    ``generator``; no truncation (its centre is unused, zeros)."""
    batch, config = rgbd.shape[0], generator_net.config
    keep = None
    if config.dropout > 0:
        keep = torch.empty(batch, config.code_dim).bernoulli_(1.0 - config.dropout, generator=generator).bool()
        keep = keep.to(rgbd.device)
    code = generator_net.encode_style(rgbd, keep_mask=keep)
    z = torch.randn(batch, config.latent_dim, generator=generator).to(rgbd.device)
    noise = tuple(value.to(rgbd.device) for value in generator_net.make_noise(batch, generator))
    return ZeroStyle(code, z, torch.zeros(1, config.latent_dim, device=rgbd.device), noise)


@dataclass(frozen=True, eq=False)
class CycleViews:
    """One cycle, each ``[B, 4, S, S]`` (RGBD in [0, 1]; the warps masked, for samples): ``virtual`` the refined
    virtual view, ``returned`` the refined view back at the photo's camera, ``virtual_warp`` / ``return_warp``
    the generator's inputs (RGB and disparity times the known mask)."""

    virtual: Tensor
    returned: Tensor
    virtual_warp: Tensor
    return_warp: Tensor


def _rgba(rgbd: Tensor, refiner: StyleGANRefinerConfig) -> Tensor:
    """``[B, 4, S, S]`` RGB + the Sobel foreground alpha of the disparity: what a flight splats. The alpha only
    decides which pixels are known (a threshold), so it is computed detached (its square root has no gradient
    where the disparity is flat)."""
    return torch.cat([rgbd[:, :3], sobel_foreground_alpha(rgbd[:, 3:4].detach(), refiner.sobel_beta)], dim=1)


def _refine_step(generator_net: CoModGenerator, rgba: Tensor, disparity: Tensor, rotation: Tensor,
                 translation: Tensor, pixel_matrix: Tensor, style: ZeroStyle,
                 refiner: StyleGANRefinerConfig) -> tuple[Tensor, Tensor]:
    """Splat ``rgba [B, 4, S, S]`` at ``disparity [B, 1, S, S]`` into the camera ``(R, t)`` and refine it, clamped as
    a flight clamps them: ``(refined RGBD, masked warp RGBD)``."""
    warp = splat_known(rgba.clamp(0.0, 1.0), disparity.clamp(min=refiner.min_disparity, max=1.0), rotation,
                       translation, pixel_matrix, refiner)
    refined = generate(generator_net, warp.condition, style, truncation=1.0)
    return refined, torch.cat([warp.rgb, warp.disparity], dim=1) * warp.mask


def cycle_views(generator_net: CoModGenerator, rgbd: Tensor, pixel_matrix: Tensor, style: ZeroStyle,
                rotation: Tensor, translation: Tensor, refiner: StyleGANRefinerConfig) -> CycleViews:
    """The cycle of the module doc for photos ``rgbd [B, 4, S, S]`` with ``K = pixel_matrix [B, 3, 3]`` and the
    virtual cameras ``(rotation [B, 3, 3], translation [B, 3])`` (:func:`virtual_cameras`)."""
    virtual, virtual_warp = _refine_step(generator_net, _rgba(rgbd, refiner), rgbd[:, 3:4], rotation, translation,
                                         pixel_matrix, style, refiner)
    back = rotation.transpose(1, 2)
    back_translation = -(back @ translation.unsqueeze(-1)).squeeze(-1)
    returned, return_warp = _refine_step(generator_net, _rgba(virtual, refiner), virtual[:, 3:4], back,
                                         back_translation, pixel_matrix, style, refiner)
    return CycleViews(virtual, returned, virtual_warp, return_warp)


def _homogeneous(poses: Tensor) -> Tensor:
    """``[B, 3, 4] -> [B, 4, 4]``."""
    bottom = torch.zeros(poses.shape[0], 1, 4, dtype=poses.dtype, device=poses.device)
    bottom[:, 0, 3] = 1.0
    return torch.cat([poses, bottom], dim=1)


def _sky_corrected(refined: Tensor, batch: dict, canvas_depth: Tensor, cam: Tensor, flight) -> tuple[Tensor, Tensor]:
    """``(rgb, disparity)`` of ``refined [B, 4, S, S]`` after the flight's sky correction with the photos' domes,
    per photo as a flight decides it: none without sky (``sky_offset`` 0) or when the crash test fails."""
    rgbd_full, size = batch["rgbd_full"], refined.shape[-1]
    sky_offset = batch["sky_offset"].to(refined).view(-1, 1, 1, 1)
    dome = sky_dome_view(rgbd_full[:, :3], canvas_depth, cam[:, :3, :3].to(refined.device),
                         batch["full_pixel_matrix"], size)
    sky = correct_sky(refined, dome, sky_offset, flight.coverage_threshold, flight.erosion_size, flight.blur_size,
                      flight.blur_sigma)
    fraction = sky.sky.mean(dim=(1, 2, 3), keepdim=True)
    keep = (sky_offset > 0) & (fraction >= flight.crash_below) & (fraction <= flight.crash_above)
    return torch.where(keep, sky.rgb, refined[:, :3]), torch.where(keep, sky.disparity, refined[:, 3:4])


def autopilot_rollout(generator_net: CoModGenerator, batch: dict, style: ZeroStyle, steps: int, flight) -> Tensor:
    """``steps`` frames of Zero's flight from each photo of ``batch`` (``rgbd``, ``rgbd_full``, ``sky_offset [B]``,
    ``pixel_matrix`` / ``full_pixel_matrix [B, 3, 3]``) with the settings of ``flight`` (an
    :class:`~viewgen.pipelines.infinite_nature_zero.InfiniteNatureZeroConfig`: autopilot, refiner, sky correction and
    crash test; training uses no truncation): the refined frames ``[B, steps, 4, S, S]``, before the sky correction
    as a flight shows them; the next step grows from the corrected frame (module doc)."""
    rgbd, refiner = batch["rgbd"], flight.refiner
    state = ZeroAutopilotState.start(rgbd.shape[0])
    cam_from_start = torch.eye(4).repeat(rgbd.shape[0], 1, 1)
    canvas_depth = 1.0 / batch["rgbd_full"][:, 3].clamp(1e-2, 10.0)
    rgba, disparity, frames = _rgba(rgbd, refiner), rgbd[:, 3:4], []
    for _ in range(steps):
        pose, state = zero_autopilot_step(batch["pixel_matrix"][0].cpu(), disparity[:, 0].detach().cpu(), state,
                                          flight.autopilot)
        cam = _homogeneous(pose.float())
        fly = (cam @ torch.inverse(cam_from_start)).to(rgbd.device)
        refined, _ = _refine_step(generator_net, rgba, disparity, fly[:, :3, :3], fly[:, :3, 3],
                                  batch["pixel_matrix"], style, refiner)
        frames.append(refined)
        alpha = sobel_foreground_alpha(refined[:, 3:4].detach(), refiner.sobel_beta)  # before the correction
        rgb, disparity = refined[:, :3], refined[:, 3:4]
        if flight.sky_correction:
            rgb, disparity = _sky_corrected(refined, batch, canvas_depth, cam, flight)
        rgba, disparity, cam_from_start = torch.cat([rgb, alpha], dim=1), disparity.clamp(0.0, 1.0), cam
    return torch.stack(frames, dim=1)
