"""Tiny files that describe huge inputs, and a way to measure a CLI run's peak memory.

Everything here is written in well under a second and takes kilobytes on disk: a PNG whose
pixels are all zero compresses ~1000:1, a zipped ``.npy`` of zeros about as well, and an
uncompressed ``.npy`` is made sparse (its zeros are never written).
"""

from __future__ import annotations

import io
import os
import struct
import subprocess
import sys
import zipfile
import zlib
from pathlib import Path

import numpy as np

_PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}  # PNG color type -> samples per pixel


def _png_chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)


def write_zero_png(path: Path, width: int, height: int, color_type: int = 0, bit_depth: int = 1) -> Path:
    """A valid PNG of ``width x height`` black pixels (default 1-bit grey: 144 Mpx in ~20 KB)."""
    row = bytes(1 + (width * _PNG_CHANNELS[color_type] * bit_depth + 7) // 8)  # filter byte + samples
    packer = zlib.compressobj(9)
    body = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    palette = _png_chunk(b"PLTE", bytes(6)) if color_type == 3 else b""
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + palette
                     + _png_chunk(b"IDAT", body) + _png_chunk(b"IEND", b""))
    return path


def npy_header(shape: tuple[int, ...], descr: str = "<f4") -> bytes:
    """The bytes ``numpy.save`` writes before the data of a C-ordered array."""
    stream = io.BytesIO()
    np.lib.format.write_array_header_1_0(stream, {"descr": descr, "fortran_order": False, "shape": shape})
    return stream.getvalue()


def write_sparse_npy(path: Path, shape: tuple[int, ...]) -> Path:
    """A float32 ``.npy`` of zeros with ``shape``, as a sparse file (no data blocks on disk)."""
    header = npy_header(shape)
    with open(path, "wb") as stream:
        stream.write(header)
        stream.truncate(len(header) + int(np.prod(shape)) * 4)
    return path


def write_zero_npz(path: Path, shape: tuple[int, ...], key: str = "rgbd") -> Path:
    """An ``.npz`` whose ``key`` is a float32 zero array of ``shape``, deflated member (~1000:1)."""
    remaining = int(np.prod(shape)) * 4
    zeros = bytes(1 << 22)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        with archive.open(f"{key}.npy", "w", force_zip64=True) as member:
            member.write(npy_header(shape))
            while remaining:
                member.write(zeros[:min(remaining, len(zeros))])
                remaining -= min(remaining, len(zeros))
    return path


# Started from a small interpreter, so the measured process does not inherit the test session's
# peak: Linux carries the high-water RSS of the memory a process was (v)forked from across exec.
_MEASURE = ("import os, subprocess, sys; child = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL); "
            "_, status, usage = os.wait4(child.pid, 0); print(os.waitstatus_to_exitcode(status), usage.ru_maxrss)")


def run_cli_measured(*args, cwd: Path) -> tuple[int, str, int]:
    """Run ``viewgen ARGS`` in a fresh interpreter: (exit status, stderr, peak resident memory in MB).

    The peak is that one process's ``ru_maxrss`` (``os.wait4`` in a small launcher), neither the
    maximum over every child the session waited for nor the session's own peak.
    """
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE"}
    with open(cwd / "stderr.txt", "wb") as errors:
        launched = subprocess.run([sys.executable, "-c", _MEASURE, sys.executable, "-m", "viewgen.cli.main",
                                   *map(str, args)], cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=errors,
                                  check=True, text=True)
    status, peak_kb = (int(value) for value in launched.stdout.split())
    return status, (cwd / "stderr.txt").read_text(), peak_kb // 1024
