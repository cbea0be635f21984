"""Read and write TensorFlow "V2" checkpoints (tensor bundles) without TensorFlow.

A checkpoint with prefix ``P`` is a set of files:

* ``P.index``: a sorted-string table (:mod:`viewgen.convert.tf.sstable`). The entry with the
  empty key holds a ``BundleHeaderProto`` (number of data shards, byte order); every other
  key is a variable name whose value is a ``BundleEntryProto``: dtype, shape, the shard
  holding the bytes, their offset and size, and the masked CRC-32C of those bytes.
* ``P.data-00000-of-0000N``: the shards, raw tensor bytes one after another.

The protobuf messages are decoded by a small hand-written wire-format reader: the
messages have a handful of scalar fields, and ~60 lines here avoid depending on
``tensorflow`` or on generated protobuf schemas. Field numbers follow
``tensorflow/core/protobuf/tensor_bundle.proto``::

    BundleHeaderProto { int32 num_shards = 1; Endianness endianness = 2; VersionDef version = 3; }
    BundleEntryProto  { DataType dtype = 1; TensorShapeProto shape = 2; int32 shard_id = 3;
                        int64 offset = 4; int64 size = 5; fixed32 crc32c = 6;
                        repeated TensorSliceProto slices = 7; }
    TensorShapeProto  { repeated Dim dim = 2 { int64 size = 1; string name = 2; }; bool unknown_rank = 3; }

Plain numeric dtypes are supported (bfloat16 is widened to float32); strings, resources,
variants and partitioned (sliced) variables are refused with a clear error. Every tensor
read is checked against its stored CRC-32C.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from viewgen.convert.tf.crc32c import crc32c, mask_crc32c, unmask_crc32c
from viewgen.convert.tf.sstable import TableFormatError, build_table, encode_varint, read_table, read_varint
from viewgen.errors import WeightsError

# TensorFlow DataType enum value -> numpy dtype (little-endian; byte order is applied on read).
_NUMPY_DTYPES = {
    1: np.float32, 2: np.float64, 3: np.int32, 4: np.uint8, 5: np.int16, 6: np.int8,
    8: np.complex64, 9: np.int64, 10: np.bool_, 17: np.uint16, 18: np.complex128,
    19: np.float16, 22: np.uint32, 23: np.uint64,
}  # fmt: skip
_BFLOAT16 = 14
_TF_DTYPE_NAMES = {7: "string", 14: "bfloat16", 20: "resource", 21: "variant"}
_WIRE_VARINT, _WIRE_FIXED64, _WIRE_BYTES, _WIRE_FIXED32 = 0, 1, 2, 5


class TensorBundleError(WeightsError, ValueError):
    """A checkpoint file is missing, truncated, corrupt, or uses an unsupported feature."""


class BundleChecksumError(TensorBundleError):
    """A tensor's bytes do not match the CRC-32C stored in the index."""


@dataclass(frozen=True)
class BundleEntry:
    """Where one variable lives: its dtype (TensorFlow enum), shape and byte range in a shard."""

    name: str
    tf_dtype: int
    shape: tuple[int, ...]
    shard_id: int
    offset: int
    size: int
    masked_crc32c: int

    @property
    def dtype_name(self) -> str:
        """numpy-style dtype name, e.g. ``"float32"``."""
        if self.tf_dtype in _NUMPY_DTYPES:
            return np.dtype(_NUMPY_DTYPES[self.tf_dtype]).name
        return _TF_DTYPE_NAMES.get(self.tf_dtype, f"tf_dtype_{self.tf_dtype}")


def _iter_fields(message: bytes) -> Iterator[tuple[int, int | bytes]]:
    """Yield ``(field_number, value)`` of a protobuf message: ints for varint/fixed, bytes for length-delimited."""
    pos = 0
    while pos < len(message):
        tag, pos = read_varint(message, pos, "protobuf tag")
        number, wire_type = tag >> 3, tag & 7
        if wire_type == _WIRE_VARINT:
            value, pos = read_varint(message, pos, "protobuf varint")
        elif wire_type in (_WIRE_FIXED32, _WIRE_FIXED64):
            width = 4 if wire_type == _WIRE_FIXED32 else 8
            if pos + width > len(message):
                raise TensorBundleError(f"truncated fixed{8 * width} protobuf field {number}")
            value = int.from_bytes(message[pos : pos + width], "little")
            pos += width
        elif wire_type == _WIRE_BYTES:
            length, pos = read_varint(message, pos, "protobuf length")
            if pos + length > len(message):
                raise TensorBundleError(f"truncated length-delimited protobuf field {number}")
            value, pos = message[pos : pos + length], pos + length
        else:
            raise TensorBundleError(f"unsupported protobuf wire type {wire_type} (field {number})")
        yield number, value


def _decode_shape(message: bytes) -> tuple[int, ...]:
    dims = []
    for number, value in _iter_fields(message):
        if number == 2:
            dims.append(dict(_iter_fields(value)).get(1, 0))
        elif number == 3 and value:
            raise TensorBundleError("tensor shape of unknown rank")
    return tuple(dims)


def _decode_entry(name: str, message: bytes) -> BundleEntry:
    fields: dict[str, object] = {"tf_dtype": 0, "shape": (), "shard_id": 0, "offset": 0, "size": 0, "masked_crc32c": 0}
    names = {1: "tf_dtype", 3: "shard_id", 4: "offset", 5: "size", 6: "masked_crc32c"}
    for number, value in _iter_fields(message):
        if number == 2:
            fields["shape"] = _decode_shape(value)
        elif number == 7:
            raise TensorBundleError(f"{name!r} is a partitioned (sliced) variable, which is not supported")
        elif number in names:
            fields[names[number]] = value
    return BundleEntry(name=name, **fields)


def _varint_field(number: int, value: int) -> bytes:
    """A varint field; omitted when zero, as proto3 writers do."""
    return encode_varint(number << 3 | _WIRE_VARINT) + encode_varint(value) if value else b""


def _bytes_field(number: int, payload: bytes) -> bytes:
    return encode_varint(number << 3 | _WIRE_BYTES) + encode_varint(len(payload)) + payload


def _encode_entry(tf_dtype: int, shape: tuple[int, ...], offset: int, size: int, crc: int) -> bytes:
    shape_message = b"".join(_bytes_field(2, _varint_field(1, dim)) for dim in shape)
    crc_field = encode_varint(6 << 3 | _WIRE_FIXED32) + struct.pack("<I", mask_crc32c(crc))
    return (
        _varint_field(1, tf_dtype) + _bytes_field(2, shape_message) + _varint_field(4, offset)
        + _varint_field(5, size) + crc_field
    )  # fmt: skip


def _encode_header(num_shards: int) -> bytes:
    """Little-endian (the default, so omitted), format version 1."""
    return _varint_field(1, num_shards) + _bytes_field(3, _varint_field(1, 1))


def data_shard_path(prefix: str | Path, shard_id: int, num_shards: int) -> Path:
    """``PREFIX.data-XXXXX-of-YYYYY``."""
    return Path(f"{prefix}.data-{shard_id:05d}-of-{num_shards:05d}")


class TensorBundleReader:
    """Random access to the variables of a TensorFlow V2 checkpoint.

    >>> reader = TensorBundleReader("ckpt/model.ckpt-6935893")   # doctest: +SKIP
    >>> reader.entries["generator/spade_encoder/conv_0/kernel"].shape   # doctest: +SKIP
    (3, 3, 4, 16)
    """

    def __init__(self, prefix: str | Path):
        self.prefix = Path(prefix)
        index_path = Path(f"{prefix}.index")
        if not index_path.is_file():
            raise TensorBundleError(f"checkpoint index not found: {index_path}")
        try:
            table = read_table(index_path.read_bytes())
        except TableFormatError as error:
            raise TensorBundleError(f"{index_path}: {error}") from None
        if not table or table[0][0] != b"":
            raise TensorBundleError(f"{index_path}: no bundle header entry (not a V2 checkpoint index?)")
        header = dict(_iter_fields(table[0][1]))
        self.num_shards = int(header.get(1, 1))
        self.byte_order = ">" if header.get(2, 0) == 1 else "<"
        self.entries: dict[str, BundleEntry] = {
            key.decode("utf-8"): _decode_entry(key.decode("utf-8"), value) for key, value in table[1:]
        }

    def names(self) -> list[str]:
        """Variable names in stored (sorted) order."""
        return list(self.entries)

    def read(self, name: str) -> np.ndarray:
        """The variable ``name`` as a numpy array, after checking its CRC-32C."""
        entry = self.entries.get(name)
        if entry is None:
            raise KeyError(f"no variable {name!r} in checkpoint {self.prefix}")
        if entry.tf_dtype not in _NUMPY_DTYPES and entry.tf_dtype != _BFLOAT16:
            raise TensorBundleError(f"{name!r} has unsupported dtype {entry.dtype_name}")
        raw = self._read_bytes(entry)
        if unmask_crc32c(entry.masked_crc32c) != crc32c(raw):
            shard = data_shard_path(self.prefix, entry.shard_id, self.num_shards)
            span = f"bytes {entry.offset}..{entry.offset + entry.size}"
            raise BundleChecksumError(f"checksum mismatch for {name!r} in {shard} ({span}): the data file is corrupt")
        if entry.tf_dtype == _BFLOAT16:
            widened = np.frombuffer(raw, np.dtype(np.uint16).newbyteorder(self.byte_order)).astype(np.uint32) << 16
            return widened.view(np.float32).reshape(entry.shape)
        dtype = np.dtype(_NUMPY_DTYPES[entry.tf_dtype]).newbyteorder(self.byte_order)
        if entry.size != int(np.prod(entry.shape)) * dtype.itemsize:
            raise TensorBundleError(f"{name!r}: {entry.size} bytes do not hold shape {entry.shape} of {dtype.name}")
        return np.frombuffer(raw, dtype).astype(dtype.newbyteorder("="), copy=True).reshape(entry.shape)

    def _read_bytes(self, entry: BundleEntry) -> bytes:
        path = data_shard_path(self.prefix, entry.shard_id, self.num_shards)
        if not path.is_file():
            raise TensorBundleError(f"checkpoint data shard not found: {path}")
        with open(path, "rb") as shard:
            shard.seek(entry.offset)
            raw = shard.read(entry.size)
        if len(raw) != entry.size:
            span = f"bytes {entry.offset}..{entry.offset + entry.size}"
            raise TensorBundleError(f"{path} is truncated: {entry.name!r} needs {span}")
        return raw


def read_tensor_bundle(prefix: str | Path) -> dict[str, np.ndarray]:
    """Every variable of a checkpoint, by name."""
    reader = TensorBundleReader(prefix)
    return {name: reader.read(name) for name in reader.names()}


def write_tensor_bundle(prefix: str | Path, tensors: Mapping[str, np.ndarray]) -> None:
    """Write ``tensors`` as a single-shard V2 checkpoint, in the byte layout TensorFlow's own writer uses.

    The data shard and the index entries are identical to TensorFlow's for the same tensors;
    only the table's block boundaries and index separator keys may differ.
    """
    tf_dtypes = {np.dtype(dtype): number for number, dtype in _NUMPY_DTYPES.items()}
    entries, offset = [], 0
    data_path = data_shard_path(prefix, 0, 1)
    data_path.parent.mkdir(parents=True, exist_ok=True)
    with open(data_path, "wb") as shard:
        for name in sorted(tensors):
            array = np.asarray(tensors[name])
            if array.dtype not in tf_dtypes:
                raise TypeError(f"{name!r}: dtype {array.dtype} has no TensorFlow counterpart here")
            raw = array.astype(array.dtype.newbyteorder("<"), copy=False).tobytes()
            shard.write(raw)
            message = _encode_entry(tf_dtypes[array.dtype], array.shape, offset, len(raw), crc32c(raw))
            entries.append((name.encode("utf-8"), message))
            offset += len(raw)
    Path(f"{prefix}.index").write_bytes(build_table([(b"", _encode_header(num_shards=1)), *entries]))
