"""Infinite Nature Zero's networks (ECCV 2022) in plain PyTorch: a co-modulated StyleGAN2 generator.

Matches the original ``co_mod_gan.py`` on rosinality's ``stylegan2-pytorch`` layers (patched for
4-channel ToRGB) bit for bit on the CPU in float32, with the pure-PyTorch paths of its ops: no CUDA
extension and nothing compiled. Module names are the original's, so its ``netG_ema`` checkpoints
load unchanged (:func:`load_original_checkpoint`); our own release folders use
``save_pretrained`` / ``from_pretrained``.

* :mod:`~viewgen.networks.stylegan2.resample`: ``upfirdn2d``, blur and upsampling;
* :mod:`~viewgen.networks.stylegan2.layers`: equalized, modulated and noise layers, ToRGB;
* :mod:`~viewgen.networks.stylegan2.encoders`: mapping network, global style encoder, feature encoder;
* :mod:`~viewgen.networks.stylegan2.synthesis`: the synthesis network;
* :mod:`~viewgen.networks.stylegan2.generator`: :class:`CoModGenerator` and its config;
* :mod:`~viewgen.networks.stylegan2.checkpoint`: the original checkpoints;
* :mod:`~viewgen.networks.stylegan2.discriminator`: a StyleGAN2 residual discriminator (our training's).
"""

from viewgen.networks.stylegan2.checkpoint import (
    ORIGINAL_KEY_MAP,
    find_latest_checkpoint,
    load_original_checkpoint,
    read_original_state_dict,
)
from viewgen.networks.stylegan2.discriminator import StyleGAN2Discriminator, StyleGAN2DiscriminatorConfig
from viewgen.networks.stylegan2.encoders import FeatureEncoder, GlobalStyleEncoder, MappingNetwork, channels_at
from viewgen.networks.stylegan2.generator import CoModGenerator, CoModGeneratorConfig
from viewgen.networks.stylegan2.layers import (
    ConvLayer,
    EqualConv2d,
    EqualLinear,
    FusedLeakyReLU,
    ModulatedConv2d,
    NoiseInjection,
    PixelNorm,
    StyledConv,
    ToRGB,
    fused_leaky_relu,
)
from viewgen.networks.stylegan2.resample import Blur, Upsample, blur_kernel, upfirdn2d
from viewgen.networks.stylegan2.synthesis import SynthesisNetwork

__all__ = [
    "ORIGINAL_KEY_MAP", "Blur", "CoModGenerator", "CoModGeneratorConfig", "ConvLayer", "EqualConv2d", "EqualLinear",
    "FeatureEncoder", "FusedLeakyReLU", "GlobalStyleEncoder", "MappingNetwork", "ModulatedConv2d", "NoiseInjection",
    "PixelNorm", "StyleGAN2Discriminator", "StyleGAN2DiscriminatorConfig", "StyledConv", "SynthesisNetwork", "ToRGB",
    "Upsample", "blur_kernel", "channels_at", "find_latest_checkpoint", "fused_leaky_relu",
    "load_original_checkpoint", "read_original_state_dict", "upfirdn2d",
]
