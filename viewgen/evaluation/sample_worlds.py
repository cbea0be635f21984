"""The synthetic worlds behind the built-in samples, and the map from a flight's poses into them.

A built-in sample (:func:`viewgen.data.samples.load_sample`, 1 = coast, 2 = hills, 3 = mountains)
is a render of a synthetic world; its JSON record (:func:`~viewgen.data.samples.sample_metadata`)
keeps that world's config (``world``), the metric pose of the sample's camera in it
(``world_cam_from_world``; world x east, **y down**, z north) and the disparity scale ``s``
(metric depth = ``s / disparity``). A flight started from the sample flies in the sample's own
frame: frame 0 is the identity and lengths are in units of ``s``. So frame k's metric pose is::

    world_cam_from_world_k = compose(flight_pose_k with its translation * s, world_cam_from_world_0)

(:func:`world_poses`), and the ground truth at frame k is the world rendered from that pose
(:func:`render_truth`, disparity ``clip(s / depth, 0, 1)`` in the flight's unit, sky 0) the way
frame 0 was made: at the sample's size, resized as the flight resizes its input.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass

import torch
from torch import Tensor

from viewgen.checks import check_shape
from viewgen.data.samples import SAMPLE_NAMES, load_sample, sample_index, sample_metadata
from viewgen.data.synthetic import flights
from viewgen.data.synthetic.clips import render_frames
from viewgen.data.synthetic.raymarch import RenderConfig
from viewgen.data.synthetic.world import World, WorldConfig
from viewgen.evaluation.flight_stats import SKY_DISPARITY
from viewgen.geometry.poses import compose_poses
from viewgen.geometry.projection import pixel_centers_uv, uv_to_rays
from viewgen.io.images import resize_input

__all__ = ["SAMPLE_NAMES", "SHOWN_GROUND_MIN_FRACTION", "SHOWN_GROUND_RANGE", "TRUTH_RESOLUTIONS", "SampleWorld",
           "clearance", "raise_above_ground", "render_truth", "sample_world", "shown_clearance",
           "world_config_from_dict", "world_poses"]

TRUTH_RESOLUTIONS = ("input", "flight")  # render_truth's resolution: formed as frame 0 was, or rendered at the flight's

# shown_clearance reads the ground its frame shows within this horizontal distance of the camera (units of s;
# 15 frames at the autopilot's default speed)
SHOWN_GROUND_RANGE = 3.0
# ... when it covers at least this fraction of the frame (a sliver of slope beside a camera pitched up at the
# sky is not the ground it flies over)
SHOWN_GROUND_MIN_FRACTION = 0.02


@dataclass(frozen=True, eq=False)
class SampleWorld:
    """A built-in sample with the world it was rendered from.

    index, name: ``1..3`` and ``coast`` / ``hills`` / ``mountains``.
    rgbd: ``[1, 4, H, W]`` the sample (320x512); intrinsics: ``[4]`` normalized ``[fx, fy, cx, cy]``.
    world: the synthetic :class:`~viewgen.data.synthetic.World`.
    cam_from_world: ``[3, 4]`` float64, the sample camera's metric pose in the world (y down).
    disparity_scale: ``s`` (metres): metric depth = ``s / disparity``; the flight's length unit.
    """

    index: int
    name: str
    rgbd: Tensor
    intrinsics: Tensor
    world: World
    cam_from_world: Tensor
    disparity_scale: float


def _from_dict(cls, values: dict, default):
    """``cls(**values)`` with nested dataclasses rebuilt (from ``default``'s fields) and lists as tuples."""
    def convert(value, template):
        if dataclasses.is_dataclass(template) and isinstance(value, dict):
            return _from_dict(type(template), value, template)
        if isinstance(value, list):
            return tuple(convert(item, None) for item in value)
        return value

    names = {field.name for field in dataclasses.fields(cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise ValueError(f"{cls.__name__} has no field(s) {', '.join(unknown)}")
    return cls(**{key: convert(value, getattr(default, key)) for key, value in values.items()})


def world_config_from_dict(values: dict) -> WorldConfig:
    """A :class:`WorldConfig` from its ``dataclasses.asdict`` JSON form; checked to round-trip exactly."""
    config = _from_dict(WorldConfig, values, WorldConfig())
    if json.loads(json.dumps(dataclasses.asdict(config))) != values:
        raise ValueError("the world config does not round-trip: the JSON names fields this version reads otherwise")
    return config


def sample_world(index_or_name) -> SampleWorld:
    """The :class:`SampleWorld` of built-in sample ``1..3`` (or its name); one-line ``ValueError`` otherwise."""
    index, name = sample_index(index_or_name)
    meta = sample_metadata(index)
    sample = load_sample(index)
    pose = torch.tensor(meta["world_cam_from_world"], dtype=torch.float64)
    check_shape(pose, (3, 4), f"sample {name}: world_cam_from_world", what="pose")
    return SampleWorld(index=index, name=name, rgbd=sample.rgbd, intrinsics=sample.intrinsics,
                       world=World(world_config_from_dict(meta["world"])), cam_from_world=pose,
                       disparity_scale=float(meta["disparity_scale"]))


def world_poses(sample: SampleWorld, cam_from_world: Tensor) -> Tensor:
    """Flight poses ``[N, 3, 4]`` (frame 0 = identity, units of ``s``) -> metric world poses ``[N, 3, 4]`` float64."""
    check_shape(cam_from_world, ("N", (3, 4), 4), "cam_from_world", what="pose")
    scaled = cam_from_world[:, :3].to(torch.float64).clone()
    scaled[:, :, 3] *= sample.disparity_scale
    return compose_poses(scaled, sample.cam_from_world)


def render_truth(sample: SampleWorld, poses: Tensor, height: int, width: int,
                 config: RenderConfig | None = None, resolution: str = "input") -> tuple[Tensor, Tensor]:
    """Ground truth at metric ``poses [N, 3, 4]``: ``(rgb [N, 3, H, W], disparity [N, 1, H, W])`` float32.

    One render call per frame (a frame depends on its pose only); disparity is ``clip(s / depth, 0, 1)``.
    ``config``: the ray marcher's settings (default: the synthetic world's own). ``resolution``
    (:data:`TRUTH_RESOLUTIONS`): ``"input"`` renders at the sample's own size and resizes to ``(H, W)``
    as a flight resizes its input (:func:`~viewgen.io.images.resize_input`), so the truth is formed as
    frame 0 was: at frame 0's pose it is frame 0 (mean difference 0.0005). ``"flight"`` renders at
    ``(H, W)`` directly: 2.5x cheaper at 160x256, but sharper than frame 0 when the sample is larger
    (its own pixels, not means of four): frame 0 itself scored 0.51-0.61 of that truth's sharpness.
    """
    if resolution not in TRUTH_RESOLUTIONS:
        raise ValueError(f"resolution must be one of {', '.join(TRUTH_RESOLUTIONS)}, got {resolution!r}")
    size = (height, width) if resolution == "flight" else tuple(sample.rgbd.shape[-2:])
    rgb, depth = render_frames(sample.world, poses.float(), sample.intrinsics, *size, config)
    disparity = (sample.disparity_scale / depth).nan_to_num(0.0, posinf=1.0).clamp(0.0, 1.0)
    return (resize_input(rgb, (height, width)).clamp(0.0, 1.0),
            resize_input(disparity, (height, width)).clamp(0.0, 1.0))


def clearance(sample: SampleWorld, poses: Tensor) -> Tensor:
    """Metres from each camera down to the world's surface (terrain or water) below it, ``[N]`` float64.

    ``poses [N, 3, 4]`` are metric world poses (:func:`world_poses`); negative = below the ground.
    """
    return flights.camera_clearance(sample.world, poses)


def raise_above_ground(sample: SampleWorld, poses: Tensor, min_clearance: float) -> tuple[Tensor, Tensor]:
    """Metric ``poses [N, 3, 4]`` lifted straight up (attitude kept) to at least ``min_clearance`` metres
    above the world's surface below them: ``(poses [N, 3, 4] float64, raised [N] bool)``."""
    return flights.raise_above_ground(sample.world, poses, min_clearance)


def shown_clearance(sample: SampleWorld, rgbd: Tensor, cam_from_world: Tensor, intrinsics: Tensor) -> float:
    """How far the camera is above the ground its own frame shows around it: the median, over the non-sky
    pixels of ``rgbd [1, 4, H, W]`` whose 3D points lie within :data:`SHOWN_GROUND_RANGE` of the camera
    horizontally, of the point's drop below the camera along the world's gravity (units of ``s``; NaN when
    such points cover less than :data:`SHOWN_GROUND_MIN_FRACTION` of the frame).

    The points come from the frame's own disparity (depth ``1 / disparity``) and ``intrinsics [4]``;
    gravity is the world's down seen from the flight pose ``cam_from_world [3, 4]`` (units of ``s``,
    frame 0 = the sample's camera). Negative: the ground the frame shows around the camera lies above
    it, i.e. the camera is under the ground it shows. Far land does not count: a drop's sign is its
    ray's (depth only scales it), so a view pitched up at a slope ahead read "below the ground" for a
    camera high above the ground beneath it.
    """
    height, width = rgbd.shape[-2:]
    disparity = rgbd[0, 3].to(torch.float64)  # [H, W]
    down_cam0 = sample.cam_from_world[:, :3] @ torch.tensor([0.0, 1.0, 0.0], dtype=torch.float64)
    down = cam_from_world[:3, :3].to(torch.float64) @ down_cam0  # world down in this camera's axes
    rays = uv_to_rays(pixel_centers_uv(height, width, dtype=torch.float64), intrinsics.to(torch.float64))  # [H, W, 3]
    points = rays / disparity.clamp_min(1e-6)[..., None]
    drop = points @ down  # [H, W]
    horizontal = (points - drop[..., None] * down).norm(dim=-1)
    ground = drop[(disparity >= SKY_DISPARITY) & (horizontal <= SHOWN_GROUND_RANGE)]
    return float(ground.median()) if ground.numel() >= SHOWN_GROUND_MIN_FRACTION * drop.numel() else float("nan")
