"""RGBD -> grid mesh, the rasterizer (Fragments), and ``warp_rgbd``, the call Infinite Nature's pipelines make;
softmax forward splatting (``render_forward_splat``), Infinite Nature Zero's renderer."""

from viewgen.rendering.mesh import grid_faces, grid_vertices, sobel_edge_alpha, sobel_edge_mask
from viewgen.rendering.raster.fragments import Fragments
from viewgen.rendering.raster.rasterize import interpolate_attributes, rasterize
from viewgen.rendering.raster.reference import rasterize_reference
from viewgen.rendering.splat import render_forward_splat, sobel_foreground_alpha, softmax_splat, splat_flow
from viewgen.rendering.warp import perspective_from_intrinsics, warp_rgbd

__all__ = [
    "Fragments",
    "grid_faces",
    "grid_vertices",
    "interpolate_attributes",
    "perspective_from_intrinsics",
    "rasterize",
    "rasterize_reference",
    "render_forward_splat",
    "sobel_foreground_alpha",
    "softmax_splat",
    "splat_flow",
    "sobel_edge_alpha",
    "sobel_edge_mask",
    "warp_rgbd",
]
