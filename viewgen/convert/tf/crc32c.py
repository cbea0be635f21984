"""CRC-32C (Castagnoli) in numpy, and the "masked" form that TensorFlow stores.

TensorFlow checksums every block of a checkpoint index and every tensor of a data shard
with CRC-32C (polynomial 0x82F63B78 in reflected form) and stores the value *masked*:
rotated right by 15 bits plus a constant, so that a CRC of data that itself holds CRCs
does not degenerate.

Python's ``zlib.crc32`` is the other polynomial (IEEE), so we compute CRC-32C here rather
than add a compiled dependency. A byte-at-a-time loop in Python would take minutes for a
143 MB shard; instead the data is cut into many equal chunks that are processed side by
side as numpy columns, and the chunk CRCs are then merged pairwise in a tree. Merging uses
linearity: with a zero start register, ``crc(A + B) = shift_{len(B)}(crc(A)) ^ crc(B)``,
where ``shift_n`` (the effect of ``n`` zero bytes on the register) is a fixed 32x32 bit
matrix, applied through four 256-entry lookup tables.
"""

from __future__ import annotations

import numpy as np

_POLYNOMIAL_REFLECTED = 0x82F63B78
_MASK_DELTA = 0xA282EAD8
_CHUNK_BYTES = 64  # bytes per column in the parallel pass
_MIN_PARALLEL_BYTES = 1024  # below this a plain loop is faster


def _byte_table() -> np.ndarray:
    """The classic 256-entry table of the reflected CRC-32C register, as uint32."""
    register = np.arange(256, dtype=np.uint32)
    for _ in range(8):
        register = np.where(register & 1, (register >> 1) ^ _POLYNOMIAL_REFLECTED, register >> 1)
    return register.astype(np.uint32)


_TABLE = _byte_table()
_TABLE_LIST = _TABLE.tolist()


def _feed_zero_bytes(registers: np.ndarray, count: int) -> np.ndarray:
    """Advance uint32 registers by ``count`` zero bytes (slow; only used to seed tables)."""
    for _ in range(count):
        registers = _TABLE[registers & 0xFF] ^ (registers >> 8)
    return registers


def _tables_from_columns(columns: np.ndarray) -> np.ndarray:
    """[4, 256] lookup tables of the linear map whose images of the 32 unit bits are ``columns``."""
    bits = (np.arange(256)[:, None] >> np.arange(8)[None, :]) & 1  # [256, 8]
    tables = np.zeros((4, 256), dtype=np.uint32)
    for byte_index in range(4):
        for bit in range(8):
            tables[byte_index] ^= np.where(bits[:, bit] == 1, columns[8 * byte_index + bit], 0).astype(np.uint32)
    return tables


def _apply(tables: np.ndarray, registers: np.ndarray) -> np.ndarray:
    """Apply the linear map given by its byte tables to uint32 registers."""
    return (
        tables[0][registers & 0xFF]
        ^ tables[1][(registers >> 8) & 0xFF]
        ^ tables[2][(registers >> 16) & 0xFF]
        ^ tables[3][registers >> 24]
    )


def _shift_tables_by_level(levels: int) -> list[np.ndarray]:
    """Tables of ``shift_n`` for ``n = _CHUNK_BYTES * 2**level``, level = 0 .. levels-1."""
    unit_bits = (np.uint32(1) << np.arange(32, dtype=np.uint32)).astype(np.uint32)
    tables = [_tables_from_columns(_feed_zero_bytes(unit_bits, _CHUNK_BYTES))]
    while len(tables) < levels:
        previous = tables[-1]
        tables.append(_tables_from_columns(_apply(previous, _apply(previous, unit_bits))))
    return tables


_SHIFT_TABLES = _shift_tables_by_level(40)  # enough for 64 B * 2**40 of data


def _crc32c_loop(data: bytes, register: int = 0xFFFFFFFF) -> int:
    for byte in data:
        register = _TABLE_LIST[(register ^ byte) & 0xFF] ^ (register >> 8)
    return register ^ 0xFFFFFFFF


def crc32c(data: bytes | bytearray | memoryview | np.ndarray) -> int:
    """Standard CRC-32C of ``data`` (initial register and final xor 0xFFFFFFFF).

    ``crc32c(b"123456789") == 0xE3069283``.
    """
    buffer = np.frombuffer(memoryview(data).cast("B"), dtype=np.uint8)
    if buffer.size < _MIN_PARALLEL_BYTES:
        return _crc32c_loop(buffer.tobytes())
    # Folding the initial 0xFFFFFFFF register into the first four bytes turns the CRC into
    # a linear function of the data with a zero register, which leading zeros do not change.
    num_chunks = 1 << int(np.ceil(np.log2(-(-buffer.size // _CHUNK_BYTES))))
    padded = np.zeros(num_chunks * _CHUNK_BYTES, dtype=np.uint8)
    padded[padded.size - buffer.size :] = buffer
    padded[padded.size - buffer.size : padded.size - buffer.size + 4] ^= 0xFF
    columns = padded.reshape(num_chunks, _CHUNK_BYTES).T.copy()  # [chunk byte, chunk]
    registers = np.zeros(num_chunks, dtype=np.uint32)
    for row in columns:
        registers = _TABLE[(registers ^ row) & 0xFF] ^ (registers >> 8)
    for shift_tables in _SHIFT_TABLES:
        if registers.size == 1:
            break
        registers = _apply(shift_tables, registers[0::2]) ^ registers[1::2]
    return int(registers[0]) ^ 0xFFFFFFFF


def mask_crc32c(crc: int) -> int:
    """TensorFlow/LevelDB masking: rotate right by 15 bits, then add a constant (mod 2**32)."""
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + _MASK_DELTA) & 0xFFFFFFFF


def unmask_crc32c(masked: int) -> int:
    """Inverse of :func:`mask_crc32c`."""
    rotated = (masked - _MASK_DELTA) & 0xFFFFFFFF
    return ((rotated >> 17) | (rotated << 15)) & 0xFFFFFFFF
