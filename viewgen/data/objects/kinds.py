"""Seeded procedural objects in the spirit of ENR's datasets: chairs, tables, cars and mugs.

:func:`make_object` builds one from ``(kind, seed)``: boxes and cylinders (:mod:`.shapes`) with
proportions and colours drawn from a generator seeded by the seed, centred and scaled into the
unit ball, standing on ``y = +radius`` side down (y points down, as in ENR's frame). The same
kind and seed give the same mesh.
"""

from __future__ import annotations

import torch
from torch import Generator, Tensor

from viewgen.data.objects.shapes import Mesh, box, cylinder, merge

__all__ = ["OBJECT_KINDS", "make_object"]


def _uniform(generator: Generator, low: float, high: float) -> float:
    return low + (high - low) * float(torch.rand((), generator=generator))


def _color(generator: Generator) -> Tensor:
    """A saturated-enough colour: a random hue at random lightness."""
    hue = _uniform(generator, 0.0, 6.0)
    base = torch.tensor([abs(hue - 3.0) - 1.0, 2.0 - abs(hue - 2.0), 2.0 - abs(hue - 4.0)]).clamp(0.0, 1.0)
    return (0.15 + 0.75 * base * _uniform(generator, 0.5, 1.0)).clamp(0.0, 1.0)


def _legs(width: float, depth: float, height: float, top: float, thickness: float, color: Tensor) -> list[Mesh]:
    """Four legs below ``top`` (y down: legs go from ``top`` to ``top + height``) at the corners of width x depth."""
    return [box((thickness, height, thickness), (sx * (width - thickness) / 2, top + height / 2,
                                                  sz * (depth - thickness) / 2), color)
            for sx in (-1, 1) for sz in (-1, 1)]


def _chair(g: Generator) -> list[Mesh]:
    width, depth, leg, back = _uniform(g, 0.8, 1.2), _uniform(g, 0.8, 1.2), _uniform(g, 0.7, 1.1), _uniform(g, 0.7, 1.3)
    seat, thickness = _uniform(g, 0.08, 0.16), _uniform(g, 0.06, 0.12)
    wood, cushion = _color(g), _color(g)
    parts = [box((width, seat, depth), (0.0, -seat / 2, 0.0), cushion),
             box((width, back, thickness), (0.0, -seat - back / 2, -(depth - thickness) / 2), cushion)]
    return parts + _legs(width, depth, leg, 0.0, thickness, wood)


def _table(g: Generator) -> list[Mesh]:
    width, depth, leg = _uniform(g, 1.2, 2.0), _uniform(g, 0.7, 1.2), _uniform(g, 0.6, 1.0)
    top, thickness = _uniform(g, 0.06, 0.14), _uniform(g, 0.06, 0.14)
    color = _color(g)
    return [box((width, top, depth), (0.0, -top / 2, 0.0), color)] + _legs(width * 0.9, depth * 0.9, leg, 0.0,
                                                                            thickness, _color(g))


def _car(g: Generator) -> list[Mesh]:
    length, width, body = _uniform(g, 1.8, 2.4), _uniform(g, 0.8, 1.0), _uniform(g, 0.3, 0.45)
    cabin, cabin_length, wheel = _uniform(g, 0.25, 0.4), _uniform(g, 0.8, 1.2), _uniform(g, 0.16, 0.24)
    paint, glass, tyre = _color(g), torch.tensor([0.2, 0.25, 0.3]), torch.tensor([0.08, 0.08, 0.08])
    parts = [box((length, body, width), (0.0, -wheel - body / 2, 0.0), paint),
             box((cabin_length, cabin, width * 0.85), (_uniform(g, -0.2, 0.1), -wheel - body - cabin / 2, 0.0), glass)]
    for x in (-0.32 * length, 0.32 * length):
        for z in (-width / 2, width / 2):
            parts.append(cylinder(wheel, 0.18, (x, -wheel, z), axis=2, color=tyre))
    return parts


def _mug(g: Generator) -> list[Mesh]:
    radius, height = _uniform(g, 0.35, 0.55), _uniform(g, 0.7, 1.2)
    color, handle = _color(g), _uniform(g, 0.05, 0.09)
    reach = _uniform(g, 0.18, 0.3)
    parts = [cylinder(radius, height, (0.0, -height / 2, 0.0), axis=1, color=color, segments=24)]
    for y in (-0.25 * height, -0.75 * height):  # the handle: two arms and a grip
        parts.append(box((reach, handle, handle), (radius + reach / 2, y, 0.0), color))
    parts.append(box((handle, 0.5 * height + handle, handle), (radius + reach, -0.5 * height, 0.0), color))
    return parts


OBJECT_KINDS = {"chair": _chair, "table": _table, "car": _car, "mug": _mug}


def make_object(kind: str, seed: int) -> Mesh:
    """Object ``kind`` (:data:`OBJECT_KINDS`) of ``seed``, centred in and scaled to the unit ball."""
    if kind not in OBJECT_KINDS:
        raise ValueError(f"unknown object kind {kind!r}; choose from {', '.join(OBJECT_KINDS)}")
    generator = torch.Generator().manual_seed(int(seed))
    mesh = merge(*OBJECT_KINDS[kind](generator))
    points = mesh.corners.reshape(-1, 3)
    centre = (points.amax(0) + points.amin(0)) / 2
    radius = float((points - centre).norm(dim=1).max())
    return mesh.transformed(torch.eye(3), -centre / radius, 1.0 / radius)
