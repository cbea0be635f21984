"""Exact depth by ray marching the heightfield: coarse cones, per-pixel march, Illinois refinement.

A ray is ``p(t) = o + t d`` with ``d`` the world direction of the camera-space ray
``((u - cx) / fx, (v - cy) / fy, 1)``, so the parameter ``t`` *is* the depth along the optical
axis. The gap ``g(t) = elevation(p(t)) - surface(x, z)`` is marched with steps ``max(step_scale *
g / rate, min_step * t * (1 + t / step_growth_distance))``, where ``rate = max_slope * |d_xz| +
descent`` bounds how fast the gap can close: long steps high above the ground, short near it, and
a floor that keeps grazing rays affordable. A ray stops when the gap changes sign (a hit,
bracketed by its last two samples), when it rises above the terrain's bounding elevation, or at
``far`` (sky, depth ``inf``). Hits are refined by Illinois false position inside the bracket
until the point is on the surface to ``tolerance + relative_tolerance * t`` world units.

For images, one *cone* per ``block x block`` pixels is marched first: its gap is reduced by
``cone * (1 + max_slope) * t`` (how much closer any ray of the block can be to the surface), so
where the cone is still above ground every pixel ray of its block is too, and each pixel ray
starts where its cone stopped. Afterwards pixels lying far behind a neighbour are re-sampled
densely around the neighbour's depth (:func:`repair_silhouettes`), which recovers crests that a
grazing ray stepped over. Rays are compacted as they finish, so the work follows the rays still
marching, and once few rays remain each iteration takes several steps per ray at once (a fixed
cost per iteration dominates then). Rays are stored as rows ``[6, N]``: ``ox oy oz dx dy dz``
(world frame, y down).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from viewgen.data.synthetic.world import World
from viewgen.geometry.poses import camera_center

__all__ = ["RenderConfig", "block_start", "cast_rays", "image_rays", "march", "refine", "repair_silhouettes",
           "resolve"]


@dataclass(frozen=True)
class RenderConfig:
    """Ray-marching settings (world units).

    far: depth beyond which everything is sky. max_steps: march iterations per ray (rays still
    undecided then count as sky). step_scale: fraction of the safe step taken. min_step: the
    smallest step as a fraction of the depth reached, growing as ``min_step * (1 + t /
    step_growth_distance)`` (bounds the cost of grazing rays; features thinner than this fraction
    of their distance may be stepped over). refine_steps, tolerance, relative_tolerance: Illinois
    iterations on each hit, stopping once the gap is within ``tolerance + relative_tolerance * t``.
    block: the image is first marched with one cone per ``block x block`` pixels (1 turns this
    off). silhouette_passes, silhouette_samples: see :func:`repair_silhouettes` (0 passes: off).
    """

    far: float = 16000.0
    max_steps: int = 400
    step_scale: float = 1.0
    min_step: float = 0.03
    step_growth_distance: float = 3000.0
    refine_steps: int = 14
    tolerance: float = 2e-3
    relative_tolerance: float = 1e-5
    block: int = 4
    silhouette_passes: int = 2
    silhouette_samples: int = 32

    def __post_init__(self) -> None:
        if min(self.far, self.max_steps, self.step_scale, self.min_step, self.step_growth_distance,
               self.refine_steps, self.tolerance, self.relative_tolerance, self.block,
               self.silhouette_samples) <= 0:
            raise ValueError("RenderConfig fields must be positive (silhouette_passes may be 0)")
        if self.silhouette_passes < 0 or self.silhouette_samples < 2:
            raise ValueError("silhouette_passes must be >= 0 and silhouette_samples >= 2")


def image_rays(pose: Tensor, intrinsics: Tensor, u: Tensor, v: Tensor) -> Tensor:
    """Rays ``[6, B * len(v) * len(u)]`` through the texture coordinates ``u [W'] x v [H']``.

    ``pose [B, 3, 4]`` world-to-camera, ``intrinsics [B, 4]``; rows ``ox oy oz dx dy dz`` with the
    camera-space direction ``((u - cx) / fx, (v - cy) / fy, 1)`` rotated to the world, row-major
    over ``(b, v, u)``.
    """
    fx, fy, cx, cy = (c.view(-1, 1, 1) for c in intrinsics.unbind(-1))
    x = (u.view(1, 1, -1) - cx) / fx  # [B, 1, W']
    y = (v.view(1, -1, 1) - cy) / fy  # [B, H', 1]
    rotation = pose[:, :, :3]
    shape = (pose.shape[0], v.numel(), u.numel())
    rows = []
    for k in range(3):  # d_world[k] = sum_j R[j, k] d_cam[j]
        r = rotation[:, :, k].reshape(-1, 3, 1, 1)
        rows.append((r[:, 0] * x + r[:, 1] * y + r[:, 2]).expand(shape).reshape(-1))
    centre = camera_center(pose)  # [B, 3]
    origins = centre.T.reshape(3, -1, 1).expand(3, shape[0], shape[1] * shape[2]).reshape(3, -1)
    return torch.cat([origins, torch.stack(rows)], dim=0)


def _gap(world: World, rays: Tensor, t: Tensor) -> Tensor:
    """Gap ``elevation - surface`` at parameter ``t [n]`` of ``rays [6, n]``."""
    return _cone_gap(world, rays, t, 0.0)[0]


def _packet_size(active: int) -> int:
    """Samples per ray per iteration: 1 while many rays march, up to 16 for the last few.

    Each iteration costs a fixed overhead (tens of tensor ops) plus the work per sample, so the
    last, mostly grazing rays take several samples per iteration instead of many iterations.
    """
    size = 1
    while size < 16 and active * size * 2 <= 32768:
        size *= 2
    return size


def _cone_gap(world: World, rays: Tensor, t: Tensor, cone: float) -> tuple[Tensor, Tensor]:
    """``(gap, lowest elevation)`` at ``t [n]``, both lowered for a cone of radius ``cone * t``."""
    x = torch.addcmul(rays[0], t, rays[3])
    z = torch.addcmul(rays[2], t, rays[5])
    elevation = torch.addcmul(rays[1], t, rays[4]).neg_()
    gap = elevation - world.terrain.surface(x, z)
    if cone > 0:
        gap.sub_(t, alpha=cone * (1.0 + world.terrain.config.max_slope))
        elevation.sub_(t, alpha=cone)
    return gap, elevation


def _initial_state(world: World, rays: Tensor, start: Tensor, cone: float, config: RenderConfig) -> Tensor:
    """March state ``[10, N]``: rows ``ox oy oz dx dy dz step_scale/rate rising t g``."""
    slope = world.terrain.config.max_slope
    horizontal = torch.sqrt(rays[3] * rays[3] + rays[5] * rays[5])
    rate = horizontal * slope + rays[4].clamp(min=0.0) + cone * (1.0 + slope)
    gap, _ = _cone_gap(world, rays, start, cone)
    return torch.cat([rays, (config.step_scale / rate.clamp(min=1e-6)).unsqueeze(0),
                      (rays[4] <= 0).float().unsqueeze(0), start.unsqueeze(0), gap.unsqueeze(0)], dim=0)


def _advance(world: World, state: Tensor, cone: float,
             config: RenderConfig) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Sample every ray ``P`` steps ahead: ``(finished [n] bool, rows [4, n], t [n], g [n])``.

    ``rows`` holds, per ray, the two samples around its first sign change (a hit) or its last two
    samples (no hit), as ``t_prev, g_prev, t, g``; ``t, g`` is the last sample, where marching goes on.
    """
    t, g = state[8], state[9]
    size = _packet_size(t.numel())
    growth = config.min_step / config.step_growth_distance
    step = torch.maximum(g * state[6], t * (config.min_step + growth * t))
    ahead = torch.arange(1, size + 1, dtype=t.dtype)
    samples = torch.addcmul(t.unsqueeze(1), step.unsqueeze(1), ahead).clamp_(max=config.far)  # [n, P]
    rays = state[:6] if size == 1 else state[:6].repeat_interleave(size, dim=1)
    gaps, elevation = _cone_gap(world, rays, samples.view(-1), cone)
    all_t = torch.cat([t.unsqueeze(1), samples], dim=1)  # [n, P + 1], column 0: the current sample
    all_g = torch.cat([g.unsqueeze(1), gaps.view(-1, size)], dim=1)
    below = all_g[:, 1:] <= 0
    hit = below.any(dim=1)
    pick = torch.where(hit, below.to(torch.uint8).argmax(dim=1) + 1, size).unsqueeze(1)
    rows = torch.cat([all_t.gather(1, pick - 1), all_g.gather(1, pick - 1), all_t.gather(1, pick),
                      all_g.gather(1, pick)], dim=1).T
    rising_above = (elevation.view(-1, size)[:, -1] > world.terrain.max_elevation) & (state[7] > 0)
    finished = hit | (samples[:, -1] >= config.far) | rising_above
    return finished, rows, all_t[:, -1], all_g[:, -1]


def march(world: World, rays: Tensor, start: Tensor, cone: float, config: RenderConfig) -> tuple[Tensor, Tensor]:
    """March ``rays [6, N]`` from ``start [N]`` until the gap changes sign or they leave.

    With ``cone > 0`` each ray stands for every ray within ``cone * t`` of it. Returns ``(indices
    [N], rows [4, N])`` with rows ``t_prev, g_prev, t, g`` of each ray's last two samples: ``g <= 0``
    is a hit bracketed by ``(t_prev, t)``; ``g > 0`` means the ray left (sky) at ``t``. Each
    iteration samples ``k = 1..P`` steps ahead (see :func:`_packet_size`).
    """
    state = _initial_state(world, rays, start, cone, config)
    index = torch.arange(rays.shape[1])
    underground = state[9] <= 0  # already below the surface at the start
    done_index, done_rows = [index[underground]], [state[[8, 9, 8, 9]][:, underground]]
    kept = underground.logical_not().nonzero().squeeze(1)
    state, index = state.index_select(1, kept), index[kept]
    for _ in range(config.max_steps):
        if index.numel() == 0:
            break
        finished, rows, state[8], state[9] = _advance(world, state, cone, config)
        ended = finished.nonzero().squeeze(1)
        if ended.numel():
            done_index.append(index[ended])
            done_rows.append(rows.index_select(1, ended))
            kept = finished.logical_not_().nonzero().squeeze(1)
            state, index = state.index_select(1, kept), index[kept]
    done_index.append(index)  # still undecided after max_steps: treated as sky
    done_rows.append(state[[8, 9, 8, 9]].abs())
    return torch.cat(done_index), torch.cat(done_rows, dim=1)


def _illinois_step(world: World, rays: Tensor, bracket: Tensor, last: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """One Illinois false-position step (bisection while wider than 2 % of the depth) on ``bracket [4, M]``.

    Returns (bracket, side moved: +1 low / -1 high, gap at the new point).
    """
    t_lo, g_lo, t_hi, g_hi = bracket[0], bracket[1], bracket[2], bracket[3]
    denom = g_lo - g_hi
    t_mid = torch.where(denom > 0, t_hi + g_hi * (t_hi - t_lo) / denom.clamp(min=1e-12), t_hi)
    wide = (t_hi - t_lo) > 0.02 * t_hi  # far brackets can hold several bumps: halve them first
    t_mid = torch.where(wide, 0.5 * (t_lo + t_hi), t_mid)
    g_mid = _gap(world, rays, t_mid)
    above = g_mid > 0
    g_hi = torch.where(above & (last > 0), g_hi * 0.5, g_hi)
    g_lo = torch.where(~above & (last < 0), g_lo * 0.5, g_lo)
    bracket = torch.stack([torch.where(above, t_mid, t_lo), torch.where(above, g_mid, g_lo),
                           torch.where(above, t_hi, t_mid), torch.where(above, g_hi, g_mid)])
    return bracket, above.float().mul_(2.0).sub_(1.0), g_mid


def refine(world: World, rays: Tensor, bracket: Tensor, config: RenderConfig) -> Tensor:
    """Roots ``[M]`` for ``rays [6, M]`` in brackets ``[4, M]`` (rows ``t_lo, g_lo > 0, t_hi, g_hi <= 0``).

    Illinois false position (bisection while a bracket is wider than 2 % of its depth): two steps
    on every ray, then further steps (up to
    ``refine_steps``) only on the rays whose gap is still above ``tolerance + relative_tolerance *
    t``. Returns the last estimate of each.
    """
    last = torch.zeros_like(bracket[0])
    gap = torch.full_like(last, float("inf"))
    first = min(2, config.refine_steps)
    for _ in range(first):
        bracket, last, gap = _illinois_step(world, rays, bracket, last)
    roots = torch.where(last > 0, bracket[0], bracket[2])  # the point just evaluated
    active = (gap.abs() > config.tolerance + config.relative_tolerance * roots).nonzero().squeeze(1)
    rays, bracket, last = rays[:, active], bracket[:, active], last[active]
    for _ in range(config.refine_steps - first):
        if active.numel() == 0:
            break
        bracket, last, gap = _illinois_step(world, rays, bracket, last)
        estimate = torch.where(last > 0, bracket[0], bracket[2])
        roots[active] = estimate
        keep = (gap.abs() > config.tolerance + config.relative_tolerance * estimate).nonzero().squeeze(1)
        if keep.numel() < active.numel():
            active, rays, bracket, last = active[keep], rays[:, keep], bracket[:, keep], last[keep]
    return roots


def resolve(world: World, rays: Tensor, start: Tensor, config: RenderConfig) -> Tensor:
    """March ``rays [6, N]`` from ``start [N]`` and refine: depth parameter ``[N]`` (``inf`` = sky)."""
    depth = torch.full((rays.shape[1],), float("inf"))
    index, rows = march(world, rays, start, 0.0, config)
    hit = (rows[3] <= 0).nonzero().squeeze(1)
    if hit.numel():
        index = index[hit]
        depth[index] = refine(world, rays[:, index], rows[:, hit], config)
    return depth


@torch.no_grad()
def cast_rays(world: World, origins: Tensor, dirs: Tensor, config: RenderConfig | None = None) -> Tensor:
    """Parameter of the first surface hit: ``origins, dirs [N, 3]`` -> ``t [N]`` (``inf`` = sky).

    ``t`` is in units of ``dirs``: with camera-z-normalized directions it is the depth along the
    optical axis, with unit directions the distance along the ray. World frame y down.
    """
    rays = torch.cat([origins.reshape(-1, 3).float().T, dirs.reshape(-1, 3).float().T], dim=0).contiguous()
    return resolve(world, rays, torch.zeros(rays.shape[1]), config or RenderConfig())


def repair_silhouettes(world: World, rays: Tensor, depth: Tensor, shape: tuple[int, int, int],
                       config: RenderConfig) -> Tensor:
    """Re-examine pixels that lie behind a neighbour: ``depth [B * H * W]`` -> repaired copy.

    A ray that skims a sharp crest can step over it and report the background. For every pixel
    whose depth exceeds 1.3 times a neighbour's ``t_n`` (3 x 3 neighbourhood, sky included), the
    gap is sampled densely on ``[0.75 t_n, 1.3 t_n]`` (``silhouette_samples`` points, one batched
    evaluation) and a sign change there is refined into the new, nearer hit. Each of the
    ``silhouette_passes`` passes grows repaired silhouettes by a pixel.
    """
    depth = depth.clone()
    batch, height, width = shape
    fractions = torch.linspace(0.75, 1.3, config.silhouette_samples)
    for _ in range(config.silhouette_passes):
        image = torch.where(depth.isfinite(), depth, torch.full_like(depth, 1e30)).view(batch, 1, height, width)
        nearest = -torch.nn.functional.max_pool2d(-image, 3, stride=1, padding=1).view(-1)
        suspect = ((nearest * 1.3 < depth) & (nearest < config.far)).nonzero().squeeze(1)
        if suspect.numel() == 0:
            break
        samples = nearest[suspect].unsqueeze(1) * fractions  # [n, K]
        sub = rays[:, suspect]
        count = samples.shape[1]
        gap = _gap(world, sub.repeat_interleave(count, dim=1), samples.reshape(-1)).view(-1, count)
        below = (gap <= 0) & (samples < depth[suspect].unsqueeze(1))
        first = torch.where(below.any(dim=1), below.float().argmax(dim=1), torch.zeros_like(suspect))
        found = (first > 0).nonzero().squeeze(1)
        if found.numel() == 0:
            break
        k = first[found]
        bracket = torch.stack([samples[found, k - 1], gap[found, k - 1], samples[found, k], gap[found, k]])
        index = suspect[found]
        depth[index] = refine(world, rays[:, index], bracket, config)
    return depth


def _bisect_cone(world: World, rays: Tensor, t_safe: Tensor, t_closed: Tensor, cone: float,
                 steps: int = 4) -> Tensor:
    """Largest depth found by bisection in ``(t_safe, t_closed]`` where the cone gap is still positive."""
    widen = cone * (1.0 + world.terrain.config.max_slope)
    for _ in range(steps):
        middle = 0.5 * (t_safe + t_closed)
        above = _gap(world, rays, middle).sub_(middle, alpha=widen) > 0
        t_safe = torch.where(above, middle, t_safe)
        t_closed = torch.where(above, t_closed, middle)
    return t_safe


def block_start(world: World, pose: Tensor, intrinsics: Tensor, height: int, width: int,
                config: RenderConfig) -> Tensor:
    """Safe start depth ``[B * H * W]`` for every pixel from one cone per ``block x block`` pixels."""
    block = config.block
    rows, cols = -(-height // block), -(-width // block)
    v = (torch.arange(rows, dtype=torch.float64) + 0.5) * block / height
    u = (torch.arange(cols, dtype=torch.float64) + 0.5) * block / width
    rays = image_rays(pose, intrinsics, u.float(), v.float())
    half_u, half_v = 0.5 * block / width, 0.5 * block / height
    cone = float(torch.sqrt((half_u / intrinsics[:, 0]) ** 2 + (half_v / intrinsics[:, 1]) ** 2).max())
    index, found = march(world, rays, torch.zeros(rays.shape[1]), cone, config)
    safe = torch.empty(rays.shape[1])
    safe[index] = torch.where(found[3] <= 0, found[0], found[2])
    stopped = (found[3] <= 0).nonzero().squeeze(1)
    if stopped.numel():  # move each stopped cone's safe depth up to where its gap closes
        index = index[stopped]
        safe[index] = _bisect_cone(world, rays[:, index], found[0, stopped], found[2, stopped], cone)
    safe = safe.view(-1, rows, 1, cols, 1).expand(-1, rows, block, cols, block)
    return safe.reshape(-1, rows * block, cols * block)[:, :height, :width].reshape(-1)
