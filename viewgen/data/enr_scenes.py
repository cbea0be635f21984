"""Apple's ENR dataset layout (rendered object scenes with camera angles) and its pair sampling.

Layout of a split (chairs, cars, MugsHQ, 3D mountains: ``<name>-train.zip`` and so on, unpacked)::

    <split>/<scene>/00000.png ... 00049.png    RGB(A) renders, 128x128 in Apple's sets
    <split>/<scene>/render_params.json         {"00000": {"azimuth": deg, "elevation": deg, ...}, ...}

An image's key is the last five characters of its file stem; its ``render_params`` entry holds at
least ``azimuth`` and ``elevation`` in degrees (every value is kept, as float32). Every scene must
have the same number of views; training trims an odd count by one (pairs), evaluation may keep it.
Images are read as Apple's loader does: RGB (alpha dropped), the centred 128x128 crop, then resized
to the model's size (bilinear) if that differs. An image smaller than 128 on a side (Apple's
``CenterCrop`` would pad it with black) gives its largest centred square instead, so a small
synthetic set keeps its objects whole.

:class:`PairSampler` orders a dataset's indices as Apple's random pair sampler does: per epoch
``views // 2`` rounds; each round visits every scene once in a random order and takes the next
two views of that scene's own random permutation, so consecutive indices ``(2k, 2k + 1)`` are two
views of one scene and every view is used once per epoch. Seeded by ``(seed, epoch)``, so a
resumed run draws the same order. :class:`PairBatchSampler` cuts that order into batches of whole
pairs, shares each global batch among the processes of a distributed run (rank ``r`` of ``R``
takes the ``r``-th slice) and can start an epoch part-way (a resumed run skips what it did).

Hand-written: torchvision (whose transforms Apple used) is not installable here, and the layout
needs twenty lines.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from viewgen.data.batching import ShardedBatchSampler
from viewgen.data.seeding import item_generator

__all__ = ["APPLE_CROP", "EnrSceneDataset", "PairBatchSampler", "PairSampler", "SceneViews"]

APPLE_CROP = 128  # Apple's loader crops the centred 128x128 square before resizing
_KEY_LENGTH = 5


@dataclass(frozen=True)
class SceneViews:
    """One scene: its ``name``, view image ``paths`` (sorted) and per-view ``params`` (``key -> float``)."""

    name: str
    paths: tuple[Path, ...]
    params: tuple[dict[str, float], ...]


def _read_scene(folder: Path) -> SceneViews:
    params_path = folder / "render_params.json"
    try:
        table = json.loads(params_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ValueError(f"{params_path}: cannot read the render parameters ({type(error).__name__}: "
                         f"{error})") from None
    paths = tuple(sorted(path for path in folder.glob("*.png") if path.is_file()))
    params = []
    for path in paths:
        entry = table.get(path.stem[-_KEY_LENGTH:]) if isinstance(table, dict) else None
        if not isinstance(entry, dict) or not {"azimuth", "elevation"} <= set(entry):
            raise ValueError(f"{params_path}: no azimuth and elevation for {path.name} "
                             f"(key {path.stem[-_KEY_LENGTH:]!r})")
        try:
            params.append({key: float(value) for key, value in entry.items()})
        except (TypeError, ValueError):
            raise ValueError(f"{params_path}: the parameters of {path.name} must be numbers") from None
    return SceneViews(folder.name, paths, tuple(params))


class EnrSceneDataset(torch.utils.data.Dataset):
    """A split in Apple's layout (see the module doc); item ``i`` is view ``i % V`` of scene ``i // V``.

    root: the split folder; image_size: ``(H, W)`` the images are resized to; pairs: trim an odd view
    count by one (training) instead of keeping it (evaluation). Raises ``OSError`` for a missing
    folder and ``ValueError`` (one line, naming the file) for scenes without views, with unequal view
    counts or with broken parameters.
    """

    def __init__(self, root: str | Path, image_size: tuple[int, int] = (128, 128), pairs: bool = True) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise OSError(f"ENR dataset split {self.root} is not a folder")
        folders = sorted(p for p in self.root.iterdir() if p.is_dir() and (p / "render_params.json").is_file())
        if not folders:
            raise ValueError(f"{self.root}: no scene folders with render_params.json (Apple's layout: "
                             "<split>/<scene>/NNNNN.png + render_params.json)")
        self.scenes = [_read_scene(folder) for folder in folders]
        counts = {scene.name: len(scene.paths) for scene in self.scenes}
        first = self.scenes[0]
        unequal = [name for name, count in counts.items() if count != len(first.paths)]
        if not first.paths or unequal:
            raise ValueError(f"{self.root}: every scene needs the same number of views (> 0); {first.name} has "
                             f"{len(first.paths)}, {unequal[0] if unequal else first.name} has "
                             f"{counts[unequal[0]] if unequal else 0}")
        self.views_per_scene = len(first.paths) - (len(first.paths) % 2 if pairs else 0)
        if self.views_per_scene < (2 if pairs else 1):
            raise ValueError(f"{self.root}: scenes need at least 2 views for pairs, got {len(first.paths)}")
        self.image_size = (int(image_size[0]), int(image_size[1]))

    @property
    def num_scenes(self) -> int:
        return len(self.scenes)

    def __len__(self) -> int:
        return self.num_scenes * self.views_per_scene

    def __getitem__(self, index: int) -> dict:
        """``{"img": [3, H, W] float32 in [0, 1], "render_params": {name: float32 scalar tensor}, "scene": name}``."""
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} views")
        scene = self.scenes[index // self.views_per_scene]
        view = index % self.views_per_scene
        params = {key: torch.tensor(value, dtype=torch.float32) for key, value in scene.params[view].items()}
        return {"img": self._image(scene.paths[view]), "render_params": params, "scene": scene.name}

    def _image(self, path: Path) -> Tensor:
        from PIL import Image

        with Image.open(path) as image:
            rgb = image.convert("RGB")
        side = min(APPLE_CROP, rgb.width, rgb.height)
        left, top = round((rgb.width - side) / 2.0), round((rgb.height - side) / 2.0)
        rgb = rgb.crop((left, top, left + side, top + side))
        if (rgb.height, rgb.width) != self.image_size:
            rgb = rgb.resize((self.image_size[1], self.image_size[0]), Image.BILINEAR)
        return torch.from_numpy(np.asarray(rgb, dtype=np.float32) / 255.0).permute(2, 0, 1).contiguous()


class PairSampler(torch.utils.data.Sampler[int]):
    """Apple's random pair order over an :class:`EnrSceneDataset` (see the module doc); ``set_epoch`` before
    each epoch for a new order (the order is a function of ``seed`` and the epoch)."""

    def __init__(self, num_scenes: int, views_per_scene: int, seed: int = 0) -> None:
        if num_scenes < 1 or views_per_scene < 2:
            raise ValueError(f"pairs need >= 1 scene of >= 2 views, got {num_scenes} scenes of {views_per_scene}")
        self.num_scenes, self.views_per_scene, self.seed, self.epoch = num_scenes, views_per_scene, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.num_scenes * (self.views_per_scene // 2) * 2

    def __iter__(self) -> Iterator[int]:
        generator = item_generator(self.seed, self.epoch)
        rounds = self.views_per_scene // 2
        scene_orders = [torch.randperm(self.num_scenes, generator=generator) for _ in range(rounds)]
        view_orders = [torch.randperm(self.views_per_scene, generator=generator) for _ in range(self.num_scenes)]
        for round_index in range(rounds):
            for scene in scene_orders[round_index].tolist():
                pair = view_orders[scene][2 * round_index:2 * round_index + 2]
                yield from (scene * self.views_per_scene + pair).tolist()


class PairBatchSampler(ShardedBatchSampler):
    """Batches of ``pairs_per_batch`` whole pairs from :class:`PairSampler`'s order, for process ``rank`` of
    ``world_size`` (:class:`~viewgen.data.batching.ShardedBatchSampler`: each global batch shared among the
    processes, ``start_batch`` to resume mid-epoch, ``set_epoch`` as for :class:`PairSampler`)."""

    def __init__(self, num_scenes: int, views_per_scene: int, pairs_per_batch: int, seed: int = 0,
                 rank: int = 0, world_size: int = 1) -> None:
        order = PairSampler(num_scenes, views_per_scene, seed)
        if pairs_per_batch < 1:
            raise ValueError(f"need pairs_per_batch >= 1, got {pairs_per_batch}")
        if 0 < world_size and len(order) // 2 < pairs_per_batch * world_size:
            raise ValueError(f"{len(order) // 2} pairs per epoch do not fill one batch of {pairs_per_batch} pairs on "
                             f"each of {world_size} process(es)")
        super().__init__(order, 2 * pairs_per_batch, rank, world_size)
        self.pairs_per_batch = pairs_per_batch
