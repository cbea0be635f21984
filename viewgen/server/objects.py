"""The object mode of the web demo: Equivariant Neural Rendering behind ``/objects``.

One image of an object (an example ``object:1..4``, or an upload with the camera angles it was
taken from) is inverse-rendered once into its scene; every drag on the page then asks for the
view at new absolute camera angles, which is a rotate + render of that scene. :class:`ObjectViews`
holds the pipeline (built on first use: the embedded model or ``--enr-weights``) and the scenes
of the open pages, the least recently used dropped beyond ``max_scenes``. One ENR call runs at a
time (the calls are heavy and share one model) and at most ``max_pending`` requests may wait for
it: :meth:`ObjectViews.admitted` refuses more at once (the page retries), so a flood of requests
cannot queue up on the server's worker threads.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
from torch import Tensor

from viewgen.geometry.rotations import finite_degrees
from viewgen.server.media import encode_png, rgb_to_uint8
from viewgen.server.uploads import fit_rgb

__all__ = ["ObjectScene", "ObjectViews", "ObjectsBusy"]


class ObjectsBusy(RuntimeError):
    """Too many object-mode requests at once (the route answers 503, the page tries again)."""


@dataclass(frozen=True)
class ObjectScene:
    """A page's object: its ``name``; ``image [1, 3, H, W]`` in [0, 1], the input at the model's size; ``scene
    [1, C, D, H', W']``, its inferred volume; the source camera angles in degrees."""

    name: str
    image: Tensor
    scene: Tensor
    azimuth_deg: float
    elevation_deg: float

    def describe(self, scene_id: str) -> dict:
        return {"id": scene_id, "name": self.name, "azimuth": self.azimuth_deg, "elevation": self.elevation_deg}

    def source_png(self) -> bytes:
        return encode_png(rgb_to_uint8(self.image))


class ObjectViews:
    """Scenes by id and the views of them; ``pipeline_factory() -> NovelViewPipeline`` is called once, lazily."""

    def __init__(self, pipeline_factory: Callable[[], object], max_scenes: int = 32, max_pending: int = 4) -> None:
        self._factory, self.max_scenes = pipeline_factory, max_scenes
        self._pipeline = None
        self._lock = threading.Lock()
        self._admission = threading.BoundedSemaphore(max_pending)
        self._scenes: OrderedDict[str, ObjectScene] = OrderedDict()

    @contextmanager
    def admitted(self) -> Iterator[None]:
        """Hold one of the ``max_pending`` places for a request; :class:`ObjectsBusy` when none is free."""
        if not self._admission.acquire(blocking=False):
            raise ObjectsBusy("The object model is busy with other requests; try again in a moment.")
        try:
            yield
        finally:
            self._admission.release()

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

    def add(self, image: Tensor | np.ndarray, azimuth_deg: float, elevation_deg: float, name: str) -> dict:
        """Inverse-render ``image`` (``[3, H, W]`` in [0, 1], or an upload's ``[H, W, 3]`` uint8, which is cropped
        and resized while still 8-bit) taken from these angles; returns the scene's description."""
        azimuth_deg = finite_degrees(azimuth_deg, "azimuth")
        elevation_deg = finite_degrees(elevation_deg, "elevation")
        with self._lock:
            pipe = self._pipe()
            if isinstance(image, np.ndarray):
                image = fit_rgb(image, pipe.image_size)
            prepared = pipe.prepare(image)
            scene = ObjectScene(name, prepared.cpu(), pipe.inverse_render(prepared), azimuth_deg, elevation_deg)
            scene_id = secrets.token_urlsafe(9)
            self._scenes[scene_id] = scene
            while len(self._scenes) > self.max_scenes:
                self._scenes.popitem(last=False)
        return scene.describe(scene_id)

    def get(self, scene_id: str) -> ObjectScene | None:
        with self._lock:
            scene = self._scenes.get(scene_id)
            if scene is not None:
                self._scenes.move_to_end(scene_id)
            return scene

    def view(self, scene_id: str, azimuth_deg: float, elevation_deg: float) -> tuple[bytes, float] | None:
        """``(PNG, milliseconds)`` of the scene seen from these absolute angles; None for an unknown id."""
        azimuth_deg = finite_degrees(azimuth_deg, "azimuth")
        elevation_deg = finite_degrees(elevation_deg, "elevation")
        scene = self.get(scene_id)
        if scene is None:
            return None
        with self._lock:
            began = time.perf_counter()
            pipe = self._pipe()
            turned = pipe.rotate_source_to_target(scene.scene, scene.azimuth_deg, scene.elevation_deg, azimuth_deg,
                                                  elevation_deg)
            view = pipe.render(turned)
            elapsed_ms = 1000 * (time.perf_counter() - began)
        return encode_png(rgb_to_uint8(view)), elapsed_ms
