import errno
import functools
import os
import shutil

import numpy as np
import pytest
import torch

import viewgen.convert
from viewgen.cli.main import main
from viewgen.convert import (
    CheckpointMismatchError,
    bake_spectral_norm,
    convert_infinite_nature_checkpoint,
    write_tensor_bundle,
)
from viewgen.convert.infinite_nature import discriminator_layers, encoder_layers, generator_layers
from viewgen.hub import WeightsFormatError
from viewgen.networks import (
    MultiScaleDiscriminator,
    MultiScaleDiscriminatorConfig,
    PatchDiscriminatorConfig,
    SpadeGenerator,
    SpadeGeneratorConfig,
    StyleEncoder,
    StyleEncoderConfig,
    pretrained,
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


# ------------------------------------------------------------------- all or nothing, never mixed


def _convert(tmp_path, out_dir, seed: int, with_discriminator: bool = False):
    torch.manual_seed(seed)
    modules = _tiny_modules(with_discriminator)
    torch.manual_seed(seed)
    for module, _ in modules:  # weights that differ from one seed to the next
        for parameter in module.parameters():
            parameter.data.normal_()
    write_tensor_bundle(tmp_path / f"tf{seed}" / "model.ckpt", _as_tf_variables(modules))
    return convert_infinite_nature_checkpoint(tmp_path / f"tf{seed}" / "model.ckpt", out_dir, **CONFIGS)


def _snapshot(folder):
    return {path.relative_to(folder): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


def _disk_full_at(monkeypatch, file_name: str, component: str):
    """Make the write of ``component/file_name`` fail halfway with ENOSPC, as a full disk does."""
    real_write = pretrained.write_file_atomic

    def write(path, write_content):
        if path.name == file_name and path.parent.name == component:
            def half_then_full(stream):
                stream.write(b"\0" * 64)
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
            return real_write(path, half_then_full)
        return real_write(path, write_content)

    monkeypatch.setattr(pretrained, "write_file_atomic", write)


def test_a_full_disk_leaves_the_older_conversion_whole(tmp_path, monkeypatch):
    out_dir = tmp_path / "weights"
    _convert(tmp_path, out_dir, seed=1, with_discriminator=True)
    before = _snapshot(out_dir)
    _disk_full_at(monkeypatch, "model.safetensors", "spade_generator")
    with pytest.raises(OSError) as error:
        _convert(tmp_path, out_dir, seed=2)
    message = str(error.value)
    assert "\n" not in message and str(out_dir) in message and "No space left on device" in message
    assert ".partial" not in message and "nothing was changed" in message
    assert _snapshot(out_dir) == before
    assert sorted(path.name for path in tmp_path.iterdir()) == ["tf1", "tf2", "weights"]
    SpadeGenerator.from_pretrained(out_dir / "spade_generator")


def test_the_cli_reports_a_full_disk_in_one_line(tmp_path, monkeypatch, capsys):
    _convert(tmp_path, tmp_path / "unused", seed=3)  # writes the TF bundle tf3/
    _disk_full_at(monkeypatch, "config.json", "style_encoder")
    tiny = functools.partial(convert_infinite_nature_checkpoint, **CONFIGS)
    monkeypatch.setattr(viewgen.convert, "convert_infinite_nature_checkpoint", tiny)
    out_dir = tmp_path / "weights"
    code = main(["convert", "infinite-nature", str(tmp_path / "tf3" / "model.ckpt"), str(out_dir)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and err.startswith("viewgen: error: cannot write the converted")
    assert "nothing was written" in err and not out_dir.exists()


def test_a_new_conversion_replaces_the_old_one_whole(tmp_path):
    out_dir = tmp_path / "weights"
    _convert(tmp_path, out_dir, seed=4, with_discriminator=True)
    _convert(tmp_path, out_dir, seed=5)
    assert sorted(path.name for path in out_dir.iterdir()) == ["manifest.json", "spade_generator", "style_encoder"]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["tf4", "tf5", "weights"]
    for path in out_dir.rglob("*.safetensors"):
        assert path.stat().st_mode & 0o044 == 0o044  # readable by others under the default umask


def test_components_of_two_conversions_are_not_mixed_silently(tmp_path):
    _convert(tmp_path, tmp_path / "a", seed=6)
    _convert(tmp_path, tmp_path / "b", seed=7)
    shutil.rmtree(tmp_path / "a" / "spade_generator")
    shutil.copytree(tmp_path / "b" / "spade_generator", tmp_path / "a" / "spade_generator")
    StyleEncoder.from_pretrained(tmp_path / "a" / "style_encoder")
    with pytest.raises(WeightsFormatError, match="mixed"):
        SpadeGenerator.from_pretrained(tmp_path / "a" / "spade_generator")


def test_a_folder_with_other_files_is_refused_before_any_work(tmp_path):
    out_dir = tmp_path / "weights"
    out_dir.mkdir()
    (out_dir / "notes.txt").write_text("mine")
    with pytest.raises(OSError, match="notes.txt"):
        _convert(tmp_path, out_dir, seed=8)
    assert [path.name for path in out_dir.iterdir()] == ["notes.txt"]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["tf8", "weights"]


def test_a_folder_saved_by_the_pipeline_can_be_converted_over(tmp_path):
    """FlyThroughPipeline.save_pretrained adds fly_through.json to a release; that folder is ours too."""
    out_dir = tmp_path / "weights"
    _convert(tmp_path, out_dir, seed=9)
    (out_dir / "fly_through.json").write_text("{}\n")
    _convert(tmp_path, out_dir, seed=10)
    assert sorted(path.name for path in out_dir.iterdir()) == ["manifest.json", "spade_generator", "style_encoder"]
