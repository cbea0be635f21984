import numpy as np
import torch

from tests.helpers.shared import load_reference
from viewgen.rendering import grid_faces, grid_vertices, sobel_edge_alpha, sobel_edge_mask
from viewgen.rendering.mesh import sobel_gradients


def test_grid_faces_order_and_count():
    faces = grid_faces(160, 256)
    assert faces.shape == (81090, 3) and faces.dtype == torch.int64
    width = 5
    faces = grid_faces(3, width)
    # cell (y=1, x=2): tl = 7, tr = 8, bl = 12, br = 13; ids 2 * (1 * 4 + 2) = 12 and 13
    assert faces[12].tolist() == [7, 12, 8]
    assert faces[13].tolist() == [13, 8, 12]
    assert faces[0].tolist() == [0, width, 1]


def test_grid_vertices_follow_pixel_centres():
    disparity = torch.tensor([[[[0.5, 0.25], [1.0, 0.001]]]], dtype=torch.float64)
    intrinsics = torch.tensor([[0.8, 1.28, 0.5, 0.5]], dtype=torch.float64)
    vertices = grid_vertices(disparity, intrinsics)
    assert vertices.shape == (1, 4, 3)
    # pixel (row 0, col 1): uv = (0.75, 0.25), depth 4
    assert torch.allclose(vertices[0, 1], torch.tensor([(0.75 - 0.5) * 4 / 0.8, (0.25 - 0.5) * 4 / 1.28, 4.0],
                                                       dtype=torch.float64))
    assert vertices[0, 3, 2] == 100.0  # disparity clipped to 0.01


def test_sobel_mask_matches_original():
    ref = load_reference()
    disparity = torch.from_numpy(ref["input_rgbd"][..., 3]).clamp(1e-6, 1e5)[None, None]
    alpha = sobel_edge_alpha(disparity)[0, 0].numpy()
    np.testing.assert_allclose(alpha, ref["src_alpha"][0, ..., 0], atol=5e-7)
    mask = sobel_edge_mask(disparity)[0, 0].numpy()
    np.testing.assert_array_equal(mask, ref["src_mask"][0, ..., 0])


def test_sobel_gradients_equal_a_convolution():
    kernel_dy = torch.tensor([[-1.0, -2.0, -1.0], [0.0, 0.0, 0.0], [1.0, 2.0, 1.0]])
    kernels = torch.stack([kernel_dy, kernel_dy.t()]).unsqueeze(1)
    for seed, scale in [(0, 1.0), (1, 1e-3), (2, 40.0)]:
        disparity = torch.rand(2, 1, 23, 37, generator=torch.Generator().manual_seed(seed)) * scale
        expected = torch.nn.functional.conv2d(torch.nn.functional.pad(disparity, (1, 1, 1, 1), mode="reflect"), kernels)
        d_dy, d_dx = sobel_gradients(disparity)
        assert torch.equal(d_dy, expected[:, :1]) and torch.equal(d_dx, expected[:, 1:])


def test_sobel_mask_on_steps_and_ramps():
    flat = torch.full((1, 1, 8, 8), 0.4)
    assert sobel_edge_mask(flat).eq(1).all()
    step = flat.clone()
    step[..., 4:] = 0.45  # a 0.05 step masks both sides
    mask = sobel_edge_mask(step)[0, 0]
    assert mask[:, 3].eq(0).all() and mask[:, 4].eq(0).all() and mask[:, 0].eq(1).all()
