"""Feature networks of the perceptual metrics (LPIPS), with the official release key names.

They take state dicts; :mod:`viewgen.evaluation.perceptual` finds and reads the weight files.
"""

from viewgen.networks.perceptual.alexnet import ALEXNET_TAP_CHANNELS, AlexNetConfig, AlexNetFeatures
from viewgen.networks.perceptual.lpips import LPIPS_SCALE, LPIPS_SHIFT, Lpips, lpips_head_keys

__all__ = [
    "ALEXNET_TAP_CHANNELS", "AlexNetConfig", "AlexNetFeatures", "LPIPS_SCALE", "LPIPS_SHIFT", "Lpips",
    "lpips_head_keys",
]
