"""Readers of foreign checkpoints, converted to viewgen's ``config.json`` + safetensors folders.

* :func:`convert_infinite_nature_checkpoint`: the official TensorFlow Infinite Nature release.
* :func:`convert_enr_checkpoint` / :func:`read_apple_checkpoint`: Apple's Equivariant Neural Rendering ``.pt``.
* :mod:`viewgen.convert.tf.tensor_bundle`: a TensorFlow-free reader and writer of TF V2 checkpoints.
"""

from viewgen.convert.enr import APPLE_PRETRAINED_URL, convert_enr_checkpoint, read_apple_checkpoint
from viewgen.convert.infinite_nature import (
    CheckpointMismatchError,
    ConversionSummary,
    bake_spectral_norm,
    convert_infinite_nature_checkpoint,
)
from viewgen.convert.tf.tensor_bundle import (
    BundleChecksumError,
    TensorBundleError,
    TensorBundleReader,
    read_tensor_bundle,
    write_tensor_bundle,
)

__all__ = [
    "APPLE_PRETRAINED_URL",
    "CheckpointMismatchError",
    "BundleChecksumError",
    "ConversionSummary",
    "TensorBundleError",
    "TensorBundleReader",
    "bake_spectral_norm",
    "convert_enr_checkpoint",
    "convert_infinite_nature_checkpoint",
    "read_apple_checkpoint",
    "read_tensor_bundle",
    "write_tensor_bundle",
]
