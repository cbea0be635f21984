import shutil

import numpy as np
import pytest

from tests.helpers.shared import shared_path
from viewgen.convert import (
    BundleChecksumError,
    TensorBundleError,
    TensorBundleReader,
    read_tensor_bundle,
    write_tensor_bundle,
)


def _listed_variables() -> dict[str, tuple[tuple[int, ...], str]]:
    """``variables.txt`` of the fixture: name -> (shape, dtype)."""
    listed = {}
    for line in shared_path("fixtures", "infinite_nature", "variables.txt").read_text().splitlines():
        name, shape, dtype = line.split("\t")
        listed[name] = (tuple(int(d) for d in shape.strip("[]").split(",") if d.strip()), dtype)
    return listed


def test_fixture_index_lists_the_expected_variables(infinite_nature_prefix):
    reader = TensorBundleReader(infinite_nature_prefix)
    found = {name: (entry.shape, entry.dtype_name) for name, entry in reader.entries.items()}
    assert found == _listed_variables()
    assert reader.num_shards == 1


def test_fixture_tensors_read_with_their_checksums(infinite_nature_prefix):
    reader = TensorBundleReader(infinite_nature_prefix)
    kernel = reader.read("generator/spade_encoder/conv_0/kernel")
    assert kernel.shape == (3, 3, 4, 16) and kernel.dtype == np.float32
    bias = reader.read("generator/spade_encoder/conv_0/bias")
    assert np.all(bias * 32 == np.round(bias * 32))  # the fixture's biases are multiples of 1/32


def _copy_checkpoint(prefix, destination):
    destination.mkdir()
    for path in prefix.parent.glob(prefix.name + ".*"):
        shutil.copyfile(path, destination / path.name)
    return destination / prefix.name


def test_corrupt_data_byte_gives_a_checksum_error(infinite_nature_prefix, tmp_path):
    prefix = _copy_checkpoint(infinite_nature_prefix, tmp_path / "corrupt")
    reader = TensorBundleReader(prefix)
    entry = reader.entries["generator/spade_encoder/conv_1/kernel"]
    with open(f"{prefix}.data-00000-of-00001", "r+b") as shard:
        shard.seek(entry.offset + 17)
        byte = shard.read(1)
        shard.seek(entry.offset + 17)
        shard.write(bytes([byte[0] ^ 0x01]))
    with pytest.raises(BundleChecksumError, match="checksum mismatch for 'generator/spade_encoder/conv_1/kernel'"):
        reader.read("generator/spade_encoder/conv_1/kernel")
    reader.read("generator/spade_encoder/conv_0/kernel")  # other tensors stay readable


def test_truncated_index_gives_a_clear_error(infinite_nature_prefix, tmp_path):
    prefix = _copy_checkpoint(infinite_nature_prefix, tmp_path / "truncated")
    index = prefix.parent / (prefix.name + ".index")
    index.write_bytes(index.read_bytes()[:-100])
    with pytest.raises(TensorBundleError, match="truncated or not a table"):
        TensorBundleReader(prefix)


def test_truncated_data_shard_gives_a_clear_error(tmp_path):
    write_tensor_bundle(tmp_path / "ckpt", {"a": np.ones(10, np.float32), "b": np.ones(1000, np.float32)})
    shard = tmp_path / "ckpt.data-00000-of-00001"
    shard.write_bytes(shard.read_bytes()[:-8])
    with pytest.raises(TensorBundleError, match="is truncated: 'b' needs bytes"):
        read_tensor_bundle(tmp_path / "ckpt")


def test_missing_files_are_named(tmp_path):
    with pytest.raises(TensorBundleError, match="index not found"):
        TensorBundleReader(tmp_path / "nothing")
    write_tensor_bundle(tmp_path / "ckpt", {"a": np.ones(3, np.float32)})
    (tmp_path / "ckpt.data-00000-of-00001").unlink()
    with pytest.raises(TensorBundleError, match="data shard not found"):
        TensorBundleReader(tmp_path / "ckpt").read("a")


def test_write_read_round_trip_of_plain_dtypes(tmp_path):
    rng = np.random.default_rng(0)
    tensors = {
        "model/kernel": rng.standard_normal((3, 3, 2, 5)).astype(np.float32),
        "model/double": rng.standard_normal(7),
        "model/half": rng.standard_normal((2, 2)).astype(np.float16),
        "global_step": np.array(6935893, dtype=np.int64),
        "flags": np.array([True, False, True]),
        "pixels": rng.integers(0, 256, (4, 4), dtype=np.uint8),
        "counts": np.arange(-3, 3, dtype=np.int32),
        "empty": np.zeros((0, 3), np.float32),
    }
    write_tensor_bundle(tmp_path / "ckpt", tensors)
    restored = read_tensor_bundle(tmp_path / "ckpt")
    assert restored.keys() == tensors.keys()
    for name, array in tensors.items():
        assert restored[name].dtype == array.dtype and restored[name].shape == array.shape
        np.testing.assert_array_equal(restored[name], array)


def test_unknown_variable_read_is_a_key_error(tmp_path):
    write_tensor_bundle(tmp_path / "ckpt", {"a": np.ones(3, np.float32)})
    with pytest.raises(KeyError, match="no variable 'b'"):
        TensorBundleReader(tmp_path / "ckpt").read("b")
