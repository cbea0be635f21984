"""Broken inputs are described in words: no exception class names, no object reprs, no tracebacks."""

from __future__ import annotations

import os
import pickle
import re
import struct
import warnings

import pytest
import torch

from viewgen.errors import InputError, one_line
from viewgen.hub import WeightsFormatError, load_state_dict_file
from viewgen.io.rgbd_files import load_rgbd_file

INTERNALS = re.compile(r"\b\w+(Error|Exception)\b|0x[0-9a-f]{6,}|<\w")


def _npy_with_header(path, header: str, payload: bytes = b"\0" * 64):
    text = header + " " * (-(len(header) + 11) % 64) + "\n"
    path.write_bytes(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text.encode() + payload)
    return path


def _bad_files(tmp_path):
    yield "negative shape", _npy_with_header(tmp_path / "neg.npy", "{'descr': '<f4', 'fortran_order': False, "
                                                                  "'shape': (-10, 10, 4), }"), "negative size"
    yield "shape as an expression", _npy_with_header(tmp_path / "expr.npy", "{'descr': '<f4', 'fortran_order': "
                                                                            "False, 'shape': (10**9, 9), }"), "header"
    yield "random bytes", _write(tmp_path / "garbage.pkl", b"\xb0" + os.urandom(200)), "corrupt or truncated pickle"
    yield "a huge byte string", _write(tmp_path / "big.pkl", b"\x80\x04\x8e" + struct.pack("<Q", 10**12) + b"x."), (
        "more data than it holds")
    old_format = tmp_path / "checkpoint.pkl"
    torch.save({"weights": torch.zeros(2)}, old_format, _use_new_zipfile_serialization=False)
    yield "a torch.save checkpoint", old_format, "PyTorch checkpoint"
    zip_format = tmp_path / "checkpoint2.pkl"
    torch.save({"weights": torch.zeros(2)}, zip_format)
    yield "a torch.save zip checkpoint", zip_format, "PyTorch checkpoint"


def _write(path, data: bytes):
    path.write_bytes(data)
    return path


def test_broken_rgbd_files_are_described_in_words(tmp_path):
    for case, path, expected in _bad_files(tmp_path):
        with pytest.raises(InputError) as caught:
            load_rgbd_file(path)
        message = str(caught.value)
        assert expected in message, case
        assert "\n" not in message and not INTERNALS.search(message), (case, message)


def test_a_pickle_weights_file_gives_no_library_warning(tmp_path):
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps(os.system, protocol=4))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning would fail here
        with pytest.raises(WeightsFormatError, match="evil.pkl"):
            load_state_dict_file(path)


def test_one_line_hides_object_reprs():
    error = ValueError("cannot identify image file <_io.BytesIO object at 0x7f3a2b1c0d90>\n  more")
    assert one_line(error) == "cannot identify image file an object more"


def test_one_line_words_an_os_error_without_its_errno():
    error = OSError(36, "File name too long", "x" * 20 + ".mp4")
    assert one_line(error) == "xxxxxxxxxxxxxxxxxxxx.mp4: File name too long"
    assert one_line(OSError(2, "No such file or directory")) == "No such file or directory"
    assert one_line(OSError("already in words")) == "already in words"
