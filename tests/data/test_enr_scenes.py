"""Apple's ENR dataset layout: scenes read with their angles, Apple's crop, pairs from one scene per epoch."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from viewgen.data.enr_scenes import EnrSceneDataset, PairSampler


def _write_split(root, scenes: int = 3, views: int = 5, size: int = 128, alpha: bool = False):
    generator = np.random.default_rng(0)
    for s in range(scenes):
        folder = root / f"scene{s:03d}"
        folder.mkdir(parents=True)
        params = {}
        for v in range(views):
            pixels = generator.integers(0, 256, (size, size, 4 if alpha else 3), dtype=np.uint8)
            Image.fromarray(pixels).save(folder / f"{v:05d}.png")
            params[f"{v:05d}"] = {"azimuth": 10.0 * v + s, "elevation": -5.0 * v, "distance": 1.5}
        (folder / "render_params.json").write_text(json.dumps(params))
    return root


def test_views_come_with_their_angles_and_pairs_trim_an_odd_count(tmp_path):
    root = _write_split(tmp_path / "train", alpha=True)
    data = EnrSceneDataset(root)
    assert data.num_scenes == 3 and data.views_per_scene == 4 and len(data) == 12
    item = data[5]  # scene 1, view 1
    assert item["scene"] == "scene001" and item["img"].shape == (3, 128, 128) and item["img"].dtype == torch.float32
    stored = np.asarray(Image.open(root / "scene001" / "00001.png").convert("RGB"), dtype=np.float32) / 255
    assert torch.equal(item["img"], torch.from_numpy(stored).permute(2, 0, 1))
    assert float(item["render_params"]["azimuth"]) == 11.0 and float(item["render_params"]["elevation"]) == -5.0
    assert float(item["render_params"]["distance"]) == 1.5
    assert EnrSceneDataset(root, pairs=False).views_per_scene == 5
    with pytest.raises(IndexError):
        data[12]


def test_larger_images_are_cropped_to_apples_centre_then_resized(tmp_path):
    root = _write_split(tmp_path / "big", scenes=1, views=2, size=160)
    item = EnrSceneDataset(root)[0]
    stored = np.asarray(Image.open(root / "scene000" / "00000.png"), dtype=np.float32)[16:144, 16:144] / 255
    assert torch.equal(item["img"], torch.from_numpy(stored).permute(2, 0, 1))
    assert EnrSceneDataset(root, image_size=(64, 64))[0]["img"].shape == (3, 64, 64)


def test_broken_splits_are_one_line(tmp_path):
    with pytest.raises(OSError, match="is not a folder"):
        EnrSceneDataset(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no scene folders with render_params.json"):
        EnrSceneDataset(tmp_path / "empty")
    root = _write_split(tmp_path / "uneven", scenes=2, views=4)
    (root / "scene001" / "00003.png").unlink()
    with pytest.raises(ValueError, match="same number of views"):
        EnrSceneDataset(root)
    root = _write_split(tmp_path / "noangle", scenes=1, views=2)
    (root / "scene000" / "render_params.json").write_text(json.dumps({"00000": {"azimuth": 1.0}}))
    with pytest.raises(ValueError, match="no azimuth and elevation for 00000.png"):
        EnrSceneDataset(root)


def test_pairs_are_two_views_of_one_scene_each_view_once_per_epoch_and_seeded():
    sampler = PairSampler(num_scenes=3, views_per_scene=4, seed=7)
    order = list(sampler)
    assert len(order) == len(sampler) == 12 and sorted(order) == list(range(12))
    assert all(order[k] // 4 == order[k + 1] // 4 for k in range(0, 12, 2))  # each pair from one scene
    assert list(PairSampler(3, 4, seed=7)) == order  # the same seed and epoch: the same order (resumable)
    sampler.set_epoch(1)
    assert list(sampler) != order
    with pytest.raises(ValueError, match="pairs need"):
        PairSampler(0, 4)


def test_smaller_images_keep_their_whole_centre_square(tmp_path):
    root = _write_split(tmp_path / "small", scenes=1, views=2, size=48)
    item = EnrSceneDataset(root, image_size=(48, 48))[0]
    stored = np.asarray(Image.open(root / "scene000" / "00000.png"), dtype=np.float32) / 255
    assert torch.equal(item["img"], torch.from_numpy(stored).permute(2, 0, 1))  # no black border


def test_pair_batches_share_each_global_batch_among_ranks():
    from viewgen.data.enr_scenes import PairBatchSampler

    whole = PairBatchSampler(num_scenes=6, views_per_scene=4, pairs_per_batch=4, seed=3)
    halves = [PairBatchSampler(6, 4, 2, seed=3, rank=rank, world_size=2) for rank in (0, 1)]
    assert len(whole) == len(halves[0]) == 3  # 12 pairs, 4 per global batch
    for sampler in (whole, *halves):
        sampler.set_epoch(2)
    for batch, first, second in zip(whole, *halves):
        assert batch == first + second
        assert all(batch[k] // 4 == batch[k + 1] // 4 for k in range(0, len(batch), 2))  # pairs of one scene
    resumed = PairBatchSampler(6, 4, 4, seed=3)
    resumed.set_epoch(2)
    resumed.start_batch = 1
    assert list(resumed) == list(whole)[1:]
    with pytest.raises(ValueError, match="do not fill one batch"):
        PairBatchSampler(2, 2, 2, world_size=2)
    with pytest.raises(ValueError, match="rank"):
        PairBatchSampler(2, 2, 1, rank=2, world_size=2)


def test_lightning_gives_the_pair_batches_a_new_order_every_epoch():
    from lightning.fabric.utilities.data import _set_sampler_epoch

    from viewgen.data.enr_scenes import PairBatchSampler
    from viewgen.training.loader import ResumableLoader

    loader = ResumableLoader(list(range(24)), PairBatchSampler(6, 4, 2, seed=1))
    first = list(loader.batch_sampler)
    _set_sampler_epoch(loader, 1)  # what Lightning calls at the start of every epoch
    assert list(loader.batch_sampler) != first and loader.state_dict()["epoch"] == 1
    huge = PairBatchSampler(6, 4, 2, seed=2**64 - 1)  # the largest seed the CLI takes
    assert len(list(huge)) == 6  # 12 pairs, 2 per batch
