"""GoogleEarth-Infinite (the SGAM project's release) as clip windows for Infinite Nature's rollouts.

Layout::

    <root>/K.npy                                   3x3 pixel intrinsics of the 512x512 renders
    <root>/<split>/<grid>/transforms.json          {"frames": [{"file_path": ".../im_00012.png",
                                                     "transform_matrix": 4x4 camera-to-world (OpenGL axes),
                                                     "is_valid": true}, ...]}
    <root>/<split>/<grid>/im_NNNNN.png, dm_NNNNN.npy   RGB and z-depth (65504 marks sky / no data)

A frame's id is the five digits of its file name; ids sharing ``id % 4`` are one of the four camera
rotations at each grid point. Frames link when they share the rotation and their camera centres
are at most :data:`NEIGHBOUR_DISTANCE` apart (the release's pairing rule); grids whose name holds
``chicago`` are skipped, as by the release's own loader. Window ``k`` starts at frame
``k mod N`` and walks ``frames - 1`` links, each to a random unvisited neighbour (seeded by
``(seed, k)``), so windows are pure functions of the index like the synthetic world's.

Each window is seen from its first frame, in our conventions: poses ``cam_from_world`` (OpenCV axes;
the OpenGL camera-to-world is flipped by ``diag(1, -1, -1, 1)`` and inverted) relative to frame 0,
lengths and disparity in units of frame 0's nearest depth (``disparity = s / depth``, sky 0);
intrinsics normalised from ``K``. Images are resized with Lanczos, depths with nearest neighbours.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from viewgen.data.seeding import item_generator
from viewgen.geometry.poses import camera_center, relative_to_first

__all__ = ["NEIGHBOUR_DISTANCE", "SKY_DEPTH", "GoogleEarthFrame", "GoogleEarthWindows"]

NEIGHBOUR_DISTANCE = 0.3
SKY_DEPTH = 65504.0  # float16's largest value: what the renders store where there is no surface
_RENDER_SIDE = 512
_OPENGL_TO_OPENCV = torch.diag(torch.tensor([1.0, -1.0, -1.0, 1.0], dtype=torch.float64))


@dataclass(frozen=True)
class GoogleEarthFrame:
    """One valid frame: its image and depth files and ``cam_from_world [4, 4]`` (OpenCV, float64)."""

    image: Path
    depth: Path
    frame_id: int
    cam_from_world: torch.Tensor


def _read_grid(folder: Path) -> list[GoogleEarthFrame]:
    try:
        frames = json.loads((folder / "transforms.json").read_text())["frames"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ValueError(f"{folder / 'transforms.json'}: not a GoogleEarth-Infinite transforms file ({error})") \
            from None
    found = []
    for entry in frames:
        if not entry.get("is_valid", True):
            continue
        frame_id = int(Path(entry["file_path"]).stem[-5:])
        cam_to_world = torch.tensor(entry["transform_matrix"], dtype=torch.float64) @ _OPENGL_TO_OPENCV
        found.append(GoogleEarthFrame(folder / f"im_{frame_id:05d}.png", folder / f"dm_{frame_id:05d}.npy", frame_id,
                                      torch.linalg.inv(cam_to_world)))
    return found


class GoogleEarthWindows(torch.utils.data.Dataset):
    """Windows of ``frames`` linked frames of ``root/split`` at ``image_size`` (see the module doc); ``len``: the
    number of frames (an epoch starts one window at each); any index >= 0 is a window."""

    def __init__(self, root: str | Path, split: str = "train", image_size: tuple[int, int] = (160, 256),
                 frames: int = 2, seed: int = 0) -> None:
        self.root = Path(root)
        try:
            pixel_k = np.load(self.root / "K.npy")
        except (OSError, ValueError) as error:
            raise ValueError(f"{self.root}: no readable K.npy, not a GoogleEarth-Infinite folder ({error})") from None
        grids = sorted(p for p in (self.root / split).glob("*") if (p / "transforms.json").is_file()
                       and "chicago" not in p.name)
        self.frames = [frame for grid in grids for frame in _read_grid(grid)]
        if not self.frames or frames < 2:
            raise ValueError(f"{self.root / split}: needs frames >= 2 and at least one valid frame "
                             f"(found {len(self.frames)} in {len(grids)} grid folder(s))")
        self.intrinsics = torch.tensor([pixel_k[0, 0], pixel_k[1, 1], pixel_k[0, 2], pixel_k[1, 2]],
                                       dtype=torch.float32) / _RENDER_SIDE
        self.image_size, self.window_frames, self.seed = tuple(image_size), frames, seed
        self.neighbours = self._links()

    def _links(self) -> list[list[int]]:
        centres = camera_center(torch.stack([f.cam_from_world for f in self.frames]))
        rotation = torch.tensor([f.frame_id % 4 for f in self.frames])
        grid_of = {folder: index for index, folder in enumerate(dict.fromkeys(f.image.parent for f in self.frames))}
        same_folder = torch.tensor([grid_of[f.image.parent] for f in self.frames])
        close = torch.cdist(centres, centres) <= NEIGHBOUR_DISTANCE
        linked = close & (rotation[:, None] == rotation[None]) & (same_folder[:, None] == same_folder[None])
        linked.fill_diagonal_(False)
        return [torch.nonzero(row).flatten().tolist() for row in linked]

    def __len__(self) -> int:
        return len(self.frames)

    def walk(self, index: int) -> list[int]:
        """The frame indices of window ``index``: a start and ``frames - 1`` steps to unvisited neighbours (the walk
        stays put where it is stuck, so every window has ``frames`` frames)."""
        generator = item_generator(self.seed, index)
        path = [index % len(self.frames)]
        while len(path) < self.window_frames:
            options = [n for n in self.neighbours[path[-1]] if n not in path]
            path.append(options[int(torch.randint(len(options), (), generator=generator))] if options else path[-1])
        return path

    def _rgbd(self, frame: GoogleEarthFrame) -> tuple[torch.Tensor, torch.Tensor]:
        from PIL import Image

        height, width = self.image_size
        with Image.open(frame.image) as image:
            rgb = np.asarray(image.convert("RGB").resize((width, height), Image.Resampling.LANCZOS), np.float32)
        stored = np.load(frame.depth).astype(np.float32)
        depth = torch.from_numpy(stored.reshape(1, 1, *stored.shape[-2:]))
        depth = torch.nn.functional.interpolate(depth, size=(height, width), mode="nearest")[0]
        return torch.from_numpy(rgb / 255.0).permute(2, 0, 1), depth

    def __getitem__(self, index: int) -> dict:
        """``{"rgbd": [frames, 4, H, W], "cam_from_world": [frames, 3, 4], "intrinsics": [4]}`` of window ``index``."""
        if index < 0:
            raise IndexError(f"window {index} is negative")
        path = [self.frames[i] for i in self.walk(index)]
        rgbs, depths = zip(*(self._rgbd(frame) for frame in path))
        depth = torch.stack(depths)
        sky = depth >= SKY_DEPTH
        surface = depth[0][~sky[0]]
        scale = float(surface.min()) if surface.numel() else 1.0
        disparity = torch.where(sky, torch.zeros_like(depth), (scale / depth.clamp_min(1e-6)).clamp(0, 1))
        poses = relative_to_first(torch.stack([frame.cam_from_world[:3] for frame in path]))
        poses[:, :, 3] /= scale
        return {"rgbd": torch.cat([torch.stack(rgbs), disparity], dim=1), "cam_from_world": poses.float(),
                "intrinsics": self.intrinsics.clone()}
