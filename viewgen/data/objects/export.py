"""Export the synthetic object world in Apple's ENR layout, for training and evaluating ENR.

``export_object_scenes(out_dir, num_scenes, views, size, seed, split)`` writes::

    out_dir/<split>/<NNNNN>-<kind>/00000.png ...   RGB renders, size x size, white background
    out_dir/<split>/<NNNNN>-<kind>/render_params.json   {"00000": {"azimuth": deg, "elevation": deg}, ...}

which :class:`viewgen.data.enr_scenes.EnrSceneDataset` (and Apple's own loader) reads. Scene ``i``
is kind ``OBJECT_KINDS[i % 4]`` with object seed and view angles drawn from ``(seed, i)``:
azimuth uniform in [0, 360), elevation uniform in ``ELEVATION_RANGE``. The split folder is built
beside its target and swapped in whole; a folder holding anything but scenes is refused.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import torch

from viewgen.data.objects.kinds import OBJECT_KINDS, make_object
from viewgen.data.objects.render import render_object
from viewgen.data.objects.shapes import Mesh
from viewgen.data.seeding import item_generator
from viewgen.io.images import write_png_atomic
from viewgen.staging import build_and_publish, check_replaceable

__all__ = ["ELEVATION_RANGE", "draw_scene", "export_object_scenes", "scene_name"]

ELEVATION_RANGE = (-10.0, 50.0)
_SCENE = re.compile(r"\d{5}-(" + "|".join(OBJECT_KINDS) + ")")


def scene_name(index: int) -> str:
    """``"00007-mug"``: scene ``index`` and its kind."""
    return f"{index:05d}-{list(OBJECT_KINDS)[index % len(OBJECT_KINDS)]}"


def draw_scene(index: int, views: int, seed: int) -> tuple[str, Mesh, list[float], list[float]]:
    """Scene ``index`` of the world of ``seed``: ``(kind, mesh, azimuths, elevations)`` of its ``views`` views
    (degrees; see the module doc)."""
    kind = list(OBJECT_KINDS)[index % len(OBJECT_KINDS)]
    generator = item_generator(seed, index)
    mesh = make_object(kind, int(torch.randint(0, 2**31 - 1, (), generator=generator)))
    low, high = ELEVATION_RANGE
    azimuths = (torch.rand(views, generator=generator, dtype=torch.float64) * 360.0).tolist()
    elevations = (low + torch.rand(views, generator=generator, dtype=torch.float64) * (high - low)).tolist()
    return kind, mesh, azimuths, elevations


def _scene(folder: Path, index: int, views: int, size: int, seed: int) -> None:
    _, mesh, azimuths, elevations = draw_scene(index, views, seed)
    folder.mkdir(parents=True)
    params = {}
    for view, (azimuth, elevation) in enumerate(zip(azimuths, elevations)):
        write_png_atomic(folder / f"{view:05d}.png", render_object(mesh, azimuth, elevation, size))
        params[f"{view:05d}"] = {"azimuth": round(azimuth, 6), "elevation": round(elevation, 6)}
    (folder / "render_params.json").write_text(json.dumps(params, indent=1) + "\n", encoding="utf-8")


def export_object_scenes(out_dir: str | Path, num_scenes: int, views: int, size: int = 128, seed: int = 0,
                         split: str = "train", progress: Callable[[int], None] | None = None) -> Path:
    """Render ``num_scenes`` scenes of ``views`` views each into ``out_dir/<split>`` (see the module doc).

    progress: called with 1 after every scene. Returns the split folder. Raises ``ValueError`` for bad
    counts or sizes and ``OSError`` for a split folder that holds other files or cannot be written.
    """
    for name, value, low in (("num_scenes", num_scenes, 1), ("views", views, 1), ("size", size, 16)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"{name} must be a whole number >= {low}, got {value!r}")
    if not split or "/" in split or split.startswith("."):
        raise ValueError(f"split must be a plain folder name, got {split!r}")
    target = Path(out_dir) / split
    check_replaceable(target, lambda entry: entry.is_dir() and bool(_SCENE.fullmatch(entry.name)),
                      "synthetic object scenes", "choose a new or empty folder (or another --split)")

    def fill(folder: Path) -> None:
        for index in range(num_scenes):
            _scene(folder / scene_name(index), index, views, size, seed)
            if progress is not None:
                progress(1)

    build_and_publish(target, fill, "the object scenes", target)
    return target
