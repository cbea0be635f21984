"""Convert the official Infinite Nature TensorFlow checkpoint into viewgen's networks.

The released model is ``ckpt/model.ckpt-6935893`` inside
https://storage.googleapis.com/gresearch/infinite_nature_public/ckpt.tar.gz (a TF1 Saver
V2 checkpoint: ``model.ckpt-6935893.index`` + ``.data-00000-of-00001``). Conversion::

    convert_infinite_nature_checkpoint("ckpt/model.ckpt-6935893", "weights/infinite_nature")

writes ``style_encoder/``, ``spade_generator/`` and, when the checkpoint holds them,
``discriminator/`` folders (``config.json`` + ``model.safetensors`` each), and a
``manifest.json`` naming their files' SHA-256, written last and checked when a component is
loaded (see :mod:`viewgen.networks.pretrained`), so a folder mixing two conversions is refused.

All or nothing: the release is written into a hidden folder beside ``out_dir`` that then
replaces ``out_dir`` as a whole; on any failure (a full disk, Ctrl-C) it is removed and an
existing ``out_dir`` is left exactly as it was. An existing ``out_dir`` may hold only an earlier
conversion (those folders and the manifest); anything else is refused before work starts.

Variable map (TF layouts: conv kernels ``[kh, kw, in, out]``, dense kernels ``[in, out]``):

* spectrally normalized convs ``<scope>/{kernel, bias, u}`` (``shortcut_conv`` has no bias):
  encoder ``conv_i``, resblock ``conv_0``/``conv_1``/``shortcut_conv``, the generator's
  output ``conv`` and discriminator ``conv_1..3``. The original inference graph runs one
  power iteration from the stored ``u`` and divides the kernel by the resulting sigma; it
  never updates ``u``. We do exactly that once, here, in float32, and store plain weights.
* plain convs ``<scope>/conv2d/{kernel, bias}``: SPADE ``conv_cond``/``gamma``/``beta``,
  discriminator ``conv`` and ``D_logit``.
* dense ``<scope>/dense/{kernel, bias}``: ``linear_mu``, ``linear_logvar`` and the style
  expansion, which lives under ``spade_generator/linear`` (not ``fc_expand_z``: the original
  passes that name positionally into ``use_bias``). Our modules flatten / reshape in TF's
  (h, w, c) order, so dense kernels only need a transpose.

Optimizer state (``.../Adam``, ``.../Adam_1``, ``beta1_power``, ``beta2_power``,
``global_step``) is skipped. Any other unknown variable, or any missing one, aborts the
conversion before anything is written.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from torch import nn

from viewgen.convert.tf.tensor_bundle import TensorBundleReader
from viewgen.errors import WeightsError
from viewgen.networks import (
    MultiScaleDiscriminator,
    MultiScaleDiscriminatorConfig,
    SpadeGenerator,
    SpadeGeneratorConfig,
    StyleEncoder,
    StyleEncoderConfig,
)
from viewgen.networks.pretrained import (
    MANIFEST_FILE_NAME,
    check_state_dict,
    describe_mismatch,
    save_component,
    write_release_manifest,
)
from viewgen.staging import build_and_publish, check_replaceable

ENCODER_SCOPE = "generator/spade_encoder"
GENERATOR_SCOPE = "generator/spade_network_noenc/spade_generator"
DISCRIMINATOR_SCOPE = "spade_discriminator_{index}"
# What a release folder may hold (a pipeline saved by FlyThroughPipeline.save_pretrained adds its
# fly_through.json); converting over such a folder replaces it whole.
RELEASE_ENTRIES = ("style_encoder", "spade_generator", "discriminator", "fly_through.json", MANIFEST_FILE_NAME)
OPTIMIZER_VARIABLE_PATTERNS = (r".*/Adam(_\d+)?", r"beta[12]_power(_\d+)?", r"global_step")
L2_NORMALIZE_EPS = 1e-12

LayerKind = Literal["sn_conv", "conv", "dense"]


class CheckpointMismatchError(WeightsError, ValueError):
    """The checkpoint's variables do not match the networks (missing, unexpected or misshapen)."""


@dataclass(frozen=True)
class LayerMapping:
    """One layer: our parameter prefix (``weight``/``bias`` below it) and its TF scope."""

    key: str
    scope: str
    kind: LayerKind
    bias: bool = True

    def tf_names(self) -> dict[str, str]:
        """Role (``kernel``, ``bias``, ``u``) -> TF variable name."""
        base = {"sn_conv": self.scope, "conv": f"{self.scope}/conv2d", "dense": f"{self.scope}/dense"}[self.kind]
        names = {"kernel": f"{base}/kernel"}
        if self.bias:
            names["bias"] = f"{base}/bias"
        if self.kind == "sn_conv":
            names["u"] = f"{base}/u"
        return names

    def tf_shapes(self, weight_shape: Sequence[int]) -> dict[str, tuple[int, ...]]:
        """TF variable name -> shape, from the shape of our ``weight``."""
        out_channels = weight_shape[0]
        if self.kind == "dense":
            kernel = (weight_shape[1], out_channels)
        else:
            kernel = (weight_shape[2], weight_shape[3], weight_shape[1], out_channels)
        shapes = {"kernel": kernel, "bias": (out_channels,), "u": (1, out_channels)}
        return {name: shapes[role] for role, name in self.tf_names().items()}


@dataclass(frozen=True)
class ConversionSummary:
    """What :func:`convert_infinite_nature_checkpoint` wrote."""

    out_dir: Path
    component_dirs: dict[str, Path]
    num_variables_converted: int
    num_values_converted: int
    skipped_variables: tuple[str, ...]


def _resblock_layers(key: str, scope: str, has_shortcut: bool) -> Iterator[LayerMapping]:
    spades = ["spade_0", "spade_1"] + (["shortcut_spade"] if has_shortcut else [])
    for spade in spades:
        for conv in ("conv_cond", "gamma", "beta"):
            yield LayerMapping(f"{key}.{spade}.{conv}", f"{scope}/{spade}/{conv}", "conv")
    for conv in ("conv_0", "conv_1"):
        yield LayerMapping(f"{key}.{conv}", f"{scope}/{conv}", "sn_conv")
    if has_shortcut:
        yield LayerMapping(f"{key}.shortcut_conv", f"{scope}/shortcut_conv", "sn_conv", bias=False)


def encoder_layers(encoder: StyleEncoder) -> list[LayerMapping]:
    """The :class:`StyleEncoder` layers and their TF scopes."""
    layers = [LayerMapping(f"convs.{i}", f"{ENCODER_SCOPE}/conv_{i}", "sn_conv") for i in range(len(encoder.convs))]
    return layers + [LayerMapping(head, f"{ENCODER_SCOPE}/{head}", "dense") for head in ("linear_mu", "linear_logvar")]


def generator_layers(generator: SpadeGenerator) -> list[LayerMapping]:
    """The :class:`SpadeGenerator` layers and their TF scopes."""
    blocks = [("head", "head", generator.head)]
    blocks += [(f"middle.{i}", f"middle_{i}", block) for i, block in enumerate(generator.middle)]
    blocks += [(f"up.{i}", f"up_{i}", block) for i, block in enumerate(generator.up)]
    layers = [LayerMapping("fc_expand_z", f"{GENERATOR_SCOPE}/linear", "dense")]
    for key, scope, block in blocks:
        layers.extend(_resblock_layers(key, f"{GENERATOR_SCOPE}/{scope}", block.has_learned_shortcut))
    return layers + [LayerMapping("conv_out", f"{GENERATOR_SCOPE}/conv", "sn_conv")]


def discriminator_layers(discriminator: MultiScaleDiscriminator) -> list[LayerMapping]:
    """The :class:`MultiScaleDiscriminator` layers and their TF scopes."""
    layers = []
    for k, patch_discriminator in enumerate(discriminator.scales):
        scope = DISCRIMINATOR_SCOPE.format(index=k)
        layers.append(LayerMapping(f"scales.{k}.conv_in", f"{scope}/conv", "conv"))
        layers += [LayerMapping(f"scales.{k}.convs.{i}", f"{scope}/conv_{i + 1}", "sn_conv")
                   for i in range(len(patch_discriminator.convs))]  # fmt: skip
        layers.append(LayerMapping(f"scales.{k}.logit", f"{scope}/D_logit", "conv"))
    return layers


def bake_spectral_norm(kernel: np.ndarray, u: np.ndarray) -> np.ndarray:
    """``kernel / sigma`` with sigma from one power iteration from ``u``, as the original graph does.

    ``kernel [..., out]`` is viewed as ``W [K, out]``; ``u [1, out]``. In float32:
    ``v = l2n(u W^T)``, ``u' = l2n(v W)``, ``sigma = (v W) u'^T``, where ``l2n`` divides by
    ``sqrt(max(sum(x^2), 1e-12))`` (``tf.nn.l2_normalize``).
    """

    def l2_normalize(x: np.ndarray) -> np.ndarray:
        return x / np.sqrt(np.maximum(np.sum(np.square(x)), np.float32(L2_NORMALIZE_EPS)))

    kernel, u = kernel.astype(np.float32), u.astype(np.float32)
    matrix = kernel.reshape(-1, kernel.shape[-1])
    v = l2_normalize(u @ matrix.T)
    u_next = l2_normalize(v @ matrix)
    sigma = ((v @ matrix) @ u_next.T)[0, 0]
    return kernel / sigma


def _layer_state(layer: LayerMapping, arrays: Mapping[str, np.ndarray]) -> dict[str, torch.Tensor]:
    """Our ``weight``/``bias`` tensors of one layer from its TF arrays."""
    names = layer.tf_names()
    kernel = arrays[names["kernel"]]
    if layer.kind == "sn_conv":
        kernel = bake_spectral_norm(kernel, arrays[names["u"]])
    weight = torch.from_numpy(np.ascontiguousarray(kernel, dtype=np.float32))
    weight = weight.T if layer.kind == "dense" else weight.permute(3, 2, 0, 1)
    state = {f"{layer.key}.weight": weight.contiguous()}
    if layer.bias:
        state[f"{layer.key}.bias"] = torch.from_numpy(np.array(arrays[names["bias"]], dtype=np.float32))
    return state


def _is_skipped(name: str, patterns: Sequence[str]) -> bool:
    return any(re.fullmatch(pattern, name) for pattern in patterns)


@dataclass(frozen=True)
class _ComponentPlan:
    """One output folder: the (meta-device) module that fixes its shapes and its layer map."""

    folder: str
    module: nn.Module
    layers: list[LayerMapping]

    def expected_tf_shapes(self) -> dict[str, tuple[int, ...]]:
        shapes = {key: tuple(value.shape) for key, value in self.module.state_dict().items()}
        expected = {}
        for layer in self.layers:
            expected.update(layer.tf_shapes(shapes[f"{layer.key}.weight"]))
        return expected

    def state_dict(self, arrays: Mapping[str, np.ndarray], source: str) -> dict[str, torch.Tensor]:
        state = {key: value for layer in self.layers for key, value in _layer_state(layer, arrays).items()}
        check_state_dict({key: value.shape for key, value in self.module.state_dict().items()}, state, source)
        return state

    def save(self, out_dir: Path, state: Mapping[str, torch.Tensor]) -> Path:
        return save_component(out_dir / self.folder, type(self.module).__name__, self.module.config, state)


def _plan_components(
    with_discriminator: bool,
    encoder_config: StyleEncoderConfig | None,
    generator_config: SpadeGeneratorConfig | None,
    discriminator_config: MultiScaleDiscriminatorConfig | None,
) -> list[_ComponentPlan]:
    components = [
        ("style_encoder", StyleEncoder(encoder_config or StyleEncoderConfig()), encoder_layers),
        ("spade_generator", SpadeGenerator(generator_config or SpadeGeneratorConfig()), generator_layers),
    ]
    if with_discriminator:
        discriminator = MultiScaleDiscriminator(discriminator_config or MultiScaleDiscriminatorConfig())
        components.append(("discriminator", discriminator, discriminator_layers))
    return [_ComponentPlan(folder, module, layers_of(module)) for folder, module, layers_of in components]


def convert_infinite_nature_checkpoint(
    tf_checkpoint_prefix: str | Path,
    out_dir: str | Path,
    *,
    encoder_config: StyleEncoderConfig | None = None,
    generator_config: SpadeGeneratorConfig | None = None,
    discriminator_config: MultiScaleDiscriminatorConfig | None = None,
    extra_skip_patterns: Sequence[str] = (),
) -> ConversionSummary:
    """Convert an Infinite Nature TF checkpoint into ``out_dir/{style_encoder, spade_generator[, discriminator]}``.

    Args:
        tf_checkpoint_prefix: checkpoint prefix, e.g. ``ckpt/model.ckpt-6935893`` (the
            ``.index`` and ``.data-*`` files sit beside it).
        out_dir: output folder (created); component folders in it are overwritten.
        encoder_config, generator_config, discriminator_config: network shapes; the
            defaults are the released 160x256 model. The discriminator is converted only if
            the checkpoint holds ``spade_discriminator_*`` variables.
        extra_skip_patterns: further regular expressions (full match) of variable names to
            ignore, besides the optimizer state.

    Raises:
        CheckpointMismatchError: a variable is missing, unexpected or has the wrong shape;
            nothing is written then.
        viewgen.convert.tf.tensor_bundle.TensorBundleError: the checkpoint files are unreadable or corrupt.
    """
    reader = TensorBundleReader(tf_checkpoint_prefix)
    skip_patterns = (*OPTIMIZER_VARIABLE_PATTERNS, *extra_skip_patterns)
    skipped = tuple(name for name in reader.names() if _is_skipped(name, skip_patterns))
    found = {name: entry.shape for name, entry in reader.entries.items() if name not in skipped}
    with_discriminator = any(re.match(r"spade_discriminator_\d+/", name) for name in found)
    with torch.device("meta"):  # shapes only, no initialisation
        plans = _plan_components(with_discriminator, encoder_config, generator_config, discriminator_config)
    expected = {name: shape for plan in plans for name, shape in plan.expected_tf_shapes().items()}
    problems = describe_mismatch(expected, found, noun="variables")
    if problems:
        raise CheckpointMismatchError(f"checkpoint {tf_checkpoint_prefix} does not match the Infinite Nature networks "
                                      f"(nothing was written):\n{problems}")  # fmt: skip
    out_dir = Path(out_dir)
    target = _check_out_dir(out_dir)
    arrays = {name: reader.read(name) for name in expected}
    state_dicts = {plan.folder: plan.state_dict(arrays, str(tf_checkpoint_prefix)) for plan in plans}
    _write_release(plans, state_dicts, out_dir, target)
    return ConversionSummary(
        out_dir=out_dir,
        component_dirs={plan.folder: out_dir / plan.folder for plan in plans},
        num_variables_converted=len(arrays),
        num_values_converted=int(sum(array.size for array in arrays.values())),
        skipped_variables=skipped,
    )


def _check_out_dir(out_dir: Path) -> Path:
    """The folder to replace (a link's target); ``OSError`` if it holds anything but an earlier conversion."""
    target = Path(os.path.realpath(out_dir))
    check_replaceable(target, lambda entry: entry.name in RELEASE_ENTRIES, "converted Infinite Nature weights",
                      "convert into a new or empty folder")
    return target


def _write_release(plans: Sequence[_ComponentPlan], state_dicts: Mapping[str, Mapping[str, torch.Tensor]],
                   out_dir: Path, target: Path) -> None:
    """Write every component and the manifest into a hidden sibling of ``target``, then swap it in whole."""
    def fill(folder: Path) -> None:
        for plan in plans:
            plan.save(folder, state_dicts[plan.folder])
        write_release_manifest(folder, [plan.folder for plan in plans])

    build_and_publish(target, fill, "the converted weights", out_dir)
