"""ClassicalRefiner: the weight-free refiner (hole filling, sky/ground models, detail over a flight)."""

import math

import pytest
import torch

from viewgen.control.fly_dynamic import FlyDynamic
from viewgen.data.toy_scene import toy_landscape_rgbd
from viewgen.geometry.disparity_rescale import rescale_refined_disparity
from viewgen.geometry.intrinsics import default_intrinsics
from viewgen.refiners.classical.detail import luma
from viewgen.refiners.classical.refiner import ClassicalRefiner, ClassicalRefinerConfig
from viewgen.refiners.classical.style import STYLE_DIM, layout_disparity, unpack_style
from viewgen.rendering.warp import warp_rgbd

SIZE = (80, 128)
IDENTITY = torch.eye(4)[:3]


@pytest.fixture(scope="module")
def toy() -> torch.Tensor:
    return toy_landscape_rgbd(*SIZE)


@pytest.fixture(scope="module")
def style(toy) -> torch.Tensor:
    return ClassicalRefiner().encode_style(toy)[0]


def with_holes(rgbd: torch.Tensor, holes: list[tuple[slice, slice]]) -> tuple[torch.Tensor, torch.Tensor]:
    """A fake warp output: ``rgbd`` with the given (rows, cols) blocks zeroed and masked out."""
    mask = torch.ones_like(rgbd[:, :1])
    for rows, cols in holes:
        mask[..., rows, cols] = 0.0
    return rgbd * mask, mask


def laplacian_energy(rgb: torch.Tensor, region: torch.Tensor) -> float:
    """Mean |4-neighbour Laplacian| of the luminance over ``region [1, 1, H, W]``."""
    y = luma(rgb)
    kernel = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]], dtype=y.dtype).view(1, 1, 3, 3)
    laplacian = torch.nn.functional.conv2d(torch.nn.functional.pad(y, (1, 1, 1, 1), mode="replicate"), kernel)
    return float(laplacian.abs()[region].mean())


# ----------------------------------------------------------------------------- interface


def test_interface_attributes_and_style(toy):
    refiner = ClassicalRefiner()
    assert refiner.name == "classical" and refiner.image_size is None and refiner.style_dim == STYLE_DIM
    assert refiner.to("cpu", torch.float32) is refiner
    mu, logvar = refiner.encode_style(toy.expand(2, -1, -1, -1))
    assert mu.shape == logvar.shape == (2, STYLE_DIM)
    assert torch.isfinite(mu).all() and (logvar == 0).all()
    fields = unpack_style(mu[:1])
    assert fields["sky_top"][0, 2] > fields["sky_top"][0, 0]  # the toy sky is blue
    assert fields["ground_near"][0, 1] > fields["ground_near"][0, 2]  # and its ground green
    assert 0.02 < float(fields["sky_threshold"]) < 0.08  # toy sky 0.02, ground from 0.08


def test_refine_shapes_ranges_and_finiteness(toy, style):
    warped, mask = with_holes(toy, [(slice(0, 30), slice(0, 40)), (slice(50, 80), slice(90, 128))])
    out = ClassicalRefiner().refine(warped, mask, style)
    assert out.shape == toy.shape and out.dtype == toy.dtype
    assert torch.isfinite(out).all()
    assert out[:, :3].min() >= 0 and out[:, :3].max() <= 1
    assert out[:, 3].min() >= 0.01 - 1e-6 and out[:, 3].max() <= 1


def test_rejects_bad_shapes(toy, style):
    refiner = ClassicalRefiner()
    with pytest.raises(ValueError, match="mask"):
        refiner.refine(toy, torch.ones(1, 1, 8, 8), style)
    with pytest.raises(ValueError, match="style"):
        refiner.refine(toy, torch.ones_like(toy[:, :1]), style[:, :5])
    with pytest.raises(ValueError, match="rgbd"):
        refiner.encode_style(toy[:, :3])
    with pytest.raises(ValueError):
        ClassicalRefinerConfig(known_low=0.9, known_high=0.5)


# ----------------------------------------------------------------------------- holes and known pixels


def test_big_holes_are_filled_with_sky_and_ground(toy, style):
    sky_hole, ground_hole = (slice(0, 20), slice(10, 60)), (slice(55, 80), slice(60, 128))
    warped, mask = with_holes(toy, [sky_hole, ground_hole])
    out = ClassicalRefiner().refine(warped, mask, style)
    sky, ground = out[0, :, sky_hole[0], sky_hole[1]], out[0, :, ground_hole[0], ground_hole[1]]
    assert sky[:3].min() > 0.3 and ground[:3].sum(0).min() > 0.3  # no black holes
    sky_rgb, ground_rgb = sky[:3].mean((1, 2)), ground[:3].mean((1, 2))
    assert sky_rgb[2] > sky_rgb[0] + 0.2 and (sky_rgb - toy[0, :3, :20, 10:60].mean((1, 2))).abs().max() < 0.08
    assert ground_rgb[1] > ground_rgb[2] + 0.2 and (ground_rgb - toy[0, :3, 55:, 60:].mean((1, 2))).abs().max() < 0.1
    threshold = float(unpack_style(style)["sky_threshold"])
    assert sky[3].max() < threshold  # far: sky
    assert ground[3, -5:].mean() > 0.6  # new ground at the bottom border is near


def test_border_holes_get_consistent_disparity(toy, style):
    """Bottom border (camera pitched up): near ground; top border: sky."""
    warped, mask = with_holes(toy, [(slice(0, 12), slice(None)), (slice(68, 80), slice(None))])
    out = ClassicalRefiner().refine(warped, mask, style)
    assert out[0, 3, 70:].mean() > out[0, 3, 60:66].mean() * 0.95 > 0.5
    assert out[0, 3, :12].max() < float(unpack_style(style)["sky_threshold"])
    assert (out[0, 2, :12] > out[0, 0, :12] + 0.2).all()  # blue sky at the top


def test_known_pixels_are_kept_within_the_documented_bounds(toy, style):
    config = ClassicalRefinerConfig()
    warped, mask = with_holes(toy, [(slice(30, 50), slice(50, 80))])
    out = ClassicalRefiner(config).refine(warped, mask, style)
    known = (mask > 0.999).expand(-1, 3, -1, -1).clone()
    known[..., 25:55, 45:85] = False  # the fill's soft surroundings
    bound = config.max_detail_change + config.color_rate  # detail layer + aerial-perspective pull
    assert (out[:, :3] - toy[:, :3])[known].abs().max() <= bound + 1e-6
    # disparity: ground moves at most layout_rate of the way to the layout prior (log space),
    # sky only recedes
    d_in, d_out = toy[:, 3:], out[:, 3:]
    ground = (d_in >= float(unpack_style(style)["sky_threshold"])) & known[:, :1]
    pull = (layout_disparity(style, SIZE[0]).log() - d_in.log()).abs()
    assert ((d_out.log() - d_in.log()).abs() <= config.layout_rate * pull + 1e-5)[ground].all()
    sky = ~ground & known[:, :1]
    assert (d_out <= d_in + 1e-6)[sky].all()


def test_soft_mask_edges_blend(toy, style):
    """A soft ramp of the mask gives a gradual transition, not a seam of black or a hard edge."""
    mask = torch.linspace(0, 1, SIZE[1]).view(1, 1, 1, -1).expand(1, 1, *SIZE).contiguous()
    warped = toy * mask.sqrt()
    out = ClassicalRefiner(ClassicalRefinerConfig(max_detail_change=0.0)).refine(warped, mask, style)
    ground = out[0, :3, 60:70].mean(dim=(0, 1))  # [W] mean color across the ramp
    assert ground.min() > 0.2
    assert (ground[1:] - ground[:-1]).abs().max() < 0.05


# ----------------------------------------------------------------------------- determinism, dtype, batch


def test_deterministic_and_leaves_global_rng_alone(toy, style):
    warped, mask = with_holes(toy, [(slice(0, 30), slice(0, 40))])
    state = torch.random.get_rng_state()
    first = ClassicalRefiner().refine(warped, mask, style)
    second = ClassicalRefiner().refine(warped, mask, style)
    assert torch.equal(first, second)
    assert torch.equal(state, torch.random.get_rng_state())
    other_seed = ClassicalRefiner(ClassicalRefinerConfig(seed=1)).refine(warped, mask, style)
    assert not torch.equal(first, other_seed)


def test_float64_and_batch_of_two(toy, style):
    warped, mask = with_holes(toy, [(slice(0, 30), slice(0, 40))])
    other_warped, other_mask = with_holes(toy.flip(-1), [(slice(50, 80), slice(60, 100))])
    refiner = ClassicalRefiner()
    batch = refiner.refine(torch.cat([warped, other_warped]), torch.cat([mask, other_mask]), style)
    assert batch.shape == (2, 4, *SIZE)
    assert torch.equal(batch[:1], refiner.refine(warped, mask, style))
    assert torch.equal(batch[1:], refiner.refine(other_warped, other_mask, style))
    double = refiner.to("cpu", torch.float64).refine(warped.double(), mask.double(), style.double())
    assert double.dtype == torch.float64 and torch.isfinite(double).all()
    assert (double.float() - batch[:1]).abs().mean() < 0.02


# ----------------------------------------------------------------------------- a flight


def test_toy_flight_keeps_detail_and_stays_finite(toy):
    """30 frames of autopilot -> warp -> refine -> rescale: detail stays within 0.5x-2x of frame 0."""
    refiner = ClassicalRefiner()
    style = refiner.encode_style(toy)[0]
    threshold = float(unpack_style(style)["sky_threshold"])
    intrinsics = default_intrinsics(*SIZE)
    autopilot, pose, rgbd = FlyDynamic(intrinsics, IDENTITY), IDENTITY, toy
    detail_0 = laplacian_energy(toy[:, :3], toy[:, 3:] >= threshold)
    ratios = []
    for _ in range(30):
        next_pose = autopilot.next(rgbd)
        warped, mask = warp_rgbd(rgbd, pose, next_pose, intrinsics)
        refined = refiner.refine(warped, mask, style)
        disparity = rescale_refined_disparity(warped[:, 3:], mask, refined[:, 3:])
        rgbd, pose = torch.cat([refined[:, :3], disparity], dim=1), next_pose
        assert torch.isfinite(rgbd).all()
        assert float(luma(rgbd[:, :3]).min()) > 0.02  # no black holes
        ratios.append(laplacian_energy(rgbd[:, :3], rgbd[:, 3:] >= threshold) / detail_0)
    assert 0.5 <= min(ratios) and max(ratios) <= 2.0, [round(r, 2) for r in ratios]
    assert 0.01 - 1e-6 <= float(refined[:, 3].min()) and float(refined[:, 3].max()) <= 1.0
    assert 0.005 <= float(rgbd[:, 3].min())  # the rescale may scale the sky slightly below 0.01
    assert not math.isnan(sum(ratios))


def test_detail_layer_switch(toy, style):
    """With ``detail_layer=False`` known pixels keep their color up to the aerial-perspective pull."""
    config = ClassicalRefinerConfig(detail_layer=False)
    out = ClassicalRefiner(config).refine(toy, torch.ones_like(toy[:, :1]), style)
    assert (out[:, :3] - toy[:, :3]).abs().max() <= config.color_rate + 1e-6
