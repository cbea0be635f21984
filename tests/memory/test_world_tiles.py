"""The persistent world's tile storage: tiles cut from a frame, gathered back, faces forgotten with exact budget
counts, tiles evicted and the tables compacted without changing what is gathered, and the view culling."""

import pytest
import torch

from viewgen.data.samples import load_sample
from viewgen.memory.world import in_view
from viewgen.memory.world_tiles import TILE_PIXELS, TileStore, new_tiles, ranges
from viewgen.rendering.world_mesh import visible_faces

SIZE = (96, 160)


@pytest.fixture(scope="module")
def frame():
    sample = load_sample(1)
    return torch.nn.functional.interpolate(sample.rgbd, SIZE, mode="area"), sample.intrinsics


def _store(frame, frames=3):
    """A store with the whole frame, then ``frames - 1`` copies of its left half seen from cameras stepped right;
    compacted as soon as a third is dead."""
    rgbd, intrinsics = frame
    store = TileStore(compact_min_rows=0)
    everything = torch.ones(SIZE, dtype=torch.bool)
    left = everything.clone()
    left[:, SIZE[1] // 2:] = False
    for index in range(frames):
        pose = torch.eye(4)[:3].clone()
        pose[0, 3] = -0.05 * index
        store.add(new_tiles(rgbd, pose, intrinsics, everything if index == 0 else left), index)
    return store


def _used_vertices(store):
    """Brute force: per tile, the vertices its live faces use."""
    faces = store.faces.values[store.face_alive.values[:, 0]].long()
    counts = torch.zeros(store.info.shape[0], dtype=torch.long)
    for tile in torch.unique(faces[:, 3]).tolist():
        counts[tile] = torch.unique(faces[faces[:, 3] == tile, :3]).numel()
    return counts


def test_ranges_is_a_concatenation_of_aranges():
    starts, counts = torch.tensor([5, 0, 9, 2]), torch.tensor([3, 0, 2, 1])
    expected = torch.cat([torch.arange(s, s + c) for s, c in zip(starts.tolist(), counts.tolist())])
    assert torch.equal(ranges(starts, counts), expected)
    assert ranges(torch.tensor([], dtype=torch.long), torch.tensor([], dtype=torch.long)).numel() == 0


def test_a_frame_is_cut_into_tiles_of_its_pixel_blocks(frame):
    rgbd, intrinsics = frame
    tiles = new_tiles(rgbd, torch.eye(4)[:3], intrinsics, torch.ones(SIZE, dtype=torch.bool))
    blocks = -(-SIZE[0] // TILE_PIXELS) * -(-SIZE[1] // TILE_PIXELS)
    assert tiles.count == blocks and tiles.vertices.shape[1] == 7
    assert torch.equal(tiles.vertex_tile[tiles.faces], tiles.face_tile[:, None].expand(-1, 3))  # a tile's own rows
    assert bool((tiles.face_tile[1:] >= tiles.face_tile[:-1]).all())  # faces grouped by tile
    assert 0.7 < float(tiles.covered.float().mean()) < 1.0  # all but the stretched depth edges
    assert torch.allclose(tiles.vertices[:, 3:6].amin(0), rgbd[0, :3].amin((1, 2)))  # colours are the frame's


def test_new_faces_need_a_corner_in_the_new_pixels(frame):
    rgbd, intrinsics = frame
    new = torch.zeros(SIZE, dtype=torch.bool)
    new[40:50, 60:70] = True
    tight = new_tiles(rgbd, torch.eye(4)[:3], intrinsics, new)
    ringed = new_tiles(rgbd, torch.eye(4)[:3], intrinsics, new, dilation=1)
    assert ringed.faces.shape[0] > tight.faces.shape[0]  # the ring closes the crack to what is kept
    ring = torch.zeros(SIZE, dtype=torch.bool)
    ring[39:51, 59:71] = True
    assert bool((tight.covered <= new).all()) and bool((ringed.covered <= ring).all())  # one pixel out, no more
    assert int(ringed.covered.sum()) > int(tight.covered.sum())


def test_gathering_every_tile_gives_back_the_frames_mesh(frame):
    store = _store(frame, frames=1)
    everything = torch.arange(store.info.shape[0])
    mesh = store.gather(everything)
    rgbd, intrinsics = frame
    tiles = new_tiles(rgbd, torch.eye(4)[:3], intrinsics, torch.ones(SIZE, dtype=torch.bool))
    assert torch.equal(mesh.vertices, tiles.vertices) and torch.equal(mesh.faces, tiles.faces)
    assert torch.equal(mesh.face_rows, torch.arange(tiles.faces.shape[0]))


def test_forgotten_faces_keep_the_budget_counts_exact(frame):
    store = _store(frame)
    before = store.vertex_count
    generator = torch.Generator().manual_seed(0)
    rows = torch.randperm(store.faces.count, generator=generator)[:store.faces.count // 5]
    store.forget_faces(torch.sort(rows).values)
    assert torch.equal(store.info[:, store.LIVE_VERTICES], _used_vertices(store))
    assert store.vertex_count < before
    live_faces = torch.bincount(store.faces.values[store.face_alive.values[:, 0], 3].long(),
                                minlength=store.info.shape[0])
    assert torch.equal(store.info[:, store.LIVE_FACES], live_faces)


def test_eviction_and_compaction_leave_the_rest_as_it_was(frame):
    store = _store(frame, frames=4)
    frames = store.info[:, store.FRAME]
    before = store.gather(torch.nonzero((frames == 0) | (frames == 3)).squeeze(1))
    rows_before = store.vertices.count
    forgotten = torch.nonzero(frames[store.faces.values[:, 3].long()] == 3).squeeze(1)[::2]
    store.forget_faces(forgotten)
    assert store.vertices.count == rows_before  # not compacted yet: little is dead
    store.evict(torch.nonzero((frames == 1) | (frames == 2)).squeeze(1))
    assert store.vertices.count < rows_before  # compacted: the dead rows outgrew a third of the live ones
    assert set(store.info[store.live(), store.FRAME].tolist()) == {0, 3}
    assert torch.equal(store.info[:, store.LIVE_VERTICES], _used_vertices(store))
    after = store.gather(torch.arange(store.info.shape[0]))
    still = ~torch.isin(before.face_rows, forgotten)
    # the same faces, in the same order, with the same corners (renumbered rows aside)
    assert torch.equal(after.vertices[after.faces], before.vertices[before.faces][still])


def test_the_view_culling_keeps_every_tile_with_a_face_in_view(frame):
    store = _store(frame)
    rgbd, intrinsics = frame
    generator = torch.Generator().manual_seed(1)
    everything = torch.arange(store.info.shape[0])
    mesh = store.gather(everything)
    tile_of = store.faces.values[mesh.face_rows, 3].long()
    for _ in range(6):
        angle = float(torch.rand((), generator=generator)) * 2.0 - 1.0
        pose = torch.eye(4)[:3].clone()
        pose[:, :3] = torch.tensor([[torch.cos(torch.tensor(angle)), 0, torch.sin(torch.tensor(angle))], [0, 1, 0],
                                    [-torch.sin(torch.tensor(angle)), 0, torch.cos(torch.tensor(angle))]])
        pose[:, 3] = torch.randn(3, generator=generator) * 0.3
        points = mesh.vertices[:, :3] @ pose[:, :3].t() + pose[:, 3]
        needed = torch.unique(tile_of[visible_faces(points, mesh.faces, intrinsics)])
        kept = in_view(store, pose, intrinsics)
        assert bool(torch.isin(needed, kept).all())


def test_tables_change_in_inference_mode_and_outside(frame):
    rgbd, intrinsics = frame
    with torch.inference_mode():
        store = _store(frame, frames=2)
    store.mark_seen(torch.tensor([0, 1]), 7)  # made in inference mode, changed outside it
    assert int(store.info[store.faces.values[0, 3], store.LAST_SEEN]) == 7
    store.add(new_tiles(rgbd, torch.eye(4)[:3], intrinsics, torch.ones(SIZE, dtype=torch.bool)), 8)
    assert 8 in store.info[:, store.FRAME].tolist()
