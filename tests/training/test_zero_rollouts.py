"""Infinite Nature Zero's training trajectories: virtual cameras, the cycle back to the photo, autopilot flights that
are exactly the inference pipeline's, the discriminator and the StyleGAN2 losses."""

from dataclasses import replace

import pytest
import torch

from viewgen.networks.stylegan2 import CoModGenerator, StyleGAN2Discriminator, StyleGAN2DiscriminatorConfig
from viewgen.networks.stylegan2.discriminator import minibatch_stddev
from viewgen.pipelines.zero_inputs import ZeroInputConfig, prepare_zero_inputs
from viewgen.refiners.stylegan import StyleGANRefinerConfig
from viewgen.training.infinite_nature_zero import zero_tiny_config
from viewgen.training.losses import logistic_discriminator_loss, logistic_generator_loss, r1_penalty
from viewgen.training.zero_rollouts import (
    VirtualCameraRange,
    autopilot_rollout,
    cycle_views,
    draw_style,
    virtual_cameras,
)


def _photo(index: int, size: int) -> dict:
    from viewgen.data.samples import load_sample

    rgbd = load_sample(index).rgbd[0]
    inputs = prepare_zero_inputs(rgbd[:3], rgbd[3:], None, ZeroInputConfig(size=size))
    return {"rgbd": inputs.rgbd[0], "rgbd_full": inputs.rgbd_full[0],
            "sky_offset": torch.tensor(inputs.sky_offset, dtype=torch.float32),
            "pixel_matrix": inputs.pixel_matrix.float(), "full_pixel_matrix": inputs.full_pixel_matrix.float()}


@pytest.fixture(scope="module")
def batch():
    return torch.utils.data.default_collate([_photo(1, 16), _photo(3, 16)])


@pytest.fixture()
def generator_net():
    torch.manual_seed(0)
    return CoModGenerator(zero_tiny_config().generator)


def test_virtual_cameras_are_rigid_moves_within_their_range():
    spread = VirtualCameraRange(forward=0.4, sideways=0.2, vertical=0.1, yaw_deg=10, pitch_deg=5)
    rotation, translation = virtual_cameras(64, spread, torch.Generator().manual_seed(3))
    eye = torch.eye(3).expand(64, 3, 3)
    assert torch.allclose(rotation @ rotation.transpose(1, 2), eye, atol=1e-5)
    assert torch.allclose(torch.linalg.det(rotation), torch.ones(64), atol=1e-5)
    centre = -(rotation.transpose(1, 2) @ translation.unsqueeze(-1)).squeeze(-1)  # the virtual camera's centre
    assert float(centre[:, 0].abs().max()) <= 0.2 + 1e-6 and float(centre[:, 1].abs().max()) <= 0.1 + 1e-6
    assert float(centre[:, 2].min()) >= 0 and float(centre[:, 2].max()) <= 0.4 + 1e-6
    turn = torch.rad2deg(torch.arccos(((rotation.diagonal(dim1=1, dim2=2).sum(-1) - 1) / 2).clamp(-1, 1)))
    assert float(turn.max()) <= (10**2 + 5**2) ** 0.5 + 1e-3
    again = virtual_cameras(64, spread, torch.Generator().manual_seed(3))
    assert torch.equal(again[0], rotation) and torch.equal(again[1], translation)
    with pytest.raises(ValueError, match="VirtualCameraRange.forward"):
        VirtualCameraRange(forward=-1.0)


def test_a_cycle_that_stays_put_gives_the_photo_back_to_the_generator(batch, generator_net):
    style = draw_style(generator_net, batch["rgbd"], torch.Generator().manual_seed(0))
    still = virtual_cameras(2, VirtualCameraRange(0, 0, 0, 0, 0), torch.Generator().manual_seed(0))
    cycle = cycle_views(generator_net, batch["rgbd"], batch["pixel_matrix"], style, *still, StyleGANRefinerConfig())
    from viewgen.rendering.splat import sobel_foreground_alpha

    known, alpha = cycle.virtual_warp[:, 3:4] > 0, sobel_foreground_alpha(batch["rgbd"][:, 3:])
    assert bool(known[alpha > 0.31].all()) and not bool(known[alpha < 0.29].any())  # all but the depth edges
    photo = torch.cat([batch["rgbd"][:, :3], batch["rgbd"][:, 3:].clamp(min=0.01)], 1)
    assert float(((cycle.virtual_warp - photo).abs() * known).max()) < 1e-2  # the splat dims by e^-10 at most
    assert cycle.returned.shape == cycle.virtual.shape == (2, 4, 16, 16)


def test_a_cycle_carries_gradients_to_every_generator_weight(batch, generator_net):
    style = draw_style(generator_net, batch["rgbd"], torch.Generator().manual_seed(0))
    cameras = virtual_cameras(2, VirtualCameraRange(), torch.Generator().manual_seed(1))
    cycle = cycle_views(generator_net, batch["rgbd"], batch["pixel_matrix"], style, *cameras, StyleGANRefinerConfig())
    (cycle.returned - batch["rgbd"]).abs().mean().backward()
    assert all(p.grad is not None and bool(torch.isfinite(p.grad).all()) for p in generator_net.parameters())


def test_a_training_flight_is_the_inference_pipeline_s_flight(batch, generator_net):
    from viewgen.pipelines.infinite_nature_zero import InfiniteNatureZeroConfig, InfiniteNatureZeroPipeline
    from viewgen.refiners.stylegan import ZeroStyle
    from viewgen.training.infinite_nature_zero import batch_inputs

    first = {key: value[:1] for key, value in batch.items()}
    style = draw_style(generator_net, first["rgbd"], torch.Generator().manual_seed(2))
    flight = InfiniteNatureZeroConfig(refiner=StyleGANRefinerConfig(truncation=1.0), stop_on_crash=False)
    for settings in (flight, replace(flight, crash_below=0.0), replace(flight, sky_correction=False)):
        with torch.no_grad():
            trained = autopilot_rollout(generator_net.eval(), first, style, 4, settings)
        pipe = InfiniteNatureZeroPipeline(generator_net, settings)
        flown = pipe(batch_inputs(first), 4, style=ZeroStyle(style.global_code, style.z, style.mean_latent,
                                                             tuple(style.noise)), output_type="tensor")
        assert trained.shape == (1, 4, 4, 16, 16)
        assert torch.equal(trained[0], flown)


def test_the_discriminator_judges_any_batch_of_rgbd():
    network = StyleGAN2Discriminator(StyleGAN2DiscriminatorConfig(resolution=16, channel_base=32, channel_max=8))
    for size in (1, 3, 6):
        assert network(torch.rand(size, 4, 16, 16)).shape == (size,)
    with pytest.raises(ValueError, match="rgbd"):
        network(torch.rand(2, 3, 16, 16))
    features = minibatch_stddev(torch.ones(6, 2, 4, 4), 4)  # groups of 3 (the largest divisor of 6 up to 4)
    assert features.shape == (6, 3, 4, 4) and float(features[:, 2].max()) < 1e-3
    with pytest.raises(ValueError, match="power of two"):
        StyleGAN2DiscriminatorConfig(resolution=24)


def test_stylegan2_losses_and_the_r1_penalty():
    zero = torch.zeros(4)
    assert torch.isclose(logistic_generator_loss(zero), torch.log(torch.tensor(2.0)))
    assert torch.isclose(logistic_discriminator_loss(zero, zero), 2 * torch.log(torch.tensor(2.0)))
    assert float(logistic_discriminator_loss(torch.full((4,), 9.0), torch.full((4,), -9.0))) < 1e-3
    images = torch.rand(3, 2, 4, 4, requires_grad=True)
    penalty = r1_penalty(images.pow(2).sum((1, 2, 3)), images)  # d/dx = 2 x
    assert torch.isclose(penalty, 4 * images.detach().pow(2).sum((1, 2, 3)).mean())
    assert penalty.requires_grad  # it trains the discriminator: the graph is kept


def test_configs_refuse_mismatched_networks():
    config = zero_tiny_config()
    with pytest.raises(ValueError, match="one resolution"):
        replace(config, discriminator=replace(config.discriminator, resolution=32))
    with pytest.raises(ValueError, match="ema_decay"):
        zero_tiny_config(ema_decay=1.0)
    with pytest.raises(ValueError, match="rollout_schedule"):
        zero_tiny_config(rollout_schedule=((0, 3),))
    assert zero_tiny_config(rollout_schedule=((0, 1), (2, 2))).rollout_at(1) == 1
    again = type(config).from_dict(config.to_dict())
    assert again == config
