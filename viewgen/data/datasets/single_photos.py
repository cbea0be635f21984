"""Single photos for Infinite Nature Zero's training (no poses): a photo folder and the synthetic world's views.

Every item is an image, its disparity and an optional sky mask, flipped left-right at random (``flip=True``), made
into Zero's inputs by :func:`~viewgen.pipelines.zero_inputs.prepare_zero_inputs` (the original's
``data/lhq_folder.py`` steps) and returned as a dict of float32 tensors (``S = size``; ``F`` the canvas side
:func:`prepare_zero_inputs` gives, ``int(S * round(1.5 c) / c)`` for a crop of ``c`` input pixels: 192 for 128)::

    rgbd              [4, S, S]  the central crop: RGB in [0, 1] + disparity normalised into [0.01, 1]
    rgbd_full         [4, F, F]  the canvas (1.5 x the crop) around it, in the crop's disparity unit
    sky_offset        []         disparity below which a canvas sky pixel counts as sky (0: no sky found)
    pixel_matrix      [3, 3]     integer-pixel K of the crop (55 degrees across)
    full_pixel_matrix [3, 3]     the same K with the principal point at the canvas's centre

Item ``k`` is a pure function of ``(seed, k)`` for any ``k >= 0`` (epoch ``e`` of a sampler asks for ``e * len ..
(e + 1) * len - 1``): its randomness comes from :func:`~viewgen.data.seeding.item_generator`, so resumed and
distributed runs see the same items.

* :class:`PhotoFolder`: the LHQ layout of :mod:`viewgen.data.photo_folders` (``viewgen prepare-photos`` writes the
  disparity); item ``k`` is photo ``k % len``. The crop is the central square of the shorter side and the canvas
  1.5 x around it, **reflect-padded** beyond the photo: the original trained on 384 x 384 images outpainted around
  256 x 256 ones, so its canvas was real, while a plain photo's border is a mirror image.
* :class:`SyntheticPhotos`: single views of the synthetic world with exact disparity and a real canvas: a square
  frame of side ``R >= 1.5 S`` is rendered with a field of view ``2 atan(R / S * tan 27.5 deg)`` (76 degrees for
  ``R = 1.5 S``) so that its central ``S x S`` pixels span Zero's 55 degrees; the sky mask is the renderer's (the
  rays that hit nothing). About 0.4 s an item at ``S = 128`` on one core (0.03 s for a 384 x 384 ``PhotoFolder``
  photo).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from viewgen.data.datasets.synthetic_windows import draw_flight_start
from viewgen.data.photo_folders import list_photos, load_disparity, load_photo, read_sky_mask
from viewgen.data.seeding import item_generator
from viewgen.data.synthetic.clips import ground_truth_clip
from viewgen.data.synthetic.presets import PRESET_NAMES
from viewgen.errors import InputError
from viewgen.pipelines.zero_inputs import ZeroInputConfig, ZeroInputs, prepare_zero_inputs

__all__ = ["PhotoFolder", "SyntheticPhotos", "zero_item"]

def zero_item(inputs: ZeroInputs) -> dict[str, Tensor]:
    """The training item of a :class:`~viewgen.pipelines.zero_inputs.ZeroInputs` (see the module doc)."""
    return {"rgbd": inputs.rgbd[0], "rgbd_full": inputs.rgbd_full[0],
            "sky_offset": torch.tensor(inputs.sky_offset, dtype=torch.float32),
            "pixel_matrix": inputs.pixel_matrix, "full_pixel_matrix": inputs.full_pixel_matrix}


class _SinglePhotos(torch.utils.data.Dataset):
    """Item ``k``: flipped left-right by the first draw of ``item_generator(seed, k)`` (when ``flip``), its
    source :meth:`_source` ``(k, generator)`` drawing what it needs next, made into Zero's inputs.

    Subclasses give ``__len__`` and ``_source``; ``config`` is the :class:`ZeroInputConfig` of every item.
    """

    def __init__(self, size: int, seed: int, flip: bool, crop_side: int | None = None) -> None:
        self.size, self.seed, self.flip = int(size), int(seed), bool(flip)
        self.config = ZeroInputConfig(size=self.size, crop_side=crop_side)

    def _source(self, index: int, generator: torch.Generator) -> tuple[Tensor, Tensor, np.ndarray | None, str]:
        """``(rgb [1, 3, H, W] in [0, 1], disparity [1, 1, H, W] (any positive scale), sky [H, W] float32 1 = sky
        or None, what)`` of item ``index``; ``what`` names its source in error messages."""
        raise NotImplementedError

    @staticmethod
    def _draw_flip(generator: torch.Generator) -> bool:
        return bool(torch.rand((), generator=generator) < 0.5)  # drawn even when flip is off: the same sources

    def flipped(self, index: int) -> bool:
        """Whether item ``index`` is flipped left-right."""
        return self._draw_flip(item_generator(self.seed, index)) and self.flip

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        """Item ``index`` (any ``index >= 0``) as the dict of the module doc."""
        if index < 0:
            raise IndexError(f"item {index} is negative")
        generator = item_generator(self.seed, index)
        flip = self._draw_flip(generator) and self.flip
        rgb, disparity, sky, what = self._source(index, generator)
        if flip:
            rgb, disparity = rgb.flip(-1), disparity.flip(-1)
            sky = None if sky is None else np.ascontiguousarray(sky[:, ::-1])
        try:
            return zero_item(prepare_zero_inputs(rgb, disparity, sky, self.config))
        except InputError as error:
            raise InputError(f"{what}: {error}") from None


class PhotoFolder(_SinglePhotos):
    """The photos of an LHQ-layout folder ``root`` (:mod:`viewgen.data.photo_folders`) as Zero's training items.

    size: the crop's side ``S`` in pixels (the canvas is ``int(1.5 S)``); seed: the items' randomness;
    flip: flip each item left-right with probability 1/2. Item ``k`` is photo ``k % len(self)`` (sorted by name).
    One-line ``ValueError`` for a missing folder, no images, images without disparity, and (on reading an item)
    an unreadable file or a disparity or sky mask whose size differs from its photo's, each naming the file.
    """

    def __init__(self, root: str | Path, size: int = 128, seed: int = 0, flip: bool = True) -> None:
        super().__init__(size, seed, flip)
        self.files = list_photos(root)
        missing = [path for path in self.files.images if not self.files.disparity_path(path).is_file()]
        if missing:
            raise ValueError(f"{len(missing)} of {len(self.files.images)} images have no disparity under "
                             f"{self.files.disparity_folder}: run `viewgen prepare-photos {self.files.root} "
                             f"--depth NAME`")

    def __len__(self) -> int:
        return len(self.files.images)

    def _source(self, index: int, generator: torch.Generator) -> tuple[Tensor, Tensor, np.ndarray | None, str]:
        path = self.files.images[index % len(self)]
        rgb = load_photo(path)
        disparity_path = self.files.disparity_path(path)
        disparity = load_disparity(disparity_path)
        _check_size(disparity_path, disparity.shape[-2:], path, rgb.shape[-2:])
        sky_path = self.files.sky_mask_path(path)
        sky = None
        if sky_path is not None:
            sky = np.float32(read_sky_mask(sky_path))
            _check_size(sky_path, sky.shape, path, rgb.shape[-2:])
        return rgb, disparity, sky, str(path)


def _check_size(path: Path, size, photo: Path, photo_size) -> None:
    if tuple(size) != tuple(photo_size):
        raise ValueError(f"{path} is {size[0]}x{size[1]} but its photo {photo.name} is "
                         f"{photo_size[0]}x{photo_size[1]}: they must be the same size")


def synthetic_render_geometry(size: int, fov_deg: float = 55.0, canvas_scale: float = 1.5) -> tuple[int, Tensor]:
    """``(side R, intrinsics [4])`` of the square frame whose central ``size x size`` pixels span ``fov_deg``
    across and which holds the whole canvas of side ``round(canvas_scale * size)`` (:func:`prepare_zero_inputs`'s):
    ``R`` is the smallest side ``>=`` the canvas's with ``R - size`` even (so the crop is centred on the optical
    axis, flipped or not) and ``fx = fy = size / (2 tan(fov / 2)) / R`` (normalized), ``cx = cy = 0.5``."""
    canvas = int(round(size * canvas_scale))
    side = size + 2 * math.ceil((canvas - size) / 2)
    focal = size / (2.0 * math.tan(math.radians(fov_deg) / 2.0)) / side
    return side, torch.tensor([focal, focal, 0.5, 0.5], dtype=torch.float32)


class SyntheticPhotos(_SinglePhotos):
    """Single views of the synthetic procedural world (exact disparity, a real canvas) as Zero's training items.

    Item ``k``: preset ``k % 3`` (``coast``, ``hills``, ``mountains``), a world seed of
    :data:`~viewgen.data.datasets.synthetic_windows.TRAIN_WORLD_SEEDS` (never a world ``viewgen eval`` scores), a
    flight seed and a frame along the world's drone path (:func:`draw_flight_start`, as
    :class:`~viewgen.data.datasets.SyntheticWindows` draws them), rendered as a square frame of
    :func:`synthetic_render_geometry` (``192 x 192`` at 76 degrees for ``size = 128``) and cropped to its central
    ``size x size`` pixels (55 degrees). The sky mask is where the rays hit nothing (disparity exactly 0).

    size: the crop's side ``S``; num_items: the dataset's length (an epoch); seed; flip: as :class:`PhotoFolder`.
    """

    def __init__(self, size: int = 128, num_items: int = 100_000, seed: int = 0, flip: bool = True) -> None:
        if int(size) < 8 or int(num_items) < 1:
            raise ValueError(f"SyntheticPhotos needs size >= 8 and num_items >= 1, got {size} and {num_items}")
        super().__init__(size, seed, flip, crop_side=int(size))
        self.num_items = int(num_items)
        self.render_side, self.intrinsics = synthetic_render_geometry(self.size, self.config.fov_deg,
                                                                      self.config.canvas_scale)

    def __len__(self) -> int:
        return self.num_items

    def plan(self, index: int) -> tuple[str, int, int, int]:
        """``(preset, world seed, flight seed, frame along the path)`` of item ``index``."""
        generator = item_generator(self.seed, index)
        self._draw_flip(generator)
        return self._plan(index, generator)

    @staticmethod
    def _plan(index: int, generator: torch.Generator) -> tuple[str, int, int, int]:
        return (PRESET_NAMES[index % len(PRESET_NAMES)], *draw_flight_start(generator))

    def _source(self, index: int, generator: torch.Generator) -> tuple[Tensor, Tensor, np.ndarray | None, str]:
        preset, world_seed, flight_seed, frame = self._plan(index, generator)
        side = self.render_side
        clip = ground_truth_clip(preset, flight_seed, side, side, 1, world_seed, first_frame=frame,
                                 intrinsics=self.intrinsics)
        disparity = clip.rgbd[:, 3:]
        sky = np.float32(disparity[0, 0].numpy() == 0.0)
        what = f"synthetic photo {index} ({preset}, world {world_seed}, flight {flight_seed}, frame {frame})"
        return clip.rgbd[:, :3], disparity, sky, what
