import numpy as np
import pytest
import torch

from viewgen.convert import (
    CheckpointMismatchError,
    bake_spectral_norm,
    convert_infinite_nature_checkpoint,
    write_tensor_bundle,
)
from viewgen.convert.infinite_nature import discriminator_layers, encoder_layers, generator_layers
from viewgen.networks import (
    MultiScaleDiscriminator,
    MultiScaleDiscriminatorConfig,
    PatchDiscriminatorConfig,
    SpadeGenerator,
    SpadeGeneratorConfig,
    StyleEncoder,
    StyleEncoderConfig,
)

CONFIGS = {
    "encoder_config": StyleEncoderConfig(image_size=(64, 128), channels=(4, 4, 8, 8, 8, 8), style_dim=6),
    "generator_config": SpadeGeneratorConfig(image_size=(64, 128), style_dim=6, base_channels=16,
                                             up_channels=(8, 8, 4, 4), spade_hidden_channels=8),
    "discriminator_config": MultiScaleDiscriminatorConfig(
        patch=PatchDiscriminatorConfig(base_channels=4, max_channels=16)
    ),
}  # fmt: skip


def _tiny_modules(with_discriminator: bool):
    torch.manual_seed(0)
    modules = [
        (StyleEncoder(CONFIGS["encoder_config"]), encoder_layers),
        (SpadeGenerator(CONFIGS["generator_config"]), generator_layers),
    ]
    if with_discriminator:
        modules.append((MultiScaleDiscriminator(CONFIGS["discriminator_config"]), discriminator_layers))
    return modules


def _as_tf_variables(modules) -> dict[str, np.ndarray]:
    """Our weights under their TF names and layouts, with a random power-iteration ``u`` per SN conv."""
    rng = np.random.default_rng(0)
    variables = {}
    for module, layers_of in modules:
        state = module.state_dict()
        for layer in layers_of(module):
            names, weight = layer.tf_names(), state[f"{layer.key}.weight"]
            kernel = weight.T if layer.kind == "dense" else weight.permute(2, 3, 1, 0)
            variables[names["kernel"]] = kernel.numpy().copy()
            if layer.bias:
                variables[names["bias"]] = state[f"{layer.key}.bias"].numpy().copy()
            if layer.kind == "sn_conv":
                variables[names["u"]] = rng.standard_normal((1, weight.shape[0])).astype(np.float32)
    return variables


def _sigma_float64(kernel: np.ndarray, u: np.ndarray) -> float:
    matrix = kernel.astype(np.float64).reshape(-1, kernel.shape[-1])
    v = u @ matrix.T
    v /= np.linalg.norm(v)
    u_next = v @ matrix
    u_next /= np.linalg.norm(u_next)
    return float((v @ matrix @ u_next.T)[0, 0])


def test_bake_spectral_norm_divides_by_the_one_step_estimate():
    rng = np.random.default_rng(1)
    kernel = rng.standard_normal((3, 3, 5, 7)).astype(np.float32)
    u = rng.standard_normal((1, 7)).astype(np.float32)
    baked = bake_spectral_norm(kernel, u)
    assert baked.dtype == np.float32
    np.testing.assert_allclose(baked, kernel / _sigma_float64(kernel, u), rtol=1e-5)
    # One iteration underestimates the top singular value, never overestimates it.
    assert _sigma_float64(kernel, u) <= np.linalg.svd(kernel.reshape(-1, 7), compute_uv=False)[0] + 1e-9


@pytest.mark.parametrize("with_discriminator", [False, True])
def test_tiny_round_trip_through_a_tf_bundle(tmp_path, with_discriminator):
    modules = _tiny_modules(with_discriminator)
    variables = _as_tf_variables(modules)
    variables.update({"global_step": np.array(7, np.int64), "beta1_power": np.array(0.5, np.float32),
                      "generator/spade_encoder/conv_0/kernel/Adam_1": np.zeros((3, 3, 4, 4), np.float32)})  # fmt: skip
    write_tensor_bundle(tmp_path / "tf" / "model.ckpt", variables)
    summary = convert_infinite_nature_checkpoint(tmp_path / "tf" / "model.ckpt", tmp_path / "out", **CONFIGS)
    folders = ["style_encoder", "spade_generator", "discriminator"][: len(modules)]
    assert list(summary.component_dirs) == folders
    assert summary.skipped_variables == ("beta1_power", "generator/spade_encoder/conv_0/kernel/Adam_1", "global_step")
    assert summary.num_variables_converted == len(variables) - 3
    for (module, layers_of), folder in zip(modules, folders):
        loaded = type(module).from_pretrained(tmp_path / "out" / folder)
        original, converted = module.state_dict(), loaded.state_dict()
        for layer in layers_of(module):
            expected = original[f"{layer.key}.weight"]
            if layer.kind == "sn_conv":
                names = layer.tf_names()
                expected = expected / _sigma_float64(variables[names["kernel"]], variables[names["u"]])
            torch.testing.assert_close(converted[f"{layer.key}.weight"], expected.float(), rtol=1e-5, atol=1e-7)
            if layer.bias:
                assert torch.equal(converted[f"{layer.key}.bias"], original[f"{layer.key}.bias"])


def _assert_refused(tmp_path, variables, *patterns):
    write_tensor_bundle(tmp_path / "tf" / "model.ckpt", variables)
    out_dir = tmp_path / "out"
    with pytest.raises(CheckpointMismatchError) as error:
        convert_infinite_nature_checkpoint(tmp_path / "tf" / "model.ckpt", out_dir, **CONFIGS)
    message = str(error.value)
    assert "nothing was written" in message
    for pattern in patterns:
        assert pattern in message
    assert not out_dir.exists()


def test_missing_variable_is_refused_and_nothing_is_written(tmp_path):
    variables = _as_tf_variables(_tiny_modules(False))
    del variables["generator/spade_network_noenc/spade_generator/up_2/shortcut_conv/u"]
    missing = "generator/spade_network_noenc/spade_generator/up_2/shortcut_conv/u"
    _assert_refused(tmp_path, variables, f"missing variables (1):\n    {missing}")


def test_unexpected_variable_is_refused_and_nothing_is_written(tmp_path):
    variables = _as_tf_variables(_tiny_modules(False))
    variables["generator/spade_encoder/conv_6/kernel"] = np.zeros((3, 3, 8, 8), np.float32)
    variables["generator/spade_network_noenc/spade_generator/fc_expand_z/dense/bias"] = np.zeros(3, np.float32)
    _assert_refused(tmp_path, variables, "unexpected variables (2):", "conv_6/kernel", "fc_expand_z/dense/bias")


def test_misshapen_variable_is_refused(tmp_path):
    variables = _as_tf_variables(_tiny_modules(False))
    variables["generator/spade_encoder/linear_mu/dense/bias"] = np.zeros(5, np.float32)
    _assert_refused(tmp_path, variables, "generator/spade_encoder/linear_mu/dense/bias: expected (6,), found (5,)")


def test_partial_discriminator_is_refused(tmp_path):
    variables = _as_tf_variables(_tiny_modules(True))
    for name in [name for name in variables if name.startswith("spade_discriminator_1/")]:
        del variables[name]
    _assert_refused(tmp_path, variables, "spade_discriminator_1/D_logit/conv2d/kernel")
