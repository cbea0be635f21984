"""Memories: what a flight knows of the world, rendered from each new camera.

The flight loop (:mod:`viewgen.pipelines.fly_through`) asks its memory for the known world
seen from the next camera, refines that view, and hands the refined frame back::

    memory.reset(rgbd_0, cam_from_world_0, intrinsics)
    warped, mask = memory.render(cam_from_world, intrinsics)   # [1, 4, H, W], [1, 1, H, W]
    shown = memory.add(refined, cam_from_world, intrinsics)    # remember it; the frame to emit

* :class:`LastFrame`: the paper; every frame warps the previous one.
* :class:`Keyframes`: warps start from the last keyframe (less resampling blur).
* :class:`SurfaceTextured`: any memory, with texture fixed to the 3D surface on the shown frame
  (the remembered frame stays un-textured, so the texture is never warped).
* :class:`WorldPrior`: frame 0 set into a procedural world (the weight-free flight's memory).

The warp is a function each memory is given (:data:`Warp`; ``warp_rgbd``, the mesh warp of
Infinite Nature, by default).
"""

from viewgen.memory.base import Memory, Warp
from viewgen.memory.frames import Keyframes, KeyframesConfig, LastFrame, SurfaceTextured
from viewgen.memory.world_prior import WorldPrior, WorldPriorConfig

__all__ = ["Keyframes", "KeyframesConfig", "LastFrame", "Memory", "SurfaceTextured", "Warp", "WorldPrior",
           "WorldPriorConfig"]
