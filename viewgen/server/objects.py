"""The object mode of the web demo: Equivariant Neural Rendering behind ``/objects``.

One image of an object (an example ``object:1..4``, or an upload with the camera angles it was
taken from) is inverse-rendered once into its scene; every drag on the page then asks for the
view at new absolute camera angles, which is a rotate + render of that scene. :class:`ObjectViews`
holds the pipeline (built on first use: the embedded model or ``--enr-weights``) and the scenes
of the open pages, the least recently used dropped beyond ``max_scenes``; one ENR call runs at a
time (the calls are heavy and share one model).
"""

from __future__ import annotations

import io
import math
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = ["ObjectScene", "ObjectViews", "png_bytes"]


def png_bytes(image: Tensor) -> bytes:
    """``[3, H, W]`` in [0, 1] -> PNG bytes."""
    from PIL import Image

    from viewgen.io.images import to_uint8_hwc

    buffer = io.BytesIO()
    Image.fromarray(to_uint8_hwc(image)).save(buffer, format="PNG")
    return buffer.getvalue()


@dataclass(frozen=True)
class ObjectScene:
    """A page's object: its ``name``, the input as the model sees it ``[1, 3, H, W]``, its scene and source angles."""

    name: str
    image: Tensor
    scene: Tensor
    azimuth_deg: float
    elevation_deg: float

    def describe(self, scene_id: str) -> dict:
        return {"id": scene_id, "name": self.name, "azimuth": self.azimuth_deg, "elevation": self.elevation_deg}


def _check_angle(value: float, name: str) -> float:
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number of degrees, got {value}")
    return float(value)


class ObjectViews:
    """Scenes by id and the views of them; ``pipeline_factory() -> NovelViewPipeline`` is called once, lazily."""

    def __init__(self, pipeline_factory: Callable[[], object], max_scenes: int = 32) -> None:
        self._factory, self.max_scenes = pipeline_factory, max_scenes
        self._pipeline = None
        self._lock = threading.Lock()
        self._scenes: OrderedDict[str, ObjectScene] = OrderedDict()

    def _pipe(self):
        if self._pipeline is None:
            self._pipeline = self._factory()
        return self._pipeline

    def info(self) -> dict:
        """The model's image size and the examples (for the page)."""
        from viewgen.data.objects import OBJECT_KINDS

        with self._lock:
            height, width = self._pipe().image_size
        return {"image_size": [height, width], "examples": list(OBJECT_KINDS)}

    def add_example(self, key: str) -> dict:
        """Inverse-render example ``key`` (``chair`` or ``1``..``4``); ``ValueError`` for an unknown one."""
        from viewgen.data.objects.examples import example_object

        example = example_object(key)
        return self.add(example.image, example.azimuth_deg, example.elevation_deg, example.name)

    def add(self, image, azimuth_deg: float, elevation_deg: float, name: str) -> dict:
        """Inverse-render ``image`` (a tensor ``[3, H, W]`` / array ``[H, W, 3]`` uint8) taken from these angles."""
        azimuth_deg = _check_angle(azimuth_deg, "azimuth")
        elevation_deg = _check_angle(elevation_deg, "elevation")
        if not isinstance(image, Tensor):
            image = torch.tensor(image).permute(2, 0, 1).float() / 255.0  # a copy: decoded arrays are read-only
        with self._lock:
            pipe = self._pipe()
            prepared = pipe.prepare(image)
            scene = pipe.inverse_render(prepared)
        scene_id = secrets.token_urlsafe(9)
        with self._lock:
            self._scenes[scene_id] = ObjectScene(name, prepared.cpu(), scene, azimuth_deg, elevation_deg)
            while len(self._scenes) > self.max_scenes:
                self._scenes.popitem(last=False)
        return self._scenes[scene_id].describe(scene_id)

    def get(self, scene_id: str) -> ObjectScene | None:
        with self._lock:
            scene = self._scenes.get(scene_id)
            if scene is not None:
                self._scenes.move_to_end(scene_id)
            return scene

    def view(self, scene_id: str, azimuth_deg: float, elevation_deg: float) -> tuple[bytes, float]:
        """``(PNG, milliseconds)`` of the scene seen from these absolute angles; ``KeyError`` for an unknown id."""
        azimuth_deg = _check_angle(azimuth_deg, "azimuth")
        elevation_deg = _check_angle(elevation_deg, "elevation")
        scene = self.get(scene_id)
        if scene is None:
            raise KeyError(scene_id)
        with self._lock:
            began = time.perf_counter()
            pipe = self._pipe()
            turned = pipe.rotate_source_to_target(scene.scene, scene.azimuth_deg, scene.elevation_deg, azimuth_deg,
                                                  elevation_deg)
            view = pipe.render(turned)[0].cpu()
            elapsed_ms = 1000 * (time.perf_counter() - began)
        return png_bytes(view), elapsed_ms
