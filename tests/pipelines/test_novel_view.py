"""NovelViewPipeline on a tiny random model: image inputs, novel views, the orbit, the pair forward, loading."""

import pytest
import torch
from PIL import Image

from viewgen import NovelViewPipeline, devices
from viewgen.networks.enr import ENRConfig, EquivariantRenderer
from viewgen.pipelines.novel_view import pair_partners

TINY = ENRConfig(image_size=(32, 32), encoder_2d=("res8", "down16", "res16"), inverse_projection=(32, 64),
                 encoder_3d=("res4", "down8", "up4", "res4"), projection=(16, 16))


@pytest.fixture(scope="module")
def pipe():
    torch.manual_seed(0)
    return NovelViewPipeline(EquivariantRenderer(TINY))


def test_images_come_as_tensors_paths_or_pil_and_are_centre_cropped(pipe, tmp_path):
    torch.manual_seed(1)
    wide = torch.rand(3, 40, 60)
    prepared = pipe.prepare(wide)
    assert prepared.shape == (1, 3, 32, 32)
    centre = pipe.prepare(wide[:, :, 10:50])  # the centred square of the wide image, resized the same way
    torch.testing.assert_close(prepared, centre)
    array = (wide.permute(1, 2, 0) * 255).round().byte().numpy()
    Image.fromarray(array).save(tmp_path / "wide.png")
    from_path, from_pil = pipe.prepare(tmp_path / "wide.png"), pipe.prepare(Image.fromarray(array))
    torch.testing.assert_close(from_path, from_pil)
    torch.testing.assert_close(from_path, prepared, atol=1 / 255, rtol=0)
    exact = torch.rand(2, 3, 32, 32)
    assert torch.equal(pipe.prepare(exact), exact)


@pytest.mark.parametrize("image, needle", [
    ([1, 2, 3], "a tensor, a path or a PIL image"),
    (torch.rand(4, 32, 32), "float \\[3, H, W\\]"),
    (torch.zeros(3, 32, 32, dtype=torch.uint8), "float"),
])
def test_bad_images_are_one_line(pipe, image, needle):
    with pytest.raises(ValueError, match=needle):
        pipe.prepare(image)


def test_novel_views_are_one_per_shift_deterministic_and_the_zero_shift_is_the_plain_render(pipe):
    image = torch.rand(3, 32, 32, generator=torch.Generator().manual_seed(2))
    views = pipe.novel_views(image, 30.0, 10.0, [0.0, 45.0, -90.0], [0.0, 10.0, -20.0])
    assert views.shape == (3, 3, 32, 32)
    assert torch.equal(views, pipe.novel_views(image, 30.0, 10.0, [0.0, 45.0, -90.0], [0.0, 10.0, -20.0]))
    torch.testing.assert_close(views[0], pipe.render(pipe.inverse_render(image))[0], atol=1e-5, rtol=0)
    assert not torch.allclose(views[1], views[0])
    with pytest.raises(ValueError, match="elevation_shifts must be 3"):
        pipe.novel_views(image, 30.0, 10.0, [0.0, 45.0, -90.0], [0.0, 10.0])
    torch.testing.assert_close(pipe.novel_views(image, 30.0, 10.0, 45.0, [10.0]), views[1:2])  # numbers stand for all
    with pytest.raises(ValueError, match="at least one shift"):
        pipe.novel_views(image, 30.0, 10.0, [], [])
    with pytest.raises(ValueError, match="azimuth_shifts must be finite"):
        pipe.novel_views(image, 30.0, 10.0, [float("nan")], [0.0])
    with pytest.raises(ValueError, match="one image"):
        pipe.novel_views(torch.rand(2, 3, 32, 32), 30.0, 10.0, [0.0], [0.0])


def test_the_orbit_turns_all_the_way_round(pipe):
    image = torch.rand(3, 32, 32, generator=torch.Generator().manual_seed(3))
    views = list(pipe.orbit(image, 0.0, 0.0, num_views=4))
    assert len(views) == 4 and views[0].shape == (3, 32, 32)
    torch.testing.assert_close(views[2], pipe.novel_views(image, 0.0, 0.0, [180.0], [0.0])[0], atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="num_views"):
        pipe.orbit(image, 0.0, 0.0, num_views=0)  # checked at the call, before any view is asked for
    with pytest.raises(ValueError, match="one image"):
        pipe.orbit(torch.rand(2, 3, 32, 32), 0.0, 0.0, num_views=2)


def test_the_pair_forward_renders_each_view_from_its_partner(pipe):
    assert pair_partners(4) == [1, 0, 3, 2]
    images = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(4))
    azimuth, elevation = torch.tensor([10.0, 70.0]), torch.tensor([5.0, -15.0])
    rendered = pipe.cross_view_render(images, azimuth, elevation)
    with torch.no_grad():
        first = pipe.render(pipe.rotate_source_to_target(pipe.inverse_render(images[1:]), 70.0, -15.0, 10.0, 5.0))
        second = pipe.render(pipe.rotate_source_to_target(pipe.inverse_render(images[:1]), 10.0, 5.0, 70.0, -15.0))
    torch.testing.assert_close(rendered.detach(), torch.cat([first, second]), atol=1e-6, rtol=0)
    assert rendered.requires_grad  # the training forward keeps its graph
    with pytest.raises(ValueError, match="even number"):
        pipe.cross_view_render(images[:1], azimuth[:1], elevation[:1])


def test_from_pretrained_takes_a_release_folder_or_apples_file(pipe, tmp_path):
    pipe.model.save_pretrained(tmp_path / "folder")
    torch.save({"config": TINY.to_apple(), "state_dict": pipe.model.state_dict()}, tmp_path / "apple.pt")
    image = torch.rand(3, 32, 32, generator=torch.Generator().manual_seed(5))
    for source in (tmp_path / "folder", tmp_path / "apple.pt"):
        loaded = NovelViewPipeline.from_pretrained(source)
        assert loaded.image_size == (32, 32)
        assert torch.equal(loaded.novel_views(image, 0, 0, [30.0], [0.0]), pipe.novel_views(image, 0, 0, [30.0], [0.0]))


def test_the_fast_precision_is_refused_where_bfloat16_is_not_native(monkeypatch):
    with pytest.raises(ValueError, match="precision must be one of exact, fast"):
        NovelViewPipeline(EquivariantRenderer(TINY), precision="half")
    monkeypatch.setattr(devices, "native_bfloat16", lambda device: device.type == "cuda")  # an AVX2 CPU
    with pytest.raises(ValueError, match="needs a CUDA device or a CPU with native bfloat16"):
        NovelViewPipeline(EquivariantRenderer(TINY), precision="fast")


@pytest.mark.skipif(not devices.native_bfloat16(torch.device("cpu")), reason="this CPU has no native bfloat16")
def test_the_fast_precision_stays_close_to_the_exact_path_and_leaves_the_model_alone():
    torch.manual_seed(0)
    model = EquivariantRenderer(TINY)
    exact_pipe = NovelViewPipeline(model)
    fast_pipe = NovelViewPipeline(model, precision="fast")
    assert next(model.parameters()).dtype == torch.float32  # the training forward keeps float32 weights
    conv3d = next(m for m in fast_pipe._fast_model.modules() if isinstance(m, torch.nn.Conv3d))
    assert conv3d.weight.is_contiguous(memory_format=torch.channels_last_3d)  # oneDNN's bfloat16 layout
    image = torch.rand(2, 3, *TINY.image_size, generator=torch.Generator().manual_seed(1))
    scene, fast_scene = exact_pipe.inverse_render(image), fast_pipe.inverse_render(image)
    assert fast_scene.dtype == torch.float32 and fast_scene.shape == scene.shape
    assert float((fast_scene - scene).abs().max()) < 0.05 * float(scene.abs().max())
    views = exact_pipe.novel_views(image[:1], 0.0, 10.0, [0.0, 40.0], 0.0)
    fast_views = fast_pipe.novel_views(image[:1], 0.0, 10.0, [0.0, 40.0], 0.0)
    assert fast_views.dtype == torch.float32 and not torch.equal(fast_views, views)
    assert float((fast_views - views).abs().max()) < 0.05 and float((fast_views - views).abs().mean()) < 5e-3
    torch.testing.assert_close(fast_pipe.novel_views(image[:1], 0.0, 10.0, [0.0, 40.0], 0.0), fast_views,
                               rtol=0, atol=0)  # deterministic
