"""Frame 0's sky at infinity: seen by rotation only, wherever the camera goes.

The sky is (nearly) at infinity: moving the camera does not move it, turning the camera does.
The mesh warp cannot show that (it puts the sky at its farthest depth, a wall that parallaxes and
is enlarged as the camera approaches), so the weight-free flight keeps frame 0's sky apart, as
a dome (the idea of Infinite Nature Zero's sky dome, here without a learned outpainter):

    build(rgb_0, sky_0):  the dome image is frame 0 with its land replaced by the sky around it
                          (:func:`~viewgen.rendering.holes.fill_four_sides` from the sky pixels),
                          so what land hid can be shown when the land drops away
    look(cam):            each view pixel's ray, rotated into frame 0's camera, is projected
                          with frame 0's intrinsics and the dome sampled there; the weight falls
                          from 1 inside frame 0's view to 0 at ``margin`` outside it (where the
                          caller shows some other sky)

Shapes: the dome ``[1, 3, H0, W0]``; :meth:`SkyDome.look` returns ``rgb [1, 3, H, W]`` and
``weight [1, 1, H, W]``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from viewgen.geometry.projection import pixel_centers_uv, uv_to_rays
from viewgen.rendering.holes import fill_four_sides

__all__ = ["SkyDome"]


class SkyDome:
    """Frame 0's sky, shown by rotation only (see the module doc).

    Args:
        rgb: frame 0 ``[3, H, W]`` in [0, 1]; sky: ``[H, W]`` bool, True where frame 0 shows sky.
        cam_from_world: frame 0's pose ``[3, 4]``; intrinsics: its normalized ``[4]``.
        margin: how far outside frame 0's view (in its normalized image coordinates) the
            weight falls to 0.
    """

    def __init__(self, rgb: Tensor, sky: Tensor, cam_from_world: Tensor, intrinsics: Tensor,
                 margin: float = 0.1) -> None:
        self.image = fill_four_sides(rgb[None].float(), sky[None, None])
        self.rotation = cam_from_world[:3, :3].double()
        self.intrinsics = intrinsics.double()
        self.margin = margin

    def look(self, cam_from_world: Tensor, intrinsics: Tensor, size: tuple[int, int]) -> tuple[Tensor, Tensor]:
        """The dome seen from ``cam_from_world [3, 4]`` at ``size`` ``(H, W)``: ``(rgb, weight)``."""
        height, width = size
        uv = pixel_centers_uv(height, width, dtype=torch.float64, device=self.image.device)
        rays = uv_to_rays(uv, intrinsics.double().to(uv.device))  # [H, W, 3] in the view's camera
        in_frame0 = rays @ (self.rotation.to(uv.device) @ cam_from_world[:3, :3].double().to(uv.device).T).T
        depth = in_frame0[..., 2:]
        ahead = depth > 1e-6
        fx, fy, cx, cy = self.intrinsics.to(uv.device)
        source = torch.stack([fx * in_frame0[..., 0], fy * in_frame0[..., 1]], -1) / depth.clamp_min(1e-6)
        source = source + torch.stack([cx, cy])
        inside = torch.minimum(source, 1.0 - source).amin(-1, keepdim=True)  # < 0 outside frame 0's view
        weight = torch.where(ahead, (1.0 + inside / self.margin).clamp(0.0, 1.0), torch.zeros_like(inside))
        grid = (2.0 * source - 1.0).clamp(-2.0, 2.0)[None].to(self.image.dtype)
        rgb = F.grid_sample(self.image, grid, mode="bilinear", padding_mode="border", align_corners=False)
        return rgb, weight.permute(2, 0, 1)[None].to(self.image.dtype)
