import pytest

from viewgen.convert.tf.sstable import (
    FOOTER_BYTES,
    TableFormatError,
    build_table,
    iter_block_entries,
    read_table,
    read_varint,
)

ENTRIES = [(f"scope/layer_{i:03d}/kernel".encode(), bytes([i % 256]) * (i % 17)) for i in range(300)]


def test_round_trip_over_many_blocks():
    table = build_table(ENTRIES, block_bytes=512, restart_interval=4)
    assert read_table(table) == ENTRIES


def test_unsorted_entries_are_refused():
    with pytest.raises(ValueError, match="strictly increasing"):
        build_table(list(reversed(ENTRIES)))


def test_truncated_table_is_reported():
    table = build_table(ENTRIES)
    with pytest.raises(TableFormatError, match="magic number"):
        read_table(table[:-10])
    with pytest.raises(TableFormatError, match="shorter than its 48-byte footer"):
        read_table(table[:20])


def test_corrupt_block_fails_its_checksum():
    table = bytearray(build_table(ENTRIES))
    table[5] ^= 0xFF
    with pytest.raises(TableFormatError, match="data block 0.*checksum mismatch"):
        read_table(bytes(table))


def _first_data_block_end(table: bytes) -> int:
    """Offset just past data block 0: the first handle of the index block named in the footer."""
    footer = table[-FOOTER_BYTES:]
    _, pos = read_varint(footer, 0)
    _, pos = read_varint(footer, pos)  # metaindex handle, skipped
    index_offset, pos = read_varint(footer, pos)
    index_size, _ = read_varint(footer, pos)
    _, handle = next(iter_block_entries(table[index_offset : index_offset + index_size]))
    offset, pos = read_varint(handle, 0)
    size, _ = read_varint(handle, pos)
    return offset + size


def test_snappy_block_is_refused_clearly():
    table = bytearray(build_table(ENTRIES))
    table[_first_data_block_end(bytes(table))] = 1  # the compression byte of the block trailer
    with pytest.raises(TableFormatError, match="compressed \\(snappy\\)"):
        read_table(bytes(table))
