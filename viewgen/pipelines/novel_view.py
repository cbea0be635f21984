"""Equivariant Neural Rendering as a pipeline: one object image -> its scene volume -> any view of it.

The paper's inference, step by step (Dupont et al., ICML 2020)::

    scene    = inverse_render(image)                         [B, 64, 32, 32, 32] for Apple's chairs
    rotation = source_to_target_rotation(az_s, el_s, az_t, el_t)
    view     = render(rotate_volume(scene, rotation))        [B, 3, 128, 128]

:class:`NovelViewPipeline` holds the model (:class:`~viewgen.networks.enr.EquivariantRenderer`)
and does the rest: images in as tensors, paths or PIL images (the largest centred square, resized
to the model's size), rotations from camera azimuth / elevation in degrees
(:mod:`viewgen.geometry.rotations`; positive azimuth shifts move the camera right, positive
elevation shifts up), the training forward on pairs (:meth:`NovelViewPipeline.cross_view_render`)
and an orbit. ``from_pretrained`` takes Apple's ``.pt`` or a viewgen release folder; ``default()``
is the small model that ships inside viewgen (trained on the synthetic object world).

``precision="fast"`` (opt-in, for interactive use) runs ``inverse_render`` and ``render`` on a
bfloat16 copy of the model, its 3D convolutions channels-last on a CPU (the layout oneDNN's
bfloat16 kernels want), where bfloat16 is native (:func:`~viewgen.devices.check_precision`);
rotation and the training forward stay float32. Apple's chairs model, rotate + render at batch 1
on a 2-core AMX CPU: 293 -> 102 ms, the views within 0.022 of the exact path's (random weights;
docs/enr.md has the rows). Scenes and views are float32 either way.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from viewgen.devices import check_precision, usable_device
from viewgen.geometry.rotations import source_to_target_rotation
from viewgen.networks.enr import EquivariantRenderer
from viewgen.rendering.volume import rotate_volume

__all__ = ["NovelViewPipeline", "cross_view_render", "pair_partners"]


def pair_partners(batch: int) -> list[int]:
    """``[1, 0, 3, 2, ...]``: the other view of each pair in a batch of pairs (``batch`` even)."""
    if batch < 2 or batch % 2:
        raise ValueError(f"a batch of view pairs needs an even number of images >= 2, got {batch}")
    return [index ^ 1 for index in range(batch)]


def _angles(values, count: int, name: str, device: torch.device) -> Tensor:
    """Degrees as a float32 ``[count]`` tensor (a single value is repeated)."""
    angles = torch.as_tensor(values, dtype=torch.float32, device=device).reshape(-1)
    if angles.numel() == 1 and count > 1:
        angles = angles.expand(count)
    if angles.numel() != count:
        raise ValueError(f"{name} must be {count} angle(s) in degrees (or one for all), got {angles.numel()}")
    if not bool(torch.isfinite(angles).all()):
        raise ValueError(f"{name} must be finite degrees, got {angles.tolist()}")
    return angles


class NovelViewPipeline:
    """ENR's inference around a model (see the module doc). All methods are batched and run without grad
    except :meth:`cross_view_render` (the training forward)."""

    def __init__(self, model: EquivariantRenderer, device: str | torch.device = "cpu",
                 precision: str = "exact") -> None:
        """Wrap ``model``, which is moved to ``device`` and put in eval mode (not copied); ``precision``:
        ``"exact"`` (float32, Apple's arithmetic) or ``"fast"`` (bfloat16 renderers, see the module doc)."""
        self.device = usable_device(device)
        self.precision = check_precision(precision, self.device)
        self.model = model.to(self.device).eval()
        self._fast_model = _bfloat16_copy(self.model, self.device) if precision == "fast" else None

    @classmethod
    def from_pretrained(cls, path: str | Path, device: str | torch.device = "cpu",
                        precision: str = "exact") -> NovelViewPipeline:
        """Apple's checkpoint (a ``.pt`` file) or a release folder (``config.json`` + ``model.safetensors``)."""
        from viewgen.convert.enr import read_apple_checkpoint

        path = Path(path)
        if path.is_dir() and not (path / "model.safetensors").exists() and (path / "release").is_dir():
            raise FileNotFoundError(f"{path} is a training run folder: its release weights are {path / 'release'} "
                                    "(or write them with `viewgen export`)")
        model = EquivariantRenderer.from_pretrained(path) if path.is_dir() else read_apple_checkpoint(path)
        return cls(model, device, precision)

    @classmethod
    def default(cls, device: str | torch.device = "cpu", precision: str = "exact") -> NovelViewPipeline:
        """The embedded model: a small ENR trained by viewgen on its synthetic object world (64x64; docs/enr.md)."""
        from viewgen.networks.enr import embedded_weights_folder

        return cls(EquivariantRenderer.from_pretrained(embedded_weights_folder()), device, precision)

    @property
    def image_size(self) -> tuple[int, int]:
        """``(H, W)`` of the model's images."""
        return tuple(self.model.config.image_size)

    def prepare(self, image) -> Tensor:
        """``image`` as ``[B, 3, H, W]`` float32 in [0, 1] at the model's size on the pipeline's device.

        A path or a PIL image is read as RGB; a tensor is ``[3, h, w]`` or ``[B, 3, h, w]`` in [0, 1]. Any
        other size is cropped to its largest centred square and resized (antialiased bilinear); Apple's
        dataset loader instead crops the centred 128x128 pixels (:mod:`viewgen.data.enr_scenes`), which
        only agrees for 128x128 images.
        """
        import numpy as np
        from PIL import Image

        from viewgen.io.images import load_image

        if isinstance(image, (str, Path)):
            image = load_image(image)
        elif isinstance(image, Image.Image):
            image = torch.from_numpy(np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0).permute(2, 0, 1)
        if not isinstance(image, Tensor):
            raise ValueError(f"an image must be a tensor, a path or a PIL image, got {type(image).__name__}")
        image = image[None] if image.dim() == 3 else image
        if image.dim() != 4 or image.shape[1] != 3 or not image.is_floating_point():
            raise ValueError(f"an image tensor must be float [3, H, W] or [B, 3, H, W], got {tuple(image.shape)} "
                             f"{image.dtype}")
        image = image.to(self.device, torch.float32)
        if tuple(image.shape[-2:]) != self.image_size:
            side = min(image.shape[-2:])
            top, left = (image.shape[-2] - side) // 2, (image.shape[-1] - side) // 2
            image = F.interpolate(image[..., top:top + side, left:left + side], size=self.image_size,
                                  mode="bilinear", antialias=True, align_corners=False).clamp(0.0, 1.0)
        return image

    @torch.no_grad()
    def inverse_render(self, image) -> Tensor:
        """The scene of ``image`` (see :meth:`prepare`): ``[B, *config.scene_shape]`` float32."""
        image = self.prepare(image)
        if self._fast_model is None:
            return self.model.inverse_render(image)
        return self._fast_model.inverse_render(image.to(torch.bfloat16)).float()

    @torch.no_grad()
    def render(self, scene: Tensor) -> Tensor:
        """``scene [B, C, D, H, W]`` -> ``[B, 3, H_img, W_img]`` float32 in (0, 1)."""
        scene = scene.to(self.device)
        if self._fast_model is None:
            return self.model.render(scene)
        layout = torch.channels_last_3d if self.device.type == "cpu" else torch.contiguous_format
        return self._fast_model.render(scene.to(torch.bfloat16).contiguous(memory_format=layout)).float()

    @torch.no_grad()
    def rotate(self, scene: Tensor, rotation: Tensor) -> Tensor:
        """``scene`` turned by ``rotation [B, 3, 3]`` (or ``[3, 3]``) with the model's resampling mode."""
        return rotate_volume(scene.to(self.device), rotation.to(self.device), mode=self.model.config.mode)

    def rotate_source_to_target(self, scene: Tensor, azimuth_source, elevation_source, azimuth_target,
                                elevation_target) -> Tensor:
        """The scene inferred from the source view (degrees, ``[B]`` or numbers), as seen from the target view."""
        count, device = scene.shape[0], self.device
        angles = [_angles(value, count, name, device) for value, name in (
            (azimuth_source, "azimuth_source"), (elevation_source, "elevation_source"),
            (azimuth_target, "azimuth_target"), (elevation_target, "elevation_target"))]
        return self.rotate(scene, source_to_target_rotation(*angles))

    @torch.no_grad()
    def novel_views(self, image, azimuth_source, elevation_source, azimuth_shifts, elevation_shifts) -> Tensor:
        """Views of one image from its source view shifted by each ``(azimuth_shifts[i], elevation_shifts[i])``
        degrees (a number stands for the same shift in every view): ``[N, 3, H, W]``; one inverse render."""
        shifts_az = torch.as_tensor(azimuth_shifts, dtype=torch.float32).reshape(-1)
        shifts_el = torch.as_tensor(elevation_shifts, dtype=torch.float32).reshape(-1)
        count = max(shifts_az.numel(), shifts_el.numel())
        if count == 0:
            raise ValueError("novel_views needs at least one shift")
        shifts_az = _angles(shifts_az, count, "azimuth_shifts", self.device)
        shifts_el = _angles(shifts_el, count, "elevation_shifts", self.device)
        source_az = _angles(azimuth_source, 1, "azimuth_source", self.device).expand(count)
        source_el = _angles(elevation_source, 1, "elevation_source", self.device).expand(count)
        scene = self.inverse_render(image)
        if scene.shape[0] != 1:
            raise ValueError(f"novel_views takes one image, got {scene.shape[0]}")
        scenes = scene.expand(count, *scene.shape[1:])
        rotated = self.rotate_source_to_target(scenes, source_az, source_el, source_az + shifts_az,
                                               source_el + shifts_el)
        return self.render(rotated)

    def orbit(self, image, azimuth_source, elevation_source, num_views: int = 24,
              elevation_shifts=0.0) -> Iterator[Tensor]:
        """Views ``[3, H, W]`` all around one object: azimuth shifts ``360 k / num_views`` (k = 0..num_views-1),
        at the source elevation plus ``elevation_shifts`` (a number or one per view); one inverse render.
        The arguments are checked (and the scene inferred) before the first view is asked for."""
        if isinstance(num_views, bool) or not isinstance(num_views, int) or num_views < 1:
            raise ValueError(f"num_views must be a whole number >= 1, got {num_views!r}")
        elevations = _angles(elevation_shifts, num_views, "elevation_shifts", self.device)
        source_az = _angles(azimuth_source, 1, "azimuth_source", self.device)
        source_el = _angles(elevation_source, 1, "elevation_source", self.device)
        scene = self.inverse_render(image)
        if scene.shape[0] != 1:
            raise ValueError(f"orbit takes one image, got {scene.shape[0]}")
        return self._orbit_views(scene, source_az, source_el, elevations)

    def _orbit_views(self, scene: Tensor, source_az: Tensor, source_el: Tensor, elevations: Tensor) -> Iterator[Tensor]:
        count = elevations.numel()
        for k in range(count):
            with torch.no_grad():
                rotated = self.rotate_source_to_target(scene, source_az, source_el, source_az + 360.0 * k / count,
                                                       source_el + elevations[k])
                yield self.render(rotated)[0]

    def cross_view_render(self, images: Tensor, azimuth: Tensor, elevation: Tensor) -> Tensor:
        """The training forward on pairs (:func:`cross_view_render`) with this pipeline's model, with grad."""
        return cross_view_render(self.model, images.to(self.device), azimuth, elevation)


def _bfloat16_copy(model: EquivariantRenderer, device: torch.device) -> EquivariantRenderer:
    """A bfloat16 copy of ``model`` (on ``device``) for inference, its 3D convolutions' weights channels-last on
    a CPU."""
    fast = copy.deepcopy(model).to(torch.bfloat16).eval()
    if device.type == "cpu":
        for module in fast.modules():
            if isinstance(module, (nn.Conv3d, nn.ConvTranspose3d)):
                module.to(memory_format=torch.channels_last_3d)
    return fast


def cross_view_render(model: EquivariantRenderer, images: Tensor, azimuth, elevation) -> Tensor:
    """ENR's training forward on pairs ``[A1, A2, B1, B2, ...]`` (``images [2P, 3, H, W]`` on the model's device,
    angles ``[2P]`` in degrees): view ``i`` rendered from its partner's scene turned to view ``i``'s pose,
    ``[2P, 3, H, W]``. The training loss compares it with ``images``."""
    partners = pair_partners(images.shape[0])
    scenes = model.inverse_render(images)
    azimuth = _angles(azimuth, images.shape[0], "azimuth", images.device)
    elevation = _angles(elevation, images.shape[0], "elevation", images.device)
    rotation = source_to_target_rotation(azimuth, elevation, azimuth[partners], elevation[partners])
    turned = rotate_volume(scenes, rotation, mode=model.config.mode)
    return model.render(turned[partners])
