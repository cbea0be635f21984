"""The sorted-string table that TensorFlow uses for ``.index`` files (LevelDB's layout).

A table file is a run of *blocks*, then a fixed 48-byte *footer*::

    [data block 0][trailer] ... [data block n][trailer]
    [metaindex block][trailer] [index block][trailer]
    footer: metaindex handle, index handle (varint offset + varint size each),
            zero padding to 40 bytes, magic number 0xdb4775248b80fb57 (little endian)

Each block is followed by a 5-byte trailer: one compression byte (0 = none, 1 = snappy)
and the masked CRC-32C of the block contents plus that byte. Inside a block, entries are
prefix-compressed against the previous key::

    varint32 shared_key_bytes, varint32 unshared_key_bytes, varint32 value_bytes,
    key suffix (unshared bytes), value

and every ``restart_interval``-th entry stores its whole key (``shared = 0``); the block
ends with the uint32 offsets of those restart entries and their uint32 count. The index
block maps a key at or after each data block's last key to that block's handle. TensorFlow
writes uncompressed tables, and snappy blocks are refused with a clear error.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator, Sequence

from viewgen.convert.tf.crc32c import crc32c, mask_crc32c, unmask_crc32c
from viewgen.errors import WeightsError

TABLE_MAGIC_NUMBER = 0xDB4775248B80FB57
FOOTER_BYTES = 48
BLOCK_TRAILER_BYTES = 5
_COMPRESSION_NAMES = {0: "none", 1: "snappy"}


class TableFormatError(WeightsError, ValueError):
    """The file is not a valid (uncompressed) LevelDB-style table: corrupt, truncated or unsupported."""


def read_varint(data: bytes | memoryview, pos: int, what: str = "varint") -> tuple[int, int]:
    """Decode a little-endian base-128 varint at ``pos``; returns ``(value, next_pos)``."""
    value = 0
    for shift in range(0, 70, 7):
        if pos >= len(data):
            raise TableFormatError(f"truncated {what} at byte {pos}")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
    raise TableFormatError(f"{what} longer than 10 bytes at byte {pos}")


def encode_varint(value: int) -> bytes:
    """Little-endian base-128 encoding of a non-negative integer."""
    if value < 0:
        raise ValueError(f"varints here are non-negative, got {value}")
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _read_block_handle(data: bytes, pos: int) -> tuple[tuple[int, int], int]:
    offset, pos = read_varint(data, pos, "block handle offset")
    size, pos = read_varint(data, pos, "block handle size")
    return (offset, size), pos


def _block_contents(table: bytes, handle: tuple[int, int], name: str) -> bytes:
    """Contents of the block at ``handle`` after checking its trailer (compression and CRC)."""
    offset, size = handle
    end = offset + size + BLOCK_TRAILER_BYTES
    if end > len(table) - FOOTER_BYTES:
        data_bytes = len(table) - FOOTER_BYTES
        raise TableFormatError(f"{name} block [{offset}, {end}) runs past the table data ({data_bytes} bytes)")
    contents = table[offset : offset + size]
    compression = table[offset + size]
    if compression != 0:
        label = _COMPRESSION_NAMES.get(compression, f"unknown type {compression}")
        raise TableFormatError(f"{name} block at byte {offset} is compressed ({label}); only uncompressed is supported")
    (stored,) = struct.unpack_from("<I", table, offset + size + 1)
    actual = crc32c(table[offset : offset + size + 1])
    if unmask_crc32c(stored) != actual:
        values = f"stored {unmask_crc32c(stored):#010x}, computed {actual:#010x}"
        raise TableFormatError(f"{name} block at byte {offset}: checksum mismatch ({values})")
    return contents


def iter_block_entries(block: bytes, name: str = "block") -> Iterator[tuple[bytes, bytes]]:
    """Yield ``(key, value)`` pairs of one block's contents, undoing prefix compression."""
    if len(block) < 4:
        raise TableFormatError(f"{name} is {len(block)} bytes, too short for its restart count")
    (num_restarts,) = struct.unpack_from("<I", block, len(block) - 4)
    entries_end = len(block) - 4 - 4 * num_restarts
    if entries_end < 0:
        raise TableFormatError(f"{name}: {num_restarts} restart points do not fit in {len(block)} bytes")
    restarts = set(struct.unpack_from(f"<{num_restarts}I", block, entries_end))
    key, pos = b"", 0
    while pos < entries_end:
        entry_start = pos
        shared, pos = read_varint(block, pos, f"{name} entry header")
        unshared, pos = read_varint(block, pos, f"{name} entry header")
        value_size, pos = read_varint(block, pos, f"{name} entry header")
        if shared > len(key) or pos + unshared + value_size > entries_end:
            raise TableFormatError(f"{name}: malformed entry at byte {entry_start}")
        if entry_start in restarts and shared != 0:
            raise TableFormatError(f"{name}: restart entry at byte {entry_start} shares a key prefix")
        key = key[:shared] + block[pos : pos + unshared]
        pos += unshared
        yield key, block[pos : pos + value_size]
        pos += value_size


def read_table(table: bytes) -> list[tuple[bytes, bytes]]:
    """All ``(key, value)`` entries of a table file's bytes, in stored (sorted) order."""
    if len(table) < FOOTER_BYTES:
        raise TableFormatError(f"table is {len(table)} bytes, shorter than its {FOOTER_BYTES}-byte footer (truncated?)")
    footer = table[-FOOTER_BYTES:]
    (magic,) = struct.unpack_from("<Q", footer, FOOTER_BYTES - 8)
    if magic != TABLE_MAGIC_NUMBER:
        expected = f"{TABLE_MAGIC_NUMBER:#018x}"
        raise TableFormatError(f"bad table magic number {magic:#018x} (expected {expected}); truncated or not a table")
    _, pos = _read_block_handle(footer, 0)  # the metaindex block is empty in TensorFlow tables
    index_handle, _ = _read_block_handle(footer, pos)
    index_block = _block_contents(table, index_handle, "index")
    entries: list[tuple[bytes, bytes]] = []
    for block_number, (_, handle_bytes) in enumerate(iter_block_entries(index_block, "index block")):
        handle, _ = _read_block_handle(handle_bytes, 0)
        data_block = _block_contents(table, handle, f"data block {block_number}")
        entries.extend(iter_block_entries(data_block, f"data block {block_number}"))
    keys = [key for key, _ in entries]
    if keys != sorted(keys) or len(set(keys)) != len(keys):
        raise TableFormatError("table keys are not strictly increasing")
    return entries


def _build_block(entries: Sequence[tuple[bytes, bytes]], restart_interval: int) -> bytes:
    out, restarts, previous = bytearray(), [], b""
    for number, (key, value) in enumerate(entries):
        shared = 0
        if number % restart_interval == 0:
            restarts.append(len(out))
        else:
            limit = min(len(key), len(previous))
            while shared < limit and key[shared] == previous[shared]:
                shared += 1
        out += encode_varint(shared) + encode_varint(len(key) - shared) + encode_varint(len(value))
        out += key[shared:] + value
        previous = key
    restarts = restarts or [0]
    out += struct.pack(f"<{len(restarts)}I", *restarts) + struct.pack("<I", len(restarts))
    return bytes(out)


def _append_block(out: bytearray, contents: bytes) -> bytes:
    """Append block + trailer to ``out``; return the encoded block handle."""
    handle = encode_varint(len(out)) + encode_varint(len(contents))
    body = contents + b"\x00"
    out += body + struct.pack("<I", mask_crc32c(crc32c(body)))
    return handle


def build_table(entries: Sequence[tuple[bytes, bytes]], block_bytes: int = 4096, restart_interval: int = 16) -> bytes:
    """Serialise sorted ``(key, value)`` pairs as an uncompressed table (the inverse of :func:`read_table`)."""
    keys = [key for key, _ in entries]
    if keys != sorted(keys) or len(set(keys)) != len(keys):
        raise ValueError("table entries must have strictly increasing keys")
    out, index_entries, pending, pending_bytes = bytearray(), [], [], 0
    for position, (key, value) in enumerate(entries):
        pending.append((key, value))
        pending_bytes += len(key) + len(value) + 3
        if pending_bytes >= block_bytes or position == len(entries) - 1:
            handle = _append_block(out, _build_block(pending, restart_interval))
            index_entries.append((key, handle))  # the block's last key is a valid separator
            pending, pending_bytes = [], 0
    metaindex_handle = _append_block(out, _build_block([], restart_interval))
    index_handle = _append_block(out, _build_block(index_entries, 1))
    footer = (metaindex_handle + index_handle).ljust(FOOTER_BYTES - 8, b"\x00")
    return bytes(out + footer + struct.pack("<Q", TABLE_MAGIC_NUMBER))
