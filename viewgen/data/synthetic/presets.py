"""Three ready-made scenes: ``coast``, ``hills`` and ``mountains`` (world config + start camera).

Each preset is a :class:`ScenePreset`: a :class:`WorldConfig` (seed, terrain, materials, sky), a
start camera placed above the valley or coast line at z = 0 and looking along it (so the view
has open sky ahead and the ground receding), and the :class:`FlightConfig` its flights use.

>>> world = preset_world("coast")
>>> pose = start_pose("coast")            # [3, 4] world-to-camera, world y down
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import Tensor

from viewgen.data.synthetic.flights import FlightConfig, camera_pose
from viewgen.data.synthetic.shading import MaterialConfig
from viewgen.data.synthetic.sky import SkyConfig
from viewgen.data.synthetic.terrain import TerrainConfig
from viewgen.data.synthetic.world import World, WorldConfig

__all__ = ["PRESET_NAMES", "ScenePreset", "preset_world", "scene_preset", "start_pose"]


@dataclass(frozen=True)
class ScenePreset:
    """A world plus where its camera starts.

    altitude: start height above the highest ground within 60 units. across: start offset from
    the valley/coast line (world x). pitch_deg: downward tilt; yaw_deg: turn from the line's
    direction (positive toward east).
    """

    name: str
    world: WorldConfig
    altitude: float = 45.0
    across: float = 0.0
    pitch_deg: float = 9.0
    yaw_deg: float = 0.0
    flight: FlightConfig = field(default_factory=FlightConfig)


_COAST = ScenePreset(
    name="coast",
    world=WorldConfig(
        seed=11,
        terrain=TerrainConfig(octaves=9, base_wavelength=900.0, hills_amplitude=110.0, ridge_amplitude=40.0,
                              elevation_offset=55.0, relief_variation=0.5, shape="coast", valley_width=120.0,
                              valley_ramp=900.0, valley_floor=-25.0, floor_relief=0.15, meander_amplitude=350.0,
                              meander_wavelength=6000.0, water_level=0.0, max_slope=1.0),
        materials=MaterialConfig(sand_height=5.0, tree_line=260.0, snow_line=2000.0, forest_coverage=0.4),
        sky=SkyConfig(sun_azimuth_deg=-35.0, sun_elevation_deg=28.0, cloud_coverage=0.35, fog_distance=6500.0),
    ),
    altitude=40.0, across=-60.0, pitch_deg=8.0, yaw_deg=-6.0,
)

_HILLS = ScenePreset(
    name="hills",
    world=WorldConfig(
        seed=5,
        terrain=TerrainConfig(octaves=9, base_wavelength=1100.0, hills_amplitude=120.0, ridge_amplitude=0.0,
                              elevation_offset=70.0, relief_variation=0.45, shape="valley", valley_width=120.0,
                              valley_ramp=800.0, valley_floor=4.0, floor_relief=0.12, meander_amplitude=300.0,
                              meander_wavelength=5000.0, water_level=0.0, max_slope=0.9),
        materials=MaterialConfig(tree_line=600.0, snow_line=2000.0, forest_coverage=0.5),
        sky=SkyConfig(sun_azimuth_deg=40.0, sun_elevation_deg=35.0, cloud_coverage=0.45, fog_distance=7000.0),
    ),
    altitude=45.0, pitch_deg=6.0, yaw_deg=-8.0,
)

_MOUNTAINS = ScenePreset(
    name="mountains",
    world=WorldConfig(
        seed=31,
        terrain=TerrainConfig(octaves=9, base_wavelength=1600.0, hills_amplitude=260.0, ridge_amplitude=520.0,
                              ridge_gain=1.6, elevation_offset=180.0, relief_variation=0.35, shape="valley",
                              valley_width=260.0, valley_ramp=1400.0, valley_floor=60.0, floor_relief=0.08,
                              meander_amplitude=400.0, meander_wavelength=7000.0, water_level=52.0, max_slope=1.4),
        materials=MaterialConfig(tree_line=600.0, snow_line=820.0, forest_coverage=0.5, rock_slope=0.75),
        sky=SkyConfig(zenith_color=(0.18, 0.36, 0.74), horizon_color=(0.72, 0.80, 0.90), sun_azimuth_deg=30.0,
                      sun_elevation_deg=32.0, cloud_coverage=0.3, cloud_altitude=2600.0, fog_distance=9000.0),
    ),
    altitude=80.0, pitch_deg=3.0,
    flight=FlightConfig(altitude=70.0, min_clearance=20.0, pitch_deg=5.0),
)

_PRESETS = {preset.name: preset for preset in (_COAST, _HILLS, _MOUNTAINS)}
PRESET_NAMES = tuple(_PRESETS)


def scene_preset(name: str) -> ScenePreset:
    """The :class:`ScenePreset` called ``name`` (one of :data:`PRESET_NAMES`)."""
    if name not in _PRESETS:
        raise ValueError(f"unknown scene preset {name!r}; choose one of {', '.join(PRESET_NAMES)}")
    return _PRESETS[name]


def preset_world(name: str) -> World:
    """Build the world of preset ``name``."""
    return World(scene_preset(name).world)


def start_pose(name: str, world: World | None = None) -> Tensor:
    """Start camera of preset ``name``: world-to-camera ``[3, 4]`` float32 (world y down).

    The camera is placed ``altitude`` above the highest ground near the valley/coast line at
    z = 0 of ``world`` (default: the preset's own world; pass it to avoid building it again, or
    pass the preset's world with another seed to start there), looking along the line.
    """
    preset = scene_preset(name)
    world = world if world is not None else World(preset.world)
    z = torch.zeros(1)
    centre = world.terrain.meander(z)
    heading = math.atan2(float(world.terrain.meander(torch.ones(1)) - centre), 1.0)
    x = float(centre) + preset.across
    ring = torch.linspace(0, 2 * math.pi, 13)[:-1]
    probe_x = torch.cat([torch.tensor([x]), x + 60.0 * torch.cos(ring)])
    probe_z = torch.cat([torch.zeros(1), 60.0 * torch.sin(ring)])
    ground = float(world.ground_height(probe_x, probe_z).max())
    position = torch.tensor([x, -(ground + preset.altitude), 0.0], dtype=torch.float64)
    yaw = heading + math.radians(preset.yaw_deg)
    return camera_pose(position, torch.tensor(yaw), torch.tensor(math.radians(preset.pitch_deg))).float()
