"""Small object splits in Apple's layout and a run of the ``tiny`` preset, for the training tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from viewgen.data.objects import export_object_scenes

REPO_ROOT = Path(__file__).resolve().parents[2]


def object_split(root: Path, scenes: int = 3, views: int = 4, size: int = 32, seed: int = 0,
                 split: str = "train") -> Path:
    """``root/<split>``: ``scenes`` synthetic objects of ``views`` views of ``size`` pixels."""
    return export_object_scenes(root, scenes, views, size, seed, split)


def _run(command: list[str], timeout: float) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env, cwd=REPO_ROOT)


def run_python(code: str, *args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh one-thread Python with the repository importable; output captured."""
    return _run([sys.executable, "-c", code, *args], timeout)


def run_viewgen(*args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    """``python -m viewgen ARGS`` in a fresh one-thread process (what Lightning's DDP launcher re-runs)."""
    return _run([sys.executable, "-m", "viewgen", *args], timeout)
