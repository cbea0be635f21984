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
