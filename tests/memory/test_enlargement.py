"""The weight-free flight's reading of frame 0 in a view: how much it is enlarged, seen from behind, or thin."""

import torch

from viewgen.memory.enlargement import close_lines, enlargement, seen_from_behind, thin_parts


def _identity_source(height: int, width: int) -> torch.Tensor:
    """``[1, 2, H, W]``: each view pixel's own coordinates (frame 0 at its own size)."""
    rows, cols = torch.meshgrid(torch.arange(height, dtype=torch.float32), torch.arange(width, dtype=torch.float32),
                                indexing="ij")
    return torch.stack([cols, rows])[None]


def test_frame_zero_at_its_own_size_and_twice_as_large():
    source = _identity_source(20, 30)
    known = torch.ones(1, 1, 20, 30, dtype=torch.bool)
    torch.testing.assert_close(enlargement(source, known), torch.ones(1, 1, 20, 30))
    torch.testing.assert_close(enlargement(source / 2, known), torch.full((1, 1, 20, 30), 2.0))
    assert not bool(seen_from_behind(source, known).any())


def test_a_surface_seen_mirrored_is_seen_from_behind_where_it_was_measured():
    source = _identity_source(20, 30)
    known = torch.ones(1, 1, 20, 30, dtype=torch.bool)
    mirrored = source.clone()
    mirrored[:, 0, :, 10:20] = 29.0 - mirrored[:, 0, :, 10:20]  # ten columns seen mirrored: from behind
    behind = seen_from_behind(mirrored, known)
    assert bool(behind[..., :-1, 11:19].all()) and not bool(behind[..., :, :9].any() or behind[..., :, 21:].any())
    known[..., :, 14] = False  # beside an unknown column the differences are unit steps: nothing is proved there
    assert not bool(seen_from_behind(mirrored, known)[..., :, 13:15].any())


def test_a_fold_one_pixel_wide_is_not_taken_for_a_surface_seen_from_behind():
    source = _identity_source(20, 30)
    source[:, 0, :, 15] = 13.0  # one column steps back: its Jacobian is mirrored, an occlusion edge's fold
    assert not bool(seen_from_behind(source, torch.ones(1, 1, 20, 30, dtype=torch.bool)).any())


def test_thin_parts_of_what_is_shown_are_found():
    shown = torch.zeros(1, 1, 20, 30, dtype=torch.bool)
    shown[..., 2:12, 2:12] = True  # a block of frame 0
    shown[..., 15, :] = True  # a one-pixel sliver across the view
    shown[..., 2:12, 20:22] = True  # a two-pixel one
    thin = thin_parts(shown)
    assert bool(thin[..., 15, :].all() and thin[..., 2:12, 20:22].all())
    assert not bool(thin[..., 2:12, 2:12].any())


def test_stretched_triangle_edges_do_not_keep_frame_zero():
    enlargement = torch.full((1, 1, 20, 30), 90.0)
    enlargement[..., 10, :] = 2.0  # a one-pixel line where the Jacobian reads low, amid a fan stretched 90x
    enlargement[..., :, :5] = 1.0  # frame 0 at its own size on the left
    closed = close_lines(enlargement)
    assert bool((closed[..., 10, 8:] == 90.0).all())  # the line is replaced with its neighbours
    assert torch.equal(closed[..., :, :5], enlargement[..., :, :5])  # the fan's outline stays where it was
    assert torch.equal(closed[..., :, 5:], torch.full_like(closed[..., :, 5:], 90.0))
