"""Single photos for Infinite Nature Zero: the item contract, items as pure functions of (seed, k), the flip, the sky
masks of the LHQ layout (DeepLab labels or 0/255), one-line errors, and the synthetic world's views with a real
canvas."""

import math

import numpy as np
import pytest
import torch
from PIL import Image

from viewgen.data.datasets import PhotoFolder, SyntheticPhotos
from viewgen.data.datasets.single_photos import synthetic_render_geometry
from viewgen.data.datasets.synthetic_windows import TRAIN_WORLD_SEEDS
from viewgen.data.photo_folders import CLOUD_LABEL, SKY_LABEL, read_sky_mask
from viewgen.data.synthetic.clips import ground_truth_clip
from viewgen.data.synthetic.presets import PRESET_NAMES

SIZE = 16  # the crop; photos are 32 x 32, so every resize halves (and commutes with a flip)
CANVAS = 24
KEYS = {"rgbd": (4, SIZE, SIZE), "rgbd_full": (4, CANVAS, CANVAS), "sky_offset": (), "pixel_matrix": (3, 3),
        "full_pixel_matrix": (3, 3)}


def _disparity(seed: int, side: int = 32) -> np.ndarray:
    """Near ground at the bottom, far sky (raw disparity near 0) in the top quarter, some texture."""
    rows = np.linspace(0.0, 1.0, side, dtype=np.float32)[:, None] ** 2
    noise = np.random.default_rng(seed).uniform(0, 0.05, (side, side)).astype(np.float32)
    return np.where(np.arange(side)[:, None] < side // 4, 0.0, rows + noise).astype(np.float32) + 0.01


def _photo(root, stem: str, seed: int, suffix: str = ".png", side: int = 32) -> None:
    pixels = np.random.default_rng(seed).integers(0, 256, (side, side, 3), dtype=np.uint8)
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "midas-disp").mkdir(exist_ok=True)
    Image.fromarray(pixels).save(root / "images" / f"{stem}{suffix}")
    np.save(root / "midas-disp" / f"{stem}.npy", _disparity(seed, side))


def _sky_mask(root, stem: str, values: np.ndarray) -> None:
    (root / "sky_mask").mkdir(exist_ok=True)
    Image.fromarray(values.astype(np.uint8)).save(root / "sky_mask" / f"{stem}.png")


@pytest.fixture
def folder(tmp_path):
    root = tmp_path / "lhq"
    for number in range(3):
        _photo(root, f"photo{number}", number, ".jpg" if number == 2 else ".png")
    return root


def _equal(first: dict, second: dict) -> bool:
    return all(torch.equal(first[key], second[key]) for key in KEYS)


def test_items_follow_the_contract_and_batch(folder):
    photos = PhotoFolder(folder, size=SIZE)
    assert len(photos) == 3
    item = photos[0]
    assert {key: tuple(value.shape) for key, value in item.items()} == KEYS
    assert all(value.dtype == torch.float32 for value in item.values())
    assert 0.0 <= float(item["rgbd"].min()) and float(item["rgbd"].max()) <= 1.0
    assert float(item["pixel_matrix"][0, 0]) == pytest.approx(SIZE / (2 * math.tan(math.radians(27.5))))
    assert float(item["full_pixel_matrix"][0, 2] - item["pixel_matrix"][0, 2]) == (CANVAS - SIZE) / 2
    batch = next(iter(torch.utils.data.DataLoader(photos, batch_size=2)))
    assert batch["rgbd"].shape == (2, 4, SIZE, SIZE) and batch["sky_offset"].shape == (2,)


def test_an_item_is_a_pure_function_of_seed_and_index(folder):
    photos = PhotoFolder(folder, size=SIZE, seed=5)
    assert _equal(photos[4], PhotoFolder(folder, size=SIZE, seed=5)[4])
    still = PhotoFolder(folder, size=SIZE, flip=False)
    assert _equal(still[1], still[1 + len(still)]) and _equal(still[1], still[1 + 7 * len(still)])
    assert not _equal(still[0], still[1])
    patterns = [[PhotoFolder(folder, size=SIZE, seed=seed).flipped(k) for k in range(40)] for seed in (0, 1)]
    assert patterns[0] != patterns[1] and all(5 < sum(pattern) < 35 for pattern in patterns)
    assert not any(still.flipped(k) for k in range(40))
    with pytest.raises(IndexError):
        photos[-1]


def test_flip_mirrors_image_disparity_and_sky_together(folder):
    # photo 0: sky in the top-left only, whose disparity differs from the top-right's (a mask left unflipped
    # would pick the other side's disparity, and another sky_offset)
    top_left = (np.arange(32)[:, None] < 8) & (np.arange(32)[None] < 16)
    _sky_mask(folder, "photo0", np.where(top_left, SKY_LABEL, 3))
    disparity = _disparity(0)
    disparity[:8, 16:] = 0.03
    np.save(folder / "midas-disp" / "photo0.npy", disparity)
    flipping, still = PhotoFolder(folder, size=SIZE, seed=2), PhotoFolder(folder, size=SIZE, seed=2, flip=False)
    flipped = [k for k in range(12) if flipping.flipped(k)]
    kept = [k for k in range(12) if not flipping.flipped(k)]
    assert flipped and kept
    for k in flipped:
        item, plain = flipping[k], still[k]
        # OpenCV's area resize sums in its own order: a mirrored input agrees to float32 rounding
        assert torch.allclose(item["rgbd"], plain["rgbd"].flip(-1), atol=1e-6, rtol=0)
        assert torch.allclose(item["rgbd_full"], plain["rgbd_full"].flip(-1), atol=1e-6, rtol=0)
        assert not torch.allclose(item["rgbd"], plain["rgbd"], atol=1e-3)
        if k % 3 == 0:  # photo 0, the masked one (without a mask, rounding near the 0.08 threshold may move it)
            assert float(item["sky_offset"]) == pytest.approx(float(plain["sky_offset"]), abs=1e-6)
    assert any(k % 3 == 0 for k in flipped)
    assert all(_equal(flipping[k], still[k]) for k in kept)


def test_sky_masks_are_deeplab_labels_or_binary(tmp_path, folder):
    top = np.arange(32)[:, None] < 8
    labels = np.where(top, SKY_LABEL, 21) * np.ones((1, 32))
    labels[:8, :4] = CLOUD_LABEL
    _sky_mask(tmp_path, "labels", labels)
    _sky_mask(tmp_path, "binary", np.where(top, 255, 0) * np.ones((1, 32)))
    _sky_mask(tmp_path, "other", np.where(top, 150, 255) * np.ones((1, 32)))  # 255 among labels: not binary
    expected = np.broadcast_to(top, (32, 32))
    assert np.array_equal(read_sky_mask(tmp_path / "sky_mask" / "labels.png"), expected)
    assert np.array_equal(read_sky_mask(tmp_path / "sky_mask" / "binary.png"), expected)
    assert not read_sky_mask(tmp_path / "sky_mask" / "other.png").any()
    photos = PhotoFolder(folder, size=SIZE, flip=False)
    assert float(photos[0]["sky_offset"]) > 0  # no mask: low disparity is sky
    _sky_mask(folder, "photo0", np.where(top, 150, 0) * np.ones((1, 32)))  # labels, none of them sky
    _sky_mask(folder, "photo1", np.where(top, 255, 0) * np.ones((1, 32)))  # binary: the top is sky
    _sky_mask(folder, "photo2", np.where(top, CLOUD_LABEL, 7) * np.ones((1, 32)))  # clouds are sky
    assert float(photos[0]["sky_offset"]) == 0.0
    assert float(photos[1]["sky_offset"]) > 0 and float(photos[2]["sky_offset"]) > 0


def test_a_split_folder_is_used_when_there_is_one(tmp_path):
    _photo(tmp_path / "root" / "train", "only", 4)
    photos = PhotoFolder(tmp_path / "root", size=SIZE)
    assert len(photos) == 1 and photos.files.images[0].parent == tmp_path / "root" / "train" / "images"


def _one_line_error(make, match: str) -> None:
    with pytest.raises(ValueError, match=match) as caught:
        make()
    assert "\n" not in str(caught.value)


def test_bad_folders_are_one_line_errors(tmp_path, folder):
    _one_line_error(lambda: PhotoFolder(tmp_path / "nowhere"), "photo folder .*nowhere does not exist")
    (tmp_path / "empty" / "images").mkdir(parents=True)
    _one_line_error(lambda: PhotoFolder(tmp_path / "empty"), "no images in")
    (folder / "midas-disp" / "photo1.npy").unlink()
    _one_line_error(lambda: PhotoFolder(folder),
                    r"1 of 3 images have no disparity under .*midas-disp: run `viewgen prepare-photos .*lhq "
                    r"--depth NAME`")
    _photo(folder, "photo1", 1, ".jpeg")
    _one_line_error(lambda: PhotoFolder(folder), "photo1.jpeg and photo1.png .* share the stem 'photo1'")


def test_unreadable_or_mismatched_files_are_named(folder):
    photos = PhotoFolder(folder, size=SIZE)
    (folder / "images" / "photo0.png").write_bytes(b"not a png")
    _one_line_error(lambda: photos[0], r"cannot read the photo .*photo0\.png")
    (folder / "midas-disp" / "photo1.npy").write_bytes(b"not an array")
    _one_line_error(lambda: photos[1], r"cannot read the disparity file .*photo1\.npy")
    np.save(folder / "midas-disp" / "photo2.npy", np.ones((16, 32), np.float32))
    _one_line_error(lambda: photos[2], r"photo2\.npy is 16x32 but its photo photo2\.jpg is 32x32")
    _photo(folder, "photo1", 1)
    _sky_mask(folder, "photo1", np.zeros((8, 8)))
    _one_line_error(lambda: photos[1], r"photo1\.png is 8x8 but its photo photo1\.png is 32x32")
    (folder / "sky_mask" / "photo1.png").write_bytes(b"broken")
    _one_line_error(lambda: photos[1], r"cannot read the sky mask .*photo1\.png")


def test_the_synthetic_render_holds_the_canvas_and_the_crop_spans_55_degrees():
    side, intrinsics = synthetic_render_geometry(128)
    assert side == 192 and float(intrinsics[2]) == float(intrinsics[3]) == 0.5
    assert 0.5 / float(intrinsics[0]) == pytest.approx(1.5 * math.tan(math.radians(27.5)), rel=1e-6)
    odd, _ = synthetic_render_geometry(18)  # canvas 27: one more pixel so the crop is centred
    assert odd == 28


def test_synthetic_photos_are_real_deterministic_views_of_training_worlds():
    photos = SyntheticPhotos(size=SIZE, num_items=6, seed=1)
    assert len(photos) == 6 and photos.render_side == CANVAS
    item = photos[1]
    assert {key: tuple(value.shape) for key, value in item.items()} == KEYS
    assert _equal(item, SyntheticPhotos(size=SIZE, num_items=6, seed=1)[1])
    full, crop = item["rgbd_full"], item["rgbd"]
    assert 0.0 <= float(full[3].min()) and float(full[3].max()) <= 1.0 and float(item["sky_offset"]) > 0
    margin = (CANVAS - SIZE) // 2
    assert torch.equal(full[:, margin:margin + SIZE, margin:margin + SIZE], crop)  # the crop is the canvas's centre
    mirrored = torch.arange(margin + 1, 2 * margin + 1)  # what reflect padding would have put in the margin
    assert not torch.equal(full[:3, :margin], full[:3, mirrored].flip(1))
    assert not torch.equal(full[:3, :, :margin], full[:3, :, mirrored].flip(2))
    for index in range(4):
        preset, world_seed, _, _ = photos.plan(index)
        assert preset == PRESET_NAMES[index % 3] and TRAIN_WORLD_SEEDS[0] <= world_seed < TRAIN_WORLD_SEEDS[1]
    flipped = next(k for k in range(20) if photos.flipped(k))
    still = SyntheticPhotos(size=SIZE, num_items=6, seed=1, flip=False)
    assert torch.allclose(photos[flipped]["rgbd_full"], still[flipped]["rgbd_full"].flip(-1), atol=1e-6, rtol=0)


def test_a_synthetic_crop_is_the_55_degree_view_of_its_pose():
    photos = SyntheticPhotos(size=SIZE, num_items=3, seed=1, flip=False)
    preset, world_seed, flight_seed, frame = photos.plan(1)
    focal = 1 / (2 * math.tan(math.radians(27.5)))
    view = ground_truth_clip(preset, flight_seed, SIZE, SIZE, 1, world_seed, first_frame=frame,
                             intrinsics=torch.tensor([focal, focal, 0.5, 0.5]))
    assert torch.allclose(photos[1]["rgbd"][:3], view.rgbd[0, :3], atol=1e-4)
    with pytest.raises(ValueError, match="positive finite focal lengths"):
        ground_truth_clip(preset, 0, SIZE, SIZE, 1, intrinsics=torch.tensor([0.0, 1.0, 0.5, 0.5]))
