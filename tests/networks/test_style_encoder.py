import pytest
import torch

from viewgen.networks import StyleEncoder, StyleEncoderConfig

TINY = {"channels": (4, 4, 8, 8, 8, 8), "style_dim": 6}


def test_default_config_is_the_released_model():
    config = StyleEncoderConfig()
    assert config.feature_size == (3, 4)
    assert config.flat_features == 1536
    encoder = StyleEncoder(config)
    assert encoder.linear_mu.weight.shape == (256, 1536)
    assert sum(p.numel() for p in encoder.parameters()) == 1_179_696


@pytest.mark.parametrize(
    ("image_size", "feature_size"), [((64, 128), (1, 2)), ((160, 256), (3, 4)), ((50, 70), (1, 2))]
)
def test_output_shapes_follow_image_size(image_size, feature_size):
    config = StyleEncoderConfig(image_size=image_size, **TINY)
    encoder = StyleEncoder(config)
    rgbd = torch.rand(2, 4, *image_size)
    assert encoder.features(rgbd).shape == (2, 8, *feature_size)
    mu, logvar = encoder(rgbd)
    assert mu.shape == logvar.shape == (2, 6)


def test_flatten_uses_tf_channels_last_order():
    encoder = StyleEncoder(StyleEncoderConfig(image_size=(64, 128), **TINY))
    rgbd = torch.rand(1, 4, 64, 128)
    features = encoder.features(rgbd)
    expected = encoder.linear_mu(features.permute(0, 2, 3, 1).flatten(1))
    assert torch.allclose(encoder(rgbd)[0], expected)


def test_spectral_norm_option_wraps_every_conv():
    encoder = StyleEncoder(StyleEncoderConfig(image_size=(64, 128), spectral_norm=True, **TINY))
    keys = encoder.state_dict()
    assert all(f"convs.{i}.parametrizations.weight.original" in keys for i in range(6))
    assert encoder(torch.rand(1, 4, 64, 128))[0].shape == (1, 6)
