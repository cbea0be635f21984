"""Small object splits in Apple's layout, a GoogleEarth-Infinite folder and subprocess runners, for the training
tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from viewgen.data.datasets.google_earth import SKY_DEPTH
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


def run_script(path: Path, code: str, *args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    """Write ``code`` to ``path`` and run it like :func:`run_python` (a DDP launcher re-runs a script file, not
    ``-c``)."""
    Path(path).write_text(code)
    return _run([sys.executable, str(path), *args], timeout)


def run_viewgen(*args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    """``python -m viewgen ARGS`` in a fresh one-thread process (what Lightning's DDP launcher re-runs)."""
    return _run([sys.executable, "-m", "viewgen", *args], timeout)


def google_earth_folder(root, grids=("grid_a", "chicago_b"), points=4):
    """Cameras on a line, 0.1 apart, each with 4 rotations about the vertical (ids 4p .. 4p + 3); OpenGL axes."""
    root.mkdir(parents=True, exist_ok=True)
    np.save(root / "K.npy", np.array([[256.0, 0, 256], [0, 256.0, 256], [0, 0, 1]]))
    for grid in grids:
        folder = root / "train" / grid
        folder.mkdir(parents=True)
        frames = []
        for point in range(points):
            for rotation in range(4):
                frame_id = 4 * point + rotation
                angle = np.pi / 2 * rotation
                cam_to_world = np.eye(4)
                cos, sin = np.cos(angle), np.sin(angle)
                cam_to_world[:3, :3] = [[cos, 0, sin], [0, 1, 0], [-sin, 0, cos]]
                cam_to_world[:3, 3] = [0.1 * point, 0.0, 0.0]
                frames.append({"file_path": f"./im_{frame_id:05d}.png", "transform_matrix": cam_to_world.tolist(),
                               "is_valid": frame_id != 5})
                pixels = np.full((64, 64, 3), 40 * rotation + point, np.uint8)
                Image.fromarray(pixels).save(folder / f"im_{frame_id:05d}.png")
                depth = np.full((64, 64), 2.0 + point, np.float32)
                depth[:16] = SKY_DEPTH
                np.save(folder / f"dm_{frame_id:05d}.npy", depth)
        (folder / "transforms.json").write_text(json.dumps({"frames": frames}))
    return root


def check_sigkill_resume(code: str, tmp_path: Path, release_files: tuple[str, ...]) -> None:
    """Run the training script ``code`` (argv: run folder, the step to SIGKILL itself at or 0) whole, then killed at
    step 5 (after its check-point of step 3) and resumed; assert the resumed run's ``release_files`` (safetensors
    paths in ``release/``) and logs are bit for bit the uninterrupted run's."""
    import torch
    from safetensors.torch import load_file

    from viewgen.training.checkpoints import newest_checkpoint
    from viewgen.training.curves import read_run_metrics

    whole = run_python(code, str(tmp_path / "whole"), "0")
    assert whole.returncode == 0, whole.stderr[-2000:]
    killed = run_python(code, str(tmp_path / "killed"), "5")
    assert killed.returncode == -9
    assert newest_checkpoint(tmp_path / "killed" / "checkpoints").name == "step00000003.ckpt"
    resumed = run_python(code, str(tmp_path / "killed"), "0")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    for name in release_files:
        expected = load_file(tmp_path / "whole" / "release" / name)
        got = load_file(tmp_path / "killed" / "release" / name)
        assert all(torch.equal(expected[key], got[key]) for key in expected)  # bit for bit
    assert read_run_metrics(tmp_path / "killed" / "logs") == read_run_metrics(tmp_path / "whole" / "logs")


_KILLED_RUN = """
import os, signal, sys
import lightning.pytorch as pl
from viewgen.training.families import {train}
from {config_module} import {config}

class KillAt(pl.Callback):
    def on_train_batch_end(self, trainer, *args):
        if trainer.global_step == int(sys.argv[2]):
            os.kill(os.getpid(), signal.SIGKILL)

config = {config}(max_steps=7, checkpoint_every=3, sample_every=7, {epoch_field}=6)
callbacks = (KillAt(),) if int(sys.argv[2]) else ()
{train}(config, sys.argv[1], accelerator="cpu", progress=False, callbacks=callbacks)
"""

_DDP_RUN = """
import hashlib, sys
import lightning.pytorch as pl
from viewgen.training.families import {train}
from {config_module} import {config}

class Checksums(pl.Callback):
    def on_train_end(self, trainer, module):
        digest = hashlib.sha256()
        for value in module.state_dict().values():
            digest.update(value.detach().cpu().numpy().tobytes())
        with open(f"{{sys.argv[1]}}.rank{{trainer.global_rank}}", "w") as stream:
            stream.write(f"{{trainer.global_step}} {{digest.hexdigest()}}")

{train}({config}(), sys.argv[1], accelerator="cpu", devices=2, strategy="ddp", progress=False,
        callbacks=(Checksums(),))
"""


def killed_run_script(train: str, config_module: str, config: str, epoch_field: str) -> str:
    """A script for :func:`check_sigkill_resume`: ``train`` (a function of viewgen.training.families) runs ``config``
    (a tiny-config function of ``config_module``) for 7 steps, check-pointing every 3 with 6 items an epoch
    (``epoch_field``), and SIGKILLs itself at step ``argv[2]`` (0: never)."""
    return _KILLED_RUN.format(train=train, config_module=config_module, config=config, epoch_field=epoch_field)


def ddp_run_script(train: str, config_module: str, config: str) -> str:
    """A script that trains ``config()`` with ``train`` on two DDP processes (gloo, CPU) and writes each rank's step
    and weights checksum to ``argv[1].rankN`` (run it with :func:`run_script`: DDP re-launches a script file)."""
    return _DDP_RUN.format(train=train, config_module=config_module, config=config)
