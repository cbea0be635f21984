"""The fast rasterizer against the literal reference, on grids, soups, ties and big triangles."""

import pytest
import torch

from tests.helpers.scenes import grid_clip_vertices, pose_from_euler, scene_rgbd
from viewgen.rendering import grid_faces, interpolate_attributes, rasterize, rasterize_reference
from viewgen.rendering.raster.visibility import visible_faces

INTRINSICS = torch.tensor([0.8, 1.28, 0.5, 0.5])

WARP_POSES = {
    "identity": (0, 0, 0, (0, 0, 0)),
    "forward": (0, 0, 0, (0, 0, -0.3)),
    "backward": (0, 0, 0, (0, 0, 0.5)),
    "yaw_left": (-12, 0, 0, (0.05, 0, -0.1)),
    "sharp_turn": (35, 5, 0, (0, 0, -0.2)),
    "low_flight": (0, 25, 0, (0, -0.6, -0.8)),   # close-up terrain: huge triangles
    "roll": (3, -4, 20, (0.1, 0.1, 0)),
    "behind": (170, 0, 0, (0, 0, 0)),            # looking back: vertices behind the eye
}


def assert_same_fragments(fast, reference):
    assert torch.equal(fast.face_ids, reference.face_ids)
    assert torch.equal(fast.barycentrics.detach(), reference.barycentrics)
    assert torch.equal(fast.ndc_z, reference.ndc_z)


def rasterize_both_ways(clip, faces, height, width, **kwargs):
    """The fast rasterizer without gradients (barycentrics looked up from the visibility pass) and
    with them (recomputed, differentiable); both must give the same fragments."""
    looked_up = rasterize(clip, faces, height, width, **kwargs)
    recomputed = rasterize(clip.clone().requires_grad_(True), faces, height, width, **kwargs)
    assert recomputed.barycentrics.requires_grad and not looked_up.barycentrics.requires_grad
    assert_same_fragments(looked_up, recomputed)
    return looked_up


@pytest.mark.parametrize("name", list(WARP_POSES))
@pytest.mark.parametrize("as_grid", [False, True])
def test_grid_warps_match_reference(name, as_grid):
    yaw, pitch, roll, t = WARP_POSES[name]
    rgbd = scene_rgbd(12, 18, seed=3)
    clip = grid_clip_vertices(rgbd, INTRINSICS, pose_from_euler(yaw, pitch, roll, t))
    faces = grid_faces(12, 18)
    fast = rasterize_both_ways(clip, faces, 12, 18, grid=(12, 18) if as_grid else None)
    assert_same_fragments(fast, rasterize_reference(clip, faces, 12, 18))


@pytest.mark.parametrize("seed", range(4))
def test_random_grid_meshes_match_reference(seed):
    """Random depth and poses at a size where the boxes of all kinds occur (1, 2, 4 and more pixels)."""
    gen = torch.Generator().manual_seed(seed)
    rgbd = scene_rgbd(16, 20, seed=seed)
    rgbd[:, 3:] = rgbd[:, 3:] * (0.5 + torch.rand(1, 1, 16, 20, generator=gen))
    angles = (torch.rand(3, generator=gen) - 0.5) * torch.tensor([30.0, 20.0, 10.0])
    shift = ((torch.rand(3, generator=gen) - 0.5) * torch.tensor([0.4, 0.4, 1.2])).tolist()
    clip = grid_clip_vertices(rgbd, INTRINSICS, pose_from_euler(*angles.tolist(), shift))
    faces = grid_faces(16, 20)
    fast = rasterize_both_ways(clip, faces, 16, 20, grid=(16, 20))
    assert_same_fragments(fast, rasterize_reference(clip, faces, 16, 20))


@pytest.mark.parametrize("size", [(9, 14), (14, 9)])
def test_output_size_differs_from_mesh_size(size):
    rgbd = scene_rgbd(10, 12, seed=4)
    clip = grid_clip_vertices(rgbd, INTRINSICS, pose_from_euler(5, 0, 0, (0, 0, -0.2)))
    faces = grid_faces(10, 12)
    assert_same_fragments(rasterize(clip, faces, *size), rasterize_reference(clip, faces, *size))


def random_soup(seed: int, num_faces: int = 40, num_vertices: int = 60) -> tuple[torch.Tensor, torch.Tensor]:
    """Random clip-space triangles: big ones, slivers, some with w <= 0 and some entirely behind."""
    gen = torch.Generator().manual_seed(seed)
    xy = (torch.rand(num_vertices, 2, generator=gen) * 2.6 - 1.3)
    w = torch.rand(num_vertices, 1, generator=gen) * 3 + 0.2
    w[:6] = -w[:6]  # a few vertices behind the eye
    z = torch.rand(num_vertices, 1, generator=gen) * 2.2 - 1.1  # some outside the depth range
    clip = torch.cat([xy * w, z * w, w], dim=1).unsqueeze(0)
    faces = torch.randint(0, num_vertices, (num_faces, 3), generator=gen)
    return clip, faces


@pytest.mark.parametrize("seed", range(6))
def test_triangle_soups_match_reference(seed):
    clip, faces = random_soup(seed)
    assert_same_fragments(rasterize(clip, faces, 13, 17), rasterize_reference(clip, faces, 13, 17))


def test_exact_ties_go_to_the_later_triangle():
    clip, faces = random_soup(7, num_faces=10)
    duplicated = torch.cat([faces, faces])  # identical arithmetic, so every depth test is a tie
    fast = rasterize(clip, duplicated, 11, 11)
    assert_same_fragments(fast, rasterize_reference(clip, duplicated, 11, 11))
    covered = fast.face_ids >= 0
    assert covered.any() and (fast.face_ids[covered] >= 10).all()
    # Reversed winding: near-ties decided by rounding, still exactly as the reference decides them.
    reversed_winding = torch.cat([faces, faces.flip(1)])
    assert_same_fragments(rasterize(clip, reversed_winding, 11, 11),
                          rasterize_reference(clip, reversed_winding, 11, 11))


def test_full_screen_triangle_covers_every_pixel():
    clip = torch.tensor([[[-1.0, -1.0, 0.0, 1.0], [3.0, -1.0, 0.0, 1.0], [-1.0, 3.0, 0.0, 1.0]]])
    faces = torch.tensor([[0, 1, 2]])
    fragments = rasterize(clip, faces, 64, 96)
    assert (fragments.face_ids == 0).all()
    assert torch.allclose(fragments.barycentrics.sum(-1), torch.ones(1, 64, 96))


@pytest.mark.parametrize("max_candidates", [1, 7, 50])
@pytest.mark.parametrize("as_grid", [False, True])
def test_chunking_changes_nothing(max_candidates, as_grid):
    rgbd = scene_rgbd(12, 18, seed=5)
    clip = grid_clip_vertices(rgbd, INTRINSICS, pose_from_euler(0, 25, 0, (0, -0.6, -0.8)))
    faces = grid_faces(12, 18)
    grid = (12, 18) if as_grid else None
    whole = rasterize(clip, faces, 12, 18, grid=grid)
    chunked = rasterize_both_ways(clip, faces, 12, 18, max_candidates=max_candidates, grid=grid)
    assert_same_fragments(chunked, whole)


@pytest.mark.parametrize("as_grid", [False, True])
def test_batch_equals_separate_images(as_grid):
    faces = grid_faces(10, 14)
    grid = (10, 14) if as_grid else None
    clips = [grid_clip_vertices(scene_rgbd(10, 14, seed=s), INTRINSICS, pose_from_euler(s * 7, 0, 0, (0, 0, -0.2)))
             for s in range(2)]
    clips.append(grid_clip_vertices(scene_rgbd(10, 14, seed=2), INTRINSICS, pose_from_euler(0, 25, 0, (0, -0.6, -0.8))))
    batched = rasterize_both_ways(torch.cat(clips), faces, 10, 14, grid=grid)
    for index, clip in enumerate(clips):
        single = rasterize(clip, faces, 10, 14, grid=grid)
        assert torch.equal(batched.face_ids[index], single.face_ids[0])
        assert torch.equal(batched.barycentrics[index], single.barycentrics[0])
        assert torch.equal(batched.ndc_z[index], single.ndc_z[0])


@pytest.mark.parametrize("band_triangles", [1, 40, 97])
@pytest.mark.parametrize("as_grid", [False, True])
def test_bands_change_nothing(band_triangles, as_grid):
    """Large meshes are rasterized in bands of cell rows (grid) or faces; any band size gives the same."""
    faces = grid_faces(12, 18)
    grid = (12, 18) if as_grid else None
    clips = [grid_clip_vertices(scene_rgbd(12, 18, seed=s), INTRINSICS, pose_from_euler(*pose[:3], pose[3]))
             for s, pose in enumerate([WARP_POSES["low_flight"], WARP_POSES["behind"], WARP_POSES["yaw_left"]])]
    clip = torch.cat(clips)
    whole = visible_faces(clip, faces, 12, 18, grid=grid, with_barycentrics=True)
    banded = visible_faces(clip, faces, 12, 18, grid=grid, with_barycentrics=True, band_triangles=band_triangles,
                           max_candidates=50)
    for ours, theirs in zip(banded, whole):
        assert torch.equal(ours, theirs)
    reference = rasterize_reference(clip, faces, 12, 18)
    assert torch.equal(banded[0], reference.face_ids) and torch.equal(banded[1], reference.ndc_z)
    assert torch.equal(banded[2].view(3, 3, 12, 18).permute(1, 2, 3, 0), reference.barycentrics)


def test_non_finite_vertices_are_never_drawn():
    """NaN or infinite clip coordinates neither crash nor cover pixels (the reference cannot run them)."""
    rgbd = scene_rgbd(10, 14, seed=6)
    clip = grid_clip_vertices(rgbd, INTRINSICS, pose_from_euler(3, 0, 0, (0, 0, -0.2)))
    faces = grid_faces(10, 14)
    clean = rasterize(clip, faces, 10, 14, grid=(10, 14))
    broken = clip.clone()
    broken[0, 30, 0] = float("nan")
    broken[0, 77, 3] = float("inf")
    broken[0, 100] = float("nan")
    fragments = rasterize_both_ways(broken, faces, 10, 14, grid=(10, 14))
    touched = (faces == 30).any(1) | (faces == 77).any(1) | (faces == 100).any(1)
    drawn = fragments.face_ids[fragments.face_ids >= 0]
    assert not touched[drawn].any()
    assert torch.isfinite(fragments.barycentrics).all() and torch.isfinite(fragments.ndc_z).all()
    same = ~touched[clean.face_ids.clamp(min=0)] & (clean.face_ids >= 0)
    assert torch.equal(fragments.face_ids[same], clean.face_ids[same])


def test_interpolation_uses_background_outside_and_blend_inside():
    clip, faces = random_soup(2)
    fragments = rasterize(clip, faces, 13, 17)
    attributes = torch.rand(1, clip.shape[1], 2)
    background = torch.tensor([-5.0, 7.0])
    image = interpolate_attributes(fragments, faces, attributes, background)
    assert image.shape == (1, 2, 13, 17)
    empty = fragments.face_ids[0] < 0
    assert torch.equal(image[0, :, empty], background.view(2, 1).expand(2, int(empty.sum())))
    iy, ix = torch.nonzero(~empty)[0].tolist()
    corners = faces[fragments.face_ids[0, iy, ix]]
    expected = (fragments.barycentrics[0, iy, ix].unsqueeze(-1) * attributes[0, corners]).sum(0)
    assert torch.allclose(image[0, :, iy, ix], expected, atol=1e-6)


def test_gradcheck_wrt_vertex_positions_and_attributes():
    gen = torch.Generator().manual_seed(0)
    # Two triangles away from pixel centres on their edges, in float64.
    clip = torch.tensor([[[-0.83, -0.77, 0.1, 1.0], [0.71, -0.69, 0.2, 1.3], [-0.62, 0.81, 0.3, 0.9],
                          [0.88, 0.79, 0.4, 1.1]]], dtype=torch.float64, requires_grad=True)
    faces = torch.tensor([[0, 1, 2], [1, 3, 2]])
    attributes = torch.rand(1, 4, 3, generator=gen, dtype=torch.float64, requires_grad=True)
    background = torch.zeros(3, dtype=torch.float64)

    def shade(clip_vertices, values):
        return interpolate_attributes(rasterize(clip_vertices, faces, 7, 9), faces, values, background)

    assert torch.autograd.gradcheck(shade, (clip, attributes), eps=1e-7, atol=1e-6)


def test_rejects_bad_shapes():
    with pytest.raises(ValueError, match="B, V, 4"):
        rasterize(torch.zeros(5, 4), torch.zeros(1, 3, dtype=torch.long), 4, 4)
    with pytest.raises(ValueError, match="T, 3"):
        rasterize(torch.zeros(1, 5, 4), torch.zeros(3, dtype=torch.long), 4, 4)
