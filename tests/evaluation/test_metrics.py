import math

import pytest
import torch

from viewgen.evaluation.metrics import masked_psnr, masked_ssim, psnr, ssim

pytest.importorskip("torchmetrics")


def _images(seed=0, batch=2, size=(24, 32)):
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(batch, 3, *size, generator=generator)


def test_identical_images_score_inf_and_one():
    image = _images()
    assert torch.isinf(psnr(image, image)).all()
    assert torch.allclose(ssim(image, image), torch.ones(2))


def test_psnr_of_a_known_noise_level():
    image = torch.full((2, 3, 24, 32), 0.5)
    noisy = image + 0.1 * torch.where(torch.rand(image.shape, generator=torch.Generator().manual_seed(1)) < 0.5,
                                      -1.0, 1.0)
    assert torch.allclose(psnr(noisy, image), torch.full((2,), 20.0), atol=1e-4)  # mse 0.01 -> 20 dB


def test_ssim_falls_with_noise_and_is_per_image():
    image = _images()
    noisy = image.clone()
    noisy[1] = (noisy[1] + 0.2 * torch.randn(noisy[1].shape, generator=torch.Generator().manual_seed(2))).clamp(0, 1)
    scores = ssim(noisy, image)
    assert scores.shape == (2,)
    assert scores[0] == pytest.approx(1.0, abs=1e-5) and scores[1] < 0.9


def test_masked_scores_see_only_the_known_pixels():
    image = _images()
    damaged = image.clone()
    damaged[..., :, 16:] = 0.0
    mask = torch.zeros(1, 1, 24, 32)
    mask[..., :, :16] = 1.0
    assert torch.isinf(masked_psnr(damaged, image, mask)).all()
    assert math.isfinite(psnr(damaged, image)[0].item())
    assert (masked_ssim(damaged, image, mask) > ssim(damaged, image)).all()
    full = torch.ones(2, 1, 24, 32)
    assert torch.allclose(masked_psnr(damaged, image, full), psnr(damaged, image))
    assert torch.allclose(masked_ssim(damaged, image, full), ssim(damaged, image), atol=1e-6)


def test_an_empty_mask_scores_nan():
    image = _images()
    assert torch.isnan(masked_psnr(image, image * 0.5, torch.zeros(2, 1, 24, 32))).all()


@pytest.mark.parametrize("call, message", [
    (lambda: psnr(torch.rand(2, 4, 8, 8), torch.rand(2, 4, 8, 8)), "image must be a [B, 3, H, W] tensor"),
    (lambda: psnr(torch.rand(2, 3, 8, 8), torch.rand(1, 3, 8, 8)), "target must be a [B, 3, H, W] tensor"),
    (lambda: ssim(torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 8)), "image must be at least 11x11 pixels"),
    (lambda: masked_psnr(torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 8), torch.ones(1, 3, 8, 8)), "mask must be"),
])
def test_bad_input_is_one_line_value_error(call, message):
    with pytest.raises(ValueError) as error:
        call()
    assert message in str(error.value) and "\n" not in str(error.value)
