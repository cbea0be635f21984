"""Smooth drone-like flights over a synthetic world: exact ``cam_from_world`` poses ``[T, 3, 4]``.

A flight heads roughly north (world +z, along the valley or coast of the world's terrain),
turning gently: its yaw rate is a seeded sum of slow sinusoids plus a pull toward lower ground
ahead (so it follows valleys), both low-pass filtered and bounded. Its height follows the
terrain: the highest ground (or water) in a window ahead plus ``altitude``, smoothed, and then
lifted wherever the clearance over the ground anywhere along the path (checked between frames
too) would drop below ``min_clearance``. The camera looks along the heading, pitched down by
``pitch_deg``, and banks slightly into turns.

Frames: world x east, **y down**, z north; poses are OpenCV world-to-camera (camera +x right,
+y down, +z forward). Distances in world units (about metres).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from viewgen.data.synthetic.world import World
from viewgen.geometry.poses import camera_center, look_direction_pose

__all__ = ["FlightConfig", "camera_clearance", "camera_pose", "generate_flight", "ground_clearance",
           "raise_above_ground"]


@dataclass(frozen=True)
class FlightConfig:
    """How a flight moves (world units, degrees, per frame).

    speed: distance flown per frame. altitude: target height above the highest ground within
    ``lookahead`` ahead. min_clearance: the camera never gets closer than this to the ground
    below it. pitch_deg: downward tilt of the view. max_turn_deg: largest yaw change per frame.
    wander_deg: amplitude of the random yaw rate. valley_pull: how strongly it turns toward
    lower ground ahead. bank: roll (degrees) per degree of yaw per frame. smoothing: standard
    deviation, in frames, of the height and yaw-rate smoothing.
    """

    speed: float = 6.0
    altitude: float = 45.0
    min_clearance: float = 15.0
    lookahead: float = 250.0
    pitch_deg: float = 9.0
    max_turn_deg: float = 0.8
    wander_deg: float = 0.5
    valley_pull: float = 0.6
    bank: float = 2.0
    smoothing: float = 8.0

    def __post_init__(self) -> None:
        if self.speed <= 0 or self.altitude <= 0 or self.min_clearance <= 0 or self.lookahead < 0:
            raise ValueError("speed, altitude and min_clearance must be positive and lookahead >= 0")
        if self.min_clearance > self.altitude or self.smoothing <= 0 or self.max_turn_deg <= 0:
            raise ValueError("min_clearance must not exceed altitude; smoothing, max_turn_deg must be positive")


def camera_pose(position: Tensor, yaw: Tensor, pitch: Tensor, roll: Tensor | None = None) -> Tensor:
    """World-to-camera ``[..., 3, 4]`` (float64) at ``position [..., 3]`` with angles in radians.

    ``yaw`` turns from north (+z) toward east (+x), ``pitch > 0`` looks down, ``roll > 0`` banks
    right (the camera's right side dips). Zero angles give the identity rotation.
    """
    position = position.double()
    yaw, pitch = torch.as_tensor(yaw, dtype=torch.float64), torch.as_tensor(pitch, dtype=torch.float64)
    roll = torch.zeros_like(yaw) if roll is None else torch.as_tensor(roll, dtype=torch.float64)
    look = torch.stack([torch.sin(yaw) * torch.cos(pitch), torch.sin(pitch), torch.cos(yaw) * torch.cos(pitch)], -1)
    right = torch.stack([torch.cos(yaw), torch.zeros_like(yaw), -torch.sin(yaw)], -1)
    down = torch.linalg.cross(look, right, dim=-1)  # camera +y for zero roll
    down = torch.cos(roll).unsqueeze(-1) * down - torch.sin(roll).unsqueeze(-1) * right
    return look_direction_pose(position.expand_as(look), look, down)


def _gaussian_smooth(values: Tensor, sigma: float) -> Tensor:
    """Smooth ``[T]`` float64 with a normalized Gaussian (edges replicate)."""
    radius = max(1, int(3 * sigma))
    offsets = torch.arange(-radius, radius + 1, dtype=torch.float64)
    kernel = torch.exp(-0.5 * (offsets / sigma) ** 2)
    kernel = (kernel / kernel.sum()).view(1, 1, -1)
    padded = torch.nn.functional.pad(values.view(1, 1, -1), (radius, radius), mode="replicate")
    return torch.nn.functional.conv1d(padded, kernel).view(-1)


def _headings(world: World, start: Tensor, yaw0: float, count: int, config: FlightConfig,
              generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """Horizontal positions ``[count, 2]`` (x, z) and yaws ``[count]`` of a gently turning path."""
    phases = torch.rand(3, generator=generator, dtype=torch.float64) * 2 * math.pi
    periods = 60.0 + torch.rand(3, generator=generator, dtype=torch.float64) * 180.0
    wander = math.radians(config.wander_deg)
    max_turn = math.radians(config.max_turn_deg)
    ahead, side = max(config.lookahead, 4 * config.speed), math.radians(25)
    position, yaw, rate = start.clone(), yaw0, 0.0
    alpha = 1.0 / (1.0 + config.smoothing)
    positions, yaws = [], []
    for frame in range(count):
        positions.append(position.clone())
        yaws.append(yaw)
        wish = wander * float(torch.sin(2 * math.pi * frame / periods + phases).sum()) / 3.0
        if config.valley_pull > 0:
            angles = torch.tensor([yaw - side, yaw + side], dtype=torch.float64)
            probes = position + ahead * torch.stack([torch.sin(angles), torch.cos(angles)], -1)
            left, right = world.ground_height(probes[:, 0].float(), probes[:, 1].float()).double().tolist()
            wish += config.valley_pull * max_turn * math.tanh((left - right) / 40.0)
        rate = (1 - alpha) * rate + alpha * max(-max_turn, min(max_turn, wish))
        yaw = yaw + rate
        position = position + config.speed * torch.tensor([math.sin(yaw), math.cos(yaw)], dtype=torch.float64)
    return torch.stack(positions), torch.tensor(yaws, dtype=torch.float64)


def _path_ground(world: World, xz: Tensor, substeps: int) -> Tensor:
    """Highest ground ``[T]`` on each frame's path segment (``substeps`` samples per segment)."""
    t = torch.linspace(0.0, 1.0, substeps + 1, dtype=torch.float64)[:-1]
    following = torch.cat([xz[1:], 2 * xz[-1:] - xz[-2:-1] if len(xz) > 1 else xz[-1:]])
    samples = xz.unsqueeze(1) + t.view(1, -1, 1) * (following - xz).unsqueeze(1)  # [T, S, 2]
    heights = world.ground_height(samples[..., 0].float(), samples[..., 1].float()).double()
    return heights.amax(dim=1)


def _elevations(world: World, xz: Tensor, config: FlightConfig) -> Tensor:
    """Camera elevation ``[T]``: smoothed lookahead terrain plus altitude, lifted to keep clearance."""
    ground = _path_ground(world, xz, 4)
    window = max(1, round(config.lookahead / config.speed))
    padded = torch.cat([ground, ground[-1:].expand(window)])
    ahead = padded.unfold(0, window + 1, 1).amax(dim=1)[: len(ground)]
    elevation = _gaussian_smooth(ahead + config.altitude, config.smoothing)
    for _ in range(6):
        deficit = (ground + config.min_clearance - elevation).clamp(min=0.0)
        if float(deficit.max()) <= 0.0:
            break
        spread = torch.nn.functional.max_pool1d(deficit.view(1, 1, -1), 2 * int(3 * config.smoothing) + 1,
                                                stride=1, padding=int(3 * config.smoothing)).view(-1)
        elevation = elevation + _gaussian_smooth(spread, config.smoothing) * 1.25 + 1e-3
    return elevation


def generate_flight(world: World, num_frames: int, seed: int = 0, start: Tensor | None = None,
                    config: FlightConfig | None = None) -> Tensor:
    """A smooth flight: ``cam_from_world [num_frames, 3, 4]`` float32 (exact rigid poses).

    ``start`` is a ``[3, 4]`` pose whose centre's x, z and heading (yaw) begin the flight (its
    height and pitch are replaced by the flight's); by default the flight starts above the
    valley or coast line at z = 0, heading along it. ``seed`` picks the wandering.
    """
    if not isinstance(num_frames, int) or num_frames < 1:
        raise ValueError(f"num_frames must be a positive int, got {num_frames!r}")
    config = config or FlightConfig()
    generator = torch.Generator().manual_seed(seed)
    if start is None:
        z0 = torch.zeros(1)
        x0 = world.terrain.meander(z0)
        dx = world.terrain.meander(torch.full((1,), 1.0)) - x0
        xz0, yaw0 = torch.tensor([float(x0), 0.0], dtype=torch.float64), math.atan2(float(dx), 1.0)
    else:
        start = torch.as_tensor(start, dtype=torch.float64)
        centre = camera_center(start[:3])
        forward = start[2, :3]  # camera +z in world coordinates
        xz0 = centre[[0, 2]].clone()
        yaw0 = math.atan2(float(forward[0]), float(forward[2]))
    xz, yaws = _headings(world, xz0, yaw0, num_frames, config, generator)
    elevation = _elevations(world, xz, config)
    position = torch.stack([xz[:, 0], -elevation, xz[:, 1]], dim=-1)
    rate = torch.diff(yaws, append=yaws[-1:] + (yaws[-1:] - yaws[-2:-1] if num_frames > 1 else 0.0))
    roll = torch.clamp(rate * config.bank, -math.radians(6), math.radians(6))
    pitch = torch.full_like(yaws, math.radians(config.pitch_deg))
    return camera_pose(position, yaws, pitch, roll).float()


def ground_clearance(world: World, cam_from_world: Tensor, substeps: int = 8) -> Tensor:
    """Smallest height of each camera segment above the ground below it: ``[T]`` (world units).

    Segment ``i`` runs from camera ``i`` to camera ``i + 1`` (the last camera alone), sampled
    ``substeps`` times and linearly interpolated; negative means the path goes underground.
    """
    centres = camera_center(cam_from_world.double())
    following = torch.cat([centres[1:], centres[-1:]])
    t = torch.linspace(0.0, 1.0, substeps + 1, dtype=torch.float64)
    points = centres.unsqueeze(1) + t.view(1, -1, 1) * (following - centres).unsqueeze(1)
    ground = world.ground_height(points[..., 0].float(), points[..., 2].float()).double()
    return (-points[..., 1] - ground).amin(dim=1)


def camera_clearance(world: World, cam_from_world: Tensor) -> Tensor:
    """Height of each camera above the world's surface (terrain or water) below it: ``[N]`` float64.

    ``cam_from_world [N, 3|4, 4]`` (world units, y down); negative = below the surface.
    """
    center = camera_center(cam_from_world.to(torch.float64))  # [N, 3]
    ground = world.ground_height(center[:, 0].float().contiguous(), center[:, 2].float().contiguous())
    return -center[:, 1] - ground.to(torch.float64)


def raise_above_ground(world: World, cam_from_world: Tensor, min_clearance: float) -> tuple[Tensor, Tensor]:
    """``cam_from_world [N, 3|4, 4]`` lifted straight up (attitude kept) to at least ``min_clearance`` above the
    world's surface below them: ``(poses [N, 3|4, 4] float64, raised [N] bool)``.

    Lifting the centre by ``l`` along world up (``-y``) adds ``l`` times the rotation's second column to
    the translation.
    """
    poses = cam_from_world.to(torch.float64)
    lift = (min_clearance - camera_clearance(world, poses)).clamp_min(0.0)  # [N]
    raised = poses.clone()
    raised[:, :3, 3] = poses[:, :3, 3] + lift[:, None] * poses[:, :3, 1]
    return raised, lift > 0
