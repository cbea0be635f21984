"""The one gateway from the tests to the project's ``../shared`` folder.

Reference fixtures made by the original implementations live outside the repository, in
``../shared`` beside the checkout (CI clones the repo with ``shared/`` next to it). Every
test that needs them calls :func:`shared_path`, which skips the test with a clear message
when the folder or the file is absent, so the suite still runs on a bare checkout.
"""

from __future__ import annotations

import lzma
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

_REPO_ROOT = Path(__file__).resolve().parents[2]  # tests/helpers/shared.py -> the repository


def shared_root() -> Path:
    """``$VIEWGEN_SHARED`` if set, else ``../shared`` next to the repository root."""
    env = os.environ.get("VIEWGEN_SHARED")
    return Path(env) if env else _REPO_ROOT.parent / "shared"


def shared_path(*parts: str) -> Path:
    """Path of a file under the shared folder, or skip the calling test if it is absent."""
    path = shared_root().joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared fixture not available: {path} (set VIEWGEN_SHARED or place shared/ beside the repo)")
    return path


def load_reference(name: str = "infinite_nature") -> dict[str, np.ndarray]:
    """All arrays of ``fixtures/<name>/reference.npz`` as a plain dict."""
    with np.load(shared_path("fixtures", name, "reference.npz")) as data:
        return {key: data[key] for key in data.files}


def reference_tensors(name: str) -> dict:
    """:func:`load_reference` as torch tensors (dtypes kept)."""
    import torch

    return {key: torch.from_numpy(value) for key, value in load_reference(name).items()}


def max_abs_diff(actual, expected) -> float:
    """Largest ``|actual - expected|`` in float64, after checking the two shapes agree."""
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    return float((actual.double() - expected.double()).abs().max())


def infinite_nature_checkpoint(dest_dir: Path) -> Path:
    """Unpack the shared TF checkpoint (index + xz-compressed data shard) into ``dest_dir``.

    Returns the checkpoint prefix (``dest_dir / "model.ckpt"``).
    """
    src = shared_path("fixtures", "infinite_nature")
    dest_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src / "model.ckpt.index", dest_dir / "model.ckpt.index")
    with lzma.open(src / "model.ckpt.data-00000-of-00001.xz") as fin, open(
        dest_dir / "model.ckpt.data-00000-of-00001", "wb"
    ) as fout:
        shutil.copyfileobj(fin, fout, length=1 << 22)
    return dest_dir / "model.ckpt"
