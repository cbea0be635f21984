"""A seeded procedural "synthetic nature" world with exact depth, flights and ready-made scenes.

World frame: **x east, y down, z north** (world units of about a metre), so a level camera
looking north has the identity rotation; elevation is ``-y``. Poses are OpenCV world-to-camera
``cam_from_world``; intrinsics are normalized ``[fx, fy, cx, cy]`` (see ``docs/conventions.md``).

>>> from viewgen.data.synthetic import preset_world, start_pose, render, generate_flight
>>> from viewgen.geometry import default_intrinsics
>>> world = preset_world("hills")
>>> rgb, depth = render(world, start_pose("hills", world), default_intrinsics(160, 256), 160, 256)
>>> poses = generate_flight(world, num_frames=60, seed=0, start=start_pose("hills", world))

Modules: ``noise`` (periodic value noise, baked layers), ``terrain`` (the heightfield),
``shading`` (materials), ``sky`` (sky, sun, clouds, fog), ``world`` (everything from one seed),
``raymarch`` (exact depth), ``renderer`` (color), ``flights``, ``presets``, ``rgbd`` (pipeline RGBD with
monocular-style disparity), ``export`` (RealEstate10K/ACID-layout clips).
"""

from viewgen.data.synthetic.flights import FlightConfig, camera_pose, generate_flight, ground_clearance
from viewgen.data.synthetic.presets import PRESET_NAMES, ScenePreset, preset_world, scene_preset, start_pose
from viewgen.data.synthetic.raymarch import RenderConfig, cast_rays
from viewgen.data.synthetic.renderer import camera_rays, render, render_depth, water_mask
from viewgen.data.synthetic.rgbd import SyntheticRGBD, depth_to_unit_disparity, preset_rgbd, render_rgbd
from viewgen.data.synthetic.shading import MaterialConfig
from viewgen.data.synthetic.sky import SkyConfig
from viewgen.data.synthetic.terrain import Terrain, TerrainConfig
from viewgen.data.synthetic.world import World, WorldConfig

__all__ = [
    "PRESET_NAMES",
    "FlightConfig",
    "MaterialConfig",
    "RenderConfig",
    "ScenePreset",
    "SkyConfig",
    "SyntheticRGBD",
    "Terrain",
    "TerrainConfig",
    "World",
    "WorldConfig",
    "camera_pose",
    "camera_rays",
    "cast_rays",
    "generate_flight",
    "ground_clearance",
    "depth_to_unit_disparity",
    "preset_rgbd",
    "preset_world",
    "render",
    "render_depth",
    "render_rgbd",
    "scene_preset",
    "start_pose",
    "water_mask",
]
