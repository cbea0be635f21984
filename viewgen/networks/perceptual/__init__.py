"""Feature networks of the perceptual metrics (LPIPS; FID and KID) and of Infinite Nature's perceptual loss
(VGG19), with the official release key names.

They take state dicts; :mod:`viewgen.evaluation.perceptual` finds and reads the weight files.
"""

from viewgen.networks.perceptual.alexnet import ALEXNET_TAP_CHANNELS, AlexNetConfig, AlexNetFeatures
from viewgen.networks.perceptual.inception import FID_FEATURES, FID_INPUT_SIZE, FidInception, FidInceptionConfig
from viewgen.networks.perceptual.lpips import LPIPS_SCALE, LPIPS_SHIFT, Lpips, lpips_head_keys
from viewgen.networks.perceptual.vgg19 import VGG19_TAPS, VGG19Config, VGG19Features

__all__ = [
    "ALEXNET_TAP_CHANNELS", "AlexNetConfig", "AlexNetFeatures", "FID_FEATURES", "FID_INPUT_SIZE", "FidInception",
    "FidInceptionConfig", "LPIPS_SCALE", "LPIPS_SHIFT", "Lpips",
    "VGG19Config", "VGG19Features", "VGG19_TAPS", "lpips_head_keys",
]
