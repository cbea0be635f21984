import math

import pytest
import torch

from viewgen.geometry import (
    crop_image_and_intrinsics,
    default_intrinsics,
    focal_from_fov_deg,
    fov_deg_from_focal,
    intrinsics_to_pixel_matrix,
    pixel_centers_uv,
    pixel_matrix_to_intrinsics,
    project,
    resize_image_and_intrinsics,
    unproject,
    uv_to_rays,
)


def test_default_intrinsics_match_original():
    intrinsics = default_intrinsics(160, 256, dtype=torch.float64)
    assert torch.allclose(intrinsics, torch.tensor([0.8, 1.28, 0.5, 0.5], dtype=torch.float64))
    assert math.isclose(fov_deg_from_focal(0.8), 64.0107, abs_tol=1e-3)
    assert math.isclose(focal_from_fov_deg(90.0), 0.5, abs_tol=1e-12)
    with pytest.raises(ValueError):
        focal_from_fov_deg(180.0)


def test_pixel_matrix_round_trip_and_square_pixels():
    intrinsics = torch.tensor([[0.8, 1.28, 0.5, 0.5], [0.6, 0.9, 0.45, 0.55]], dtype=torch.float64)
    K = intrinsics_to_pixel_matrix(intrinsics, 160, 256)
    assert K.shape == (2, 3, 3)
    assert math.isclose(K[0, 0, 0].item(), 204.8) and math.isclose(K[0, 1, 1].item(), 204.8)
    assert torch.allclose(pixel_matrix_to_intrinsics(K, 160, 256), intrinsics)


def test_pixel_centres():
    uv = pixel_centers_uv(2, 4, dtype=torch.float64)
    assert uv.shape == (2, 4, 2)
    assert torch.allclose(uv[0, 0], torch.tensor([0.125, 0.25], dtype=torch.float64))
    assert torch.allclose(uv[1, 3], torch.tensor([0.875, 0.75], dtype=torch.float64))


def test_project_unproject_round_trip():
    gen = torch.Generator().manual_seed(1)
    intrinsics = torch.tensor([0.7, 1.1, 0.48, 0.52], dtype=torch.float64)
    uv = torch.rand(50, 2, generator=gen, dtype=torch.float64)
    depth = 1 + 99 * torch.rand(50, generator=gen, dtype=torch.float64)
    points = unproject(uv, depth, intrinsics)
    uv_back, depth_back = project(points, intrinsics)
    assert torch.allclose(uv_back, uv, atol=1e-12) and torch.allclose(depth_back, depth, atol=1e-12)
    rays = uv_to_rays(uv, intrinsics)
    assert torch.allclose(rays * depth.unsqueeze(-1), points, atol=1e-12)


def test_known_projection():
    intrinsics = torch.tensor([0.8, 1.28, 0.5, 0.5], dtype=torch.float64)
    # A point straight ahead projects to the principal point; one at x = z/0.8 * 0.5 to the right edge.
    points = torch.tensor([[0.0, 0.0, 5.0], [0.625 * 5.0, 0.0, 5.0]], dtype=torch.float64)
    uv, depth = project(points, intrinsics)
    assert torch.allclose(uv, torch.tensor([[0.5, 0.5], [1.0, 0.5]], dtype=torch.float64))


def test_crop_updates_intrinsics_consistently():
    gen = torch.Generator().manual_seed(2)
    image = torch.rand(1, 3, 40, 60, generator=gen, dtype=torch.float64)
    intrinsics = torch.tensor([0.8, 1.2, 0.5, 0.5], dtype=torch.float64)
    cropped, new_intrinsics = crop_image_and_intrinsics(image, intrinsics, top=5, left=10,
                                                        crop_height=20, crop_width=30)
    assert cropped.shape == (1, 3, 20, 30)
    # The same 3D point must land on the same image pixel before and after the crop.
    point = torch.tensor([[0.3, -0.2, 4.0]], dtype=torch.float64)
    uv_full, _ = project(point, intrinsics)
    uv_crop, _ = project(point, new_intrinsics)
    pixel_full = uv_full[0] * torch.tensor([60.0, 40.0], dtype=torch.float64)
    pixel_crop = uv_crop[0] * torch.tensor([30.0, 20.0], dtype=torch.float64)
    assert torch.allclose(pixel_full - torch.tensor([10.0, 5.0], dtype=torch.float64), pixel_crop)
    with pytest.raises(ValueError, match="exceeds"):
        crop_image_and_intrinsics(image, intrinsics, top=30, left=0, crop_height=20, crop_width=30)


def test_resize_keeps_normalized_intrinsics():
    image = torch.rand(1, 3, 40, 60)
    intrinsics = torch.tensor([0.8, 1.2, 0.5, 0.5])
    resized, same = resize_image_and_intrinsics(image, intrinsics, (20, 30))
    assert resized.shape == (1, 3, 20, 30)
    assert torch.equal(same, intrinsics) and same is not intrinsics
