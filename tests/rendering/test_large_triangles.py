"""Large triangles (boxes over the whole screen, slivers) are enumerated row by row: still bit-exact
with the reference, and the work and memory of the visibility pass stay bounded by the image."""

import pytest
import torch
import torch.nn.functional as F

import viewgen.rendering.raster.visibility as visibility
from tests.helpers.scenes import grid_clip_vertices, pose_from_euler, scene_rgbd
from viewgen.rendering import grid_faces, rasterize_reference
from viewgen.rendering.raster.spans import LARGE_BOX_PIXELS, bounded_runs, expand_runs
from viewgen.rendering.raster.triangle_table import MeshLayout, triangle_table, vertex_pixel_bounds

INTRINSICS = torch.tensor([0.8, 1.28, 0.5, 0.5])
# The camera has flown into the terrain: dozens of triangles straddle the eye plane (whole-screen
# boxes) and they cover about half of the image.
INSIDE_TERRAIN = pose_from_euler(0, 10, 0, (0, 0, -1.3))


@pytest.fixture
def listed_sizes(monkeypatch):
    """Sizes of the candidate lists the visibility pass tests (beyond each triangle's first pixel)."""
    sizes = []
    fold = visibility._fold_listed

    def counting(zkeys, table, faces, candidates, *args):
        sizes.append(len(candidates[0]))
        fold(zkeys, table, faces, candidates, *args)

    monkeypatch.setattr(visibility, "_fold_listed", counting)
    return sizes


def box_counts(clip, faces, height, width):
    """Candidates of every triangle's box, ``[T]``."""
    planes = torch.stack(clip.unbind(-1))
    layout = MeshLayout(batch=clip.shape[0], num_faces=faces.shape[0], grid=None)
    table = triangle_table(planes, vertex_pixel_bounds(planes, height, width), faces, layout,
                           slice(0, faces.shape[0]), height * width)
    return table.counts.reshape(-1).long()


def assert_matches_reference(result, reference, height, width):
    face_ids, ndc_z, weights = result
    assert torch.equal(face_ids, reference.face_ids)
    assert torch.equal(ndc_z, reference.ndc_z)
    assert torch.equal(weights.view(3, -1, height, width).permute(1, 2, 3, 0), reference.barycentrics)


def large_soup(seed, num_faces=30, num_vertices=40):
    """Triangles spanning several screens, slivers, vertices behind the eye and near ``w = 0``."""
    gen = torch.Generator().manual_seed(seed)
    xy = (torch.rand(num_vertices, 2, generator=gen) - 0.5) * 8
    w = torch.rand(num_vertices, 1, generator=gen) * 2 + 0.05
    w[: num_vertices // 4] *= -1
    w[num_vertices // 4: num_vertices // 3] *= 1e-3
    z = (torch.rand(num_vertices, 1, generator=gen) * 2.4 - 1.2) * w
    clip = torch.cat([xy * w, z, w], dim=1).unsqueeze(0)
    faces = torch.randint(0, num_vertices, (num_faces, 3), generator=gen)
    slivers = torch.stack([faces[:, 0], faces[:, 1], faces[:, 0]], 1)[:5]
    return clip, torch.cat([faces, slivers])


def test_camera_inside_terrain_matches_reference_with_few_candidates(listed_sizes):
    height, width = 20, 30
    clip = grid_clip_vertices(scene_rgbd(height, width, seed=3), INTRINSICS, INSIDE_TERRAIN)
    faces = grid_faces(height, width)
    result = visibility.visible_faces(clip, faces, height, width, grid=(height, width), with_barycentrics=True)
    assert_matches_reference(result, rasterize_reference(clip, faces, height, width), height, width)
    counts = box_counts(clip, faces, height, width)
    large = counts > LARGE_BOX_PIXELS
    assert large.sum() >= 20  # whole-screen boxes
    assert (large[result[0].clamp(min=0)] & (result[0] >= 0)).sum() >= height * width // 4  # and they are seen
    # Row spans list a fraction of those boxes' candidates.
    assert sum(listed_sizes) < 0.2 * int(counts[large].sum())


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("large_box_pixels", [2, LARGE_BOX_PIXELS])
def test_large_soups_match_reference(seed, large_box_pixels):
    clip, faces = large_soup(seed)
    result = visibility.visible_faces(clip, faces, 13, 17, with_barycentrics=True, large_box_pixels=large_box_pixels)
    assert_matches_reference(result, rasterize_reference(clip, faces, 13, 17), 13, 17)


@pytest.mark.parametrize("pose", [(0, 0, 0, (0, 0, -0.3)), (-12, 0, 0, (0.05, 0, -0.1)), (35, 5, 0, (0, 0, -0.2)),
                                  (0, 25, 0, (0, -0.6, -0.8)), (170, 0, 0, (0, 0, 0)), (0, 10, 0, (0, 0, -1.3))])
def test_every_box_by_rows_matches_reference(pose):
    """With row spans for every box of more than two pixels, warps of all kinds stay bit-exact."""
    rgbd = scene_rgbd(12, 18, seed=3)
    clip = grid_clip_vertices(rgbd, INTRINSICS, pose_from_euler(*pose[:3], pose[3]))
    faces = grid_faces(12, 18)
    result = visibility.visible_faces(clip, faces, 12, 18, grid=(12, 18), with_barycentrics=True,
                                      large_box_pixels=2)
    assert_matches_reference(result, rasterize_reference(clip, faces, 12, 18), 12, 18)


def test_lists_stay_within_max_candidates(listed_sizes):
    height, width = 20, 30
    clip = grid_clip_vertices(scene_rgbd(height, width, seed=3), INTRINSICS, INSIDE_TERRAIN)
    faces = grid_faces(height, width)
    whole = visibility.visible_faces(clip, faces, height, width, with_barycentrics=True)
    listed_sizes.clear()
    chunked = visibility.visible_faces(clip, faces, height, width, with_barycentrics=True, max_candidates=40)
    assert max(listed_sizes) <= max(40, LARGE_BOX_PIXELS, width)
    for ours, theirs in zip(chunked, whole):
        assert torch.equal(ours, theirs)


def far_pose_scene(height, width):
    """The coast sample at ``height x width`` and the autopilot's pose 100 frames on, a warp
    whose target camera sits among (and past) the nearest terrain."""
    from viewgen.control.fly_dynamic import FlyDynamic
    from viewgen.data.samples import load_sample

    sample = load_sample(1)
    pilot = FlyDynamic(sample.intrinsics, torch.eye(4)[:3])
    for _ in range(100):
        pose = pilot.next(sample.rgbd)
    rgbd = F.interpolate(sample.rgbd, size=(height, width), mode="area")
    return grid_clip_vertices(rgbd, sample.intrinsics, pose)


def test_far_pose_tests_few_candidates_and_matches_box_enumeration(listed_sizes):
    """Before row spans this warp listed every pixel of hundreds of whole-screen boxes (171 M
    candidates, 25 s and 6 GB at 320x512); the box enumeration still gives the same result."""
    height, width = 40, 64
    clip = far_pose_scene(height, width)
    faces = grid_faces(height, width)
    counts = box_counts(clip, faces, height, width)
    assert (counts > LARGE_BOX_PIXELS).sum() >= 30
    by_rows = visibility.visible_faces(clip, faces, height, width, grid=(height, width), with_barycentrics=True)
    assert sum(listed_sizes) <= height * width
    by_boxes = visibility.visible_faces(clip, faces, height, width, grid=(height, width), with_barycentrics=True,
                                        large_box_pixels=height * width)
    for ours, theirs in zip(by_rows, by_boxes):
        assert torch.equal(ours, theirs)


def test_bounded_runs_and_expand_runs():
    counts = torch.tensor([3, 0, 5, 1, 9, 2])
    runs = bounded_runs(counts, 6)
    assert runs[0][0] == 0 and runs[-1][1] == len(counts)
    assert all(stop > start for start, stop in runs)
    assert all(int(counts[start:stop].sum()) <= 6 or stop == start + 1 for start, stop in runs)
    run, offset = expand_runs(counts)
    assert run.tolist() == [0, 0, 0, 2, 2, 2, 2, 2, 3] + [4] * 9 + [5, 5]
    assert offset.tolist() == [0, 1, 2, 0, 1, 2, 3, 4, 0] + list(range(9)) + [0, 1]
