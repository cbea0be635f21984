"""ENR's objective: pytorch_msssim's SSIM (whole windows only) and L1 + 0.05 (1 - SSIM)."""

import pytest
import torch

from viewgen.training.losses import SSIM_WINDOW, enr_loss, valid_ssim


def _pair(seed: int = 0, size: int = 40):
    generator = torch.Generator().manual_seed(seed)
    image = torch.rand(3, 3, size, size + 8, generator=generator)
    return image, (image + 0.2 * torch.randn(image.shape, generator=generator)).clamp(0, 1)


def test_ssim_is_torchmetrics_ssim_over_the_windows_inside_the_image():
    from torchmetrics.functional.image import structural_similarity_index_measure

    image, target = _pair()
    _, full = structural_similarity_index_measure(image, target, data_range=1.0, return_full_image=True)
    border = SSIM_WINDOW // 2
    inside = full[..., border:-border, border:-border].mean()
    assert torch.allclose(valid_ssim(image, target), inside, atol=1e-6)
    assert float(valid_ssim(image, image)) == pytest.approx(1.0, abs=1e-6)


def test_the_loss_adds_a_twentieth_of_the_ssim_gap_and_has_gradients():
    image, target = _pair(seed=1)
    image.requires_grad_(True)
    loss = enr_loss(image, target)
    expected = (image - target).abs().mean() + 0.05 * (1 - valid_ssim(image, target))
    assert torch.allclose(loss.total, expected) and torch.allclose(loss.pixel, (image - target).abs().mean())
    loss.total.backward()
    assert image.grad is not None and bool(torch.isfinite(image.grad).all()) and float(image.grad.abs().sum()) > 0
    l2 = enr_loss(image.detach(), target, ssim_weight=0.0, pixel_loss="l2")
    assert torch.allclose(l2.total, ((image.detach() - target) ** 2).mean())


def test_bad_inputs_are_one_line():
    image, target = _pair()
    with pytest.raises(ValueError, match="pixel_loss must be l1 or l2"):
        enr_loss(image, target, pixel_loss="huber")
    with pytest.raises(ValueError, match="target"):
        enr_loss(image, target[:, :, :20])
    with pytest.raises(ValueError, match="at least 11x11"):
        valid_ssim(image[..., :8, :8], target[..., :8, :8])


def test_infinite_nature_terms_follow_the_reference_formulas():
    from viewgen.training.losses import (
        InfiniteNatureLossWeights,
        feature_matching_loss,
        hinge_discriminator_loss,
        hinge_generator_loss,
        kl_divergence,
        reconstruction_l1,
    )

    weights = InfiniteNatureLossWeights()
    assert (weights.reconstruction, weights.adversarial, weights.feature_matching, weights.kl, weights.perceptual,
            weights.discriminator) == (0.5, 1.5, 10.0, 0.05, 0.01, 1.5)
    generated, truth = torch.zeros(2, 3, 4, 5, 5), torch.full((2, 3, 4, 5, 5), 0.25)
    assert float(reconstruction_l1(generated, truth)) == 0.25
    real = [torch.full((1, 1, 2, 2), 0.5), torch.full((1, 1, 1, 1), 2.0)]
    fake = [torch.full((1, 1, 2, 2), -0.5), torch.full((1, 1, 1, 1), 1.0)]
    assert float(hinge_generator_loss(fake)) == pytest.approx(((0.5) + (-1.0)) / 2)
    # scale 0: relu(0.5) + relu(0.5) = 1; scale 1: relu(-1) + relu(2) = 2
    assert float(hinge_discriminator_loss(real, fake)) == pytest.approx(1.5)
    features_real = [[torch.ones(1, 2, 2, 2), torch.zeros(1, 2, 1, 1)], [torch.ones(1, 2, 1, 1)]]
    features_fake = [[torch.zeros(1, 2, 2, 2), torch.zeros(1, 2, 1, 1)], [torch.full((1, 2, 1, 1), 0.5)]]
    assert float(feature_matching_loss(features_real, features_fake)) == pytest.approx((1 + 0 + 0.5) / 3)
    mu, logvar = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 1.0]])
    expected = -0.5 * ((1 + 0 - 1 - 1) + (1 + 1 - 0 - torch.e))
    assert float(kl_divergence(mu, logvar)) == pytest.approx(float(expected))
    assert float(kl_divergence(torch.zeros(3, 4), torch.zeros(3, 4))) == 0.0


def test_infinite_nature_terms_refuse_mismatched_inputs():
    from viewgen.training.losses import (
        feature_matching_loss,
        hinge_discriminator_loss,
        kl_divergence,
        reconstruction_l1,
    )

    with pytest.raises(ValueError, match="one shape"):
        reconstruction_l1(torch.zeros(1, 4, 2, 2), torch.zeros(1, 3, 2, 2))
    with pytest.raises(ValueError, match="one entry per scale"):
        hinge_discriminator_loss([torch.zeros(1)], [])
    with pytest.raises(ValueError, match="one entry per scale"):
        feature_matching_loss([], [])
    with pytest.raises(ValueError, match="one shape"):
        kl_divergence(torch.zeros(1, 2), torch.zeros(1, 3))


def test_feature_matching_trains_the_generator_side_only():
    from viewgen.training.losses import feature_matching_loss

    real = [[torch.ones(1, 2, 2, 2, requires_grad=True)]]
    fake = [[torch.zeros(1, 2, 2, 2, requires_grad=True)]]
    feature_matching_loss(real, fake).backward()
    assert real[0][0].grad is None and fake[0][0].grad is not None
