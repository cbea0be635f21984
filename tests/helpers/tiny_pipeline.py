"""A FlyThroughPipeline of tiny random networks (seeded), for tests that need the learned refiner."""

from __future__ import annotations

import torch

from viewgen.networks import SpadeGenerator, SpadeGeneratorConfig, StyleEncoder, StyleEncoderConfig
from viewgen.pipelines import FlyThroughConfig, FlyThroughPipeline

TINY_SIZE = (80, 128)  # the original's 1.6 aspect ratio


def tiny_pipeline(seed: int = 0, **config) -> FlyThroughPipeline:
    """Tiny seeded networks at ``TINY_SIZE``; ``config`` are further :class:`FlyThroughConfig` fields."""
    torch.manual_seed(seed)
    encoder = StyleEncoder(StyleEncoderConfig(image_size=TINY_SIZE, channels=(4, 4, 8, 8, 8, 8), style_dim=6))
    generator = SpadeGenerator(SpadeGeneratorConfig(image_size=TINY_SIZE, style_dim=6, base_channels=16,
                                                    up_channels=(8, 4, 4), spade_hidden_channels=8))
    return FlyThroughPipeline(encoder, generator, FlyThroughConfig(image_size=TINY_SIZE, **config))
