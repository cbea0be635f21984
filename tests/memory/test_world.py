"""The persistent world memory: a loop closes, only the unseen is refined, finer views replace coarse ones, the
budget holds, and its renderer agrees with the warp."""

import pytest
import torch

from viewgen.data.samples import load_sample
from viewgen.memory import LastFrame
from viewgen.memory.world import WorldMemory, WorldMemoryConfig
from viewgen.pipelines import FlyThroughConfig, FlyThroughPipeline
from viewgen.refiners.classical.weight_free import WeightFreeRefiner
from viewgen.rendering.mesh import grid_faces, grid_vertices
from viewgen.rendering.warp import warp_rgbd
from viewgen.rendering.world_mesh import render_world_mesh

SIZE = (160, 256)  # the flight size: at much lower ones the Sobel edge mask drops most of a frame


@pytest.fixture(scope="module")
def start():
    sample = load_sample(1)
    rgbd = torch.nn.functional.interpolate(sample.rgbd, SIZE, mode="area")
    return rgbd, sample.intrinsics


def _frames(memory):
    """The flight frames the memory's live tiles came from."""
    tiles = memory.tiles
    return set(tiles.info[tiles.live(), tiles.FRAME].tolist())


def _pose(x=0.0, z=0.0):
    pose = torch.eye(4)[:3].clone()
    pose[0, 3], pose[2, 3] = -x, -z  # the camera moved by (x, 0, z)
    return pose


def test_a_world_mesh_renders_as_the_warp_does(start):
    rgbd, intrinsics = start
    points = grid_vertices(rgbd[:, 3:].clamp(0.01, 1), intrinsics[None])[0]
    target = _pose(0.02, 0.05)
    view = render_world_mesh(points, grid_faces(*SIZE), rgbd[0, :3].flatten(1).t(), target, intrinsics, SIZE)
    warped, mask = warp_rgbd(rgbd, torch.eye(4)[:3], target, intrinsics)
    known = mask[0, 0] > 0.99  # the warp's interior (its soft edge mask aside)
    assert float(known.float().mean()) > 0.8
    assert torch.allclose(view.values[0][:, known], warped[0, :3][:, known], atol=2e-3)
    assert torch.allclose(1.0 / view.depth[0, 0][known], warped[0, 3][known], atol=1e-4)


def test_the_push_back_orders_coincident_surfaces_finer_first():
    square = torch.tensor([[-7.0, -7, 3], [-7, 7, 3], [7, -7, 3], [7, 7, 3]])  # wider than the view
    points = torch.cat([square, square])
    faces = torch.tensor([[0, 1, 2], [3, 2, 1], [4, 5, 6], [7, 6, 5]])
    colors = torch.tensor([[1.0]] * 4 + [[0.0]] * 4)  # two copies of one square: coarse (1) then fine (0)
    intrinsics = torch.tensor([0.5, 0.5, 0.5, 0.5])
    push = torch.tensor([0.2] * 4 + [0.01] * 4)  # in proportion to each copy's footprint
    view = render_world_mesh(points, faces, colors, torch.eye(4)[:3], intrinsics, (8, 8), push_back=push)
    assert bool(view.hit.all()) and float(view.values.max()) == 0.0  # the fine copy wins everywhere
    assert torch.allclose(view.depth, torch.full_like(view.depth, 3.0))  # the depth itself is not pushed


def test_only_what_was_never_seen_is_refined_and_kept(start):
    rgbd, intrinsics = start
    memory = WorldMemory()
    memory.reset(rgbd, torch.eye(4)[:3], intrinsics)
    first = memory.vertex_count
    rendered, mask = memory.render(_pose(0.1, 0.0), intrinsics)
    holes = mask < 0.5
    assert 0.0 < float(holes.float().mean()) < 0.5  # the sideways step uncovers the edge of the view
    refined = torch.cat([torch.rand_like(rgbd[:, :3]), rgbd[:, 3:]], 1)
    shown = memory.add(refined, _pose(0.1, 0.0), intrinsics)
    assert torch.equal(shown[holes.expand_as(shown)], refined[holes.expand_as(refined)])
    assert torch.equal(shown[~holes.expand_as(shown)], rendered[~holes.expand_as(rendered)])
    assert _frames(memory) == {0, 1} and 0 < memory.vertex_count - first < first
    with pytest.raises(Exception, match="needs a render first"):
        memory.add(refined, _pose(0.1, 0.0), intrinsics)


def test_an_enlarged_view_is_taken_anew(start):
    rgbd, intrinsics = start
    memory = WorldMemory(WorldMemoryConfig(enlargement_limit=1.5))
    memory.reset(rgbd, torch.eye(4)[:3], intrinsics)
    near = _pose(0.0, 0.9)  # close to the nearest ground (depth 1): everything there looks much larger
    _, mask = memory.render(near, intrinsics)
    bottom = mask[0, 0, -SIZE[0] // 4:]
    assert float(bottom.mean()) < 0.5  # the near ground is magnified past the limit: to be refined anew


def test_a_circle_flight_comes_back_to_what_was_there(start):
    rgbd, intrinsics = start

    def returned(memory):
        pipe = FlyThroughPipeline(refiner=WeightFreeRefiner(), config=FlyThroughConfig(image_size=SIZE),
                                  memory=memory)
        first = pipe.reset(rgbd, intrinsics=intrinsics, controller="circle", period=24, radius=0.3)
        for _ in range(24):
            frame = pipe.step()
        assert torch.allclose(frame.cam_from_world, first.cam_from_world, atol=1e-5)
        return float(-10 * torch.log10(((frame.rgbd[:, :3] - first.rgbd[:, :3]) ** 2).mean()))

    world, last = returned(WorldMemory()), returned(LastFrame())
    assert world >= 25.0 and world > last + 5.0


def test_the_budget_forgets_what_was_seen_least_recently(start):
    rgbd, intrinsics = start
    memory = WorldMemory(WorldMemoryConfig(max_vertices=int(SIZE[0] * SIZE[1] * 1.3)))
    memory.reset(rgbd, torch.eye(4)[:3], intrinsics)
    for step in range(1, 6):
        memory.render(_pose(0.15 * step, 0.0), intrinsics)
        memory.add(rgbd, _pose(0.15 * step, 0.0), intrinsics)  # smooth: its new part is kept
        tiles = memory.tiles
        live = tiles.live()
        assert step in _frames(memory)  # the frame just kept is never forgotten
        older = int(tiles.info[live & (tiles.info[:, tiles.FRAME] != step), tiles.LIVE_VERTICES].sum())
        assert memory.vertex_count <= memory.config.max_vertices or older == 0
    with pytest.raises(ValueError, match="enlargement_limit"):
        WorldMemoryConfig(enlargement_limit=0.5)


def test_a_view_of_nothing_kept_is_all_holes(start):
    rgbd, intrinsics = start
    memory = WorldMemory()
    memory.reset(rgbd, torch.eye(4)[:3], intrinsics)
    behind = torch.tensor([[-1.0, 0, 0, 0], [0, 1, 0, 0], [0, 0, -1, 0]])  # turned around: the frame is behind
    rendered, mask = memory.render(behind, intrinsics)
    assert float(mask.max()) == 0.0 and float(rendered.abs().max()) == 0.0
    shown = memory.add(rgbd, behind, intrinsics)
    assert torch.equal(shown, rgbd) and _frames(memory) == {0, 1}
