"""Four example objects that come with viewgen: ``object:1`` .. ``object:4`` (chair, table, car, mug).

Each is view 0 of scenes 0-3 of the object world of seed :data:`EXAMPLE_SEED` with 24 views per
scene, the held-out test split of ``docs/enr.md`` (``viewgen synth-objects --scenes 24 --views 24
--split test --seed 1000``), which no shipped
model was trained on. They are rendered on demand (a few milliseconds each, the same pixels every
time), with the camera azimuth and elevation they were taken from, so ``viewgen novel-views
object:2`` needs no angles and no file.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from torch import Tensor

from viewgen.data.objects.export import draw_scene
from viewgen.data.objects.kinds import OBJECT_KINDS
from viewgen.data.objects.render import render_object

__all__ = ["EXAMPLE_PREFIX", "EXAMPLE_SEED", "ExampleObject", "example_index", "example_object", "is_example"]

EXAMPLE_SEED = 1000
EXAMPLE_PREFIX = "object:"
EXAMPLE_SIZE = 128
EXAMPLE_VIEWS = 24  # views per scene of that split: the angles are drawn for all of them


@dataclass(frozen=True)
class ExampleObject:
    """An example: its ``name`` (``chair``), ``image [3, 128, 128]`` in [0, 1] and the source angles in degrees."""

    name: str
    image: Tensor
    azimuth_deg: float
    elevation_deg: float


def is_example(text: str) -> bool:
    """Whether ``text`` names an example (``object:...``) rather than a file."""
    return isinstance(text, str) and text.startswith(EXAMPLE_PREFIX)


def example_index(key: str | int) -> int:
    """``object:N`` / ``object:<kind>`` / ``N`` (1-4) / ``<kind>`` -> 0-3 (nothing is rendered); one-line
    ``ValueError`` for anything else."""
    kinds = list(OBJECT_KINDS)
    text = str(key).strip().lower().removeprefix(EXAMPLE_PREFIX)
    index = int(text) - 1 if text.isdigit() else kinds.index(text) if text in kinds else -1
    if not 0 <= index < len(kinds):
        choices = ", ".join(f"{EXAMPLE_PREFIX}{i} ({kind})" for i, kind in enumerate(kinds, start=1))
        raise ValueError(f"unknown example object {key!r}; choose {choices}")
    return index


def example_object(key: str | int) -> ExampleObject:
    """The example named by ``key`` (see :func:`example_index`), rendered once per process and kept (do not
    modify its image in place)."""
    return _rendered(example_index(key))


@functools.lru_cache(maxsize=len(OBJECT_KINDS))
def _rendered(index: int) -> ExampleObject:
    kind, mesh, azimuths, elevations = draw_scene(index, EXAMPLE_VIEWS, EXAMPLE_SEED)
    image = render_object(mesh, azimuths[0], elevations[0], EXAMPLE_SIZE)
    return ExampleObject(kind, image, round(azimuths[0], 6), round(elevations[0], 6))
