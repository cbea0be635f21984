"""viewgen's own error types: each also the builtin a caller expects; one formatter for one-line messages."""

import pytest

from viewgen import errors
from viewgen.errors import InputError, OutputError, ViewgenError, ViewgenRuntimeError, WeightsError, one_line


def _own_types():
    from viewgen.convert.infinite_nature import CheckpointMismatchError
    from viewgen.convert.tf.sstable import TableFormatError
    from viewgen.convert.tf.tensor_bundle import TensorBundleError
    from viewgen.depth.base import DepthError, MissingDependencyError, UnknownBackendError
    from viewgen.hub import WeightsDownloadError, WeightsFormatError, WeightsNotFoundError
    from viewgen.io.images import ImageFileError
    from viewgen.io.rgbd_files import UnsafePickleError
    from viewgen.networks.pretrained import StateDictMismatchError
    from viewgen.pipelines import MissingWeightsError
    from viewgen.staging import WriteError

    return {
        InputError: ValueError, ImageFileError: ValueError, UnsafePickleError: ValueError,
        DepthError: ValueError, UnknownBackendError: ValueError, MissingDependencyError: OSError,
        OutputError: OSError, WriteError: OSError, ViewgenRuntimeError: RuntimeError,
        WeightsNotFoundError: FileNotFoundError, MissingWeightsError: FileNotFoundError,
        WeightsDownloadError: OSError, WeightsFormatError: ValueError, StateDictMismatchError: ValueError,
        TensorBundleError: ValueError, TableFormatError: ValueError, CheckpointMismatchError: ValueError,
    }


def test_every_own_error_is_a_viewgen_error_and_the_expected_builtin():
    for error_type, builtin in _own_types().items():
        assert issubclass(error_type, ViewgenError), error_type
        assert issubclass(error_type, builtin), error_type


def test_weights_errors_share_a_base():
    from viewgen.hub import WeightsDownloadError, WeightsFormatError, WeightsNotFoundError
    from viewgen.pipelines import MissingWeightsError

    for error_type in (WeightsDownloadError, WeightsFormatError, WeightsNotFoundError, MissingWeightsError):
        assert issubclass(error_type, WeightsError)


def test_input_error_is_the_one_of_rgbd_files():
    from viewgen.io import rgbd_files

    assert rgbd_files.InputError is errors.InputError


@pytest.mark.parametrize("error, expected", [
    (ValueError("cannot read\n  x.png:\tbroken "), "cannot read x.png: broken"),
    (KeyError(), "KeyError"),
    (OSError(2, "No such file or directory"), "No such file or directory"),
    (OSError(2, "No such file or directory", "x.png"), "x.png: No such file or directory"),
])
def test_one_line(error, expected):
    assert one_line(error) == expected


def test_one_line_cuts_long_messages():
    assert one_line(ValueError("x" * 50), limit=10) == "x" * 7 + "..."
    assert one_line(ValueError("short"), limit=10) == "short"
