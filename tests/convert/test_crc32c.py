import numpy as np
import pytest

from viewgen.convert.tf.crc32c import crc32c, mask_crc32c, unmask_crc32c


def _reference_crc32c(data: bytes) -> int:
    """Bit-at-a-time CRC-32C, the definition itself."""
    register = 0xFFFFFFFF
    for byte in data:
        register ^= byte
        for _ in range(8):
            register = (register >> 1) ^ (0x82F63B78 if register & 1 else 0)
    return register ^ 0xFFFFFFFF


def test_standard_check_values():
    assert crc32c(b"123456789") == 0xE3069283
    assert crc32c(b"") == 0
    assert crc32c(bytes(32)) == 0x8A9136AA


@pytest.mark.parametrize("size", [1, 3, 4, 5, 1023, 1024, 1025, 4096 + 7, 70_001])
def test_parallel_path_matches_the_definition(size):
    data = np.random.default_rng(size).integers(0, 256, size, dtype=np.uint8).tobytes()
    assert crc32c(data) == _reference_crc32c(data)


def test_accepts_numpy_arrays_and_memoryviews():
    array = np.arange(600, dtype=np.float32)
    assert crc32c(array) == crc32c(memoryview(array.tobytes())) == _reference_crc32c(array.tobytes())


def test_mask_round_trip():
    for value in (0, 1, 0xDEADBEEF, 0xFFFFFFFF):
        assert unmask_crc32c(mask_crc32c(value)) == value
    assert mask_crc32c(0) == 0xA282EAD8
