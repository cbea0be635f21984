"""Checks run inside the fresh virtual environment of ``.ci/fresh_install.sh``.

1. The video the README's command wrote decodes (with the ffmpeg binary of imageio-ffmpeg, a base
   dependency) to as many frames as ``viewgen fly`` promises by default, at the size its closing
   summary line reports, and its frames change (a flight, not a still).
2. Every module of ``viewgen`` outside the optional extras imports with the base dependencies alone.
3. ``viewgen novel-views`` works offline out of the box: the embedded ENR model turns the example
   object ``object:2`` into a grid of the input and five views.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import re
import sys
from pathlib import Path

import numpy as np

# Subpackages that need an extra (``pip install "viewgen[serve]"``); mirrors tests/test_dependencies.py.
EXTRA_PACKAGES = ("viewgen.server", "viewgen.training")


def decode(path: Path) -> tuple[np.ndarray, tuple[int, int]]:
    """All frames of ``path`` as ``[T, H, W, 3]`` uint8 and the (height, width) ffmpeg reports."""
    import imageio_ffmpeg

    reader = imageio_ffmpeg.read_frames(str(path))
    meta = next(reader)
    width, height = meta["size"]
    frames = [np.frombuffer(raw, np.uint8).reshape(height, width, 3) for raw in reader]
    return np.stack(frames), (height, width)


def check_video(workdir: Path, summary_file: Path) -> str:
    from viewgen.cli.main import build_parser

    defaults = build_parser().parse_args(["fly"])
    summary = summary_file.read_text()
    match = re.search(r"wrote (\d+) frames \((\d+)x(\d+),", summary)
    assert match, f"no closing summary line in the output of the README command:\n{summary}"
    reported_frames, height, width = map(int, match.groups())
    frames, size = decode(workdir / defaults.out)
    assert reported_frames == defaults.frames == len(frames), (
        f"{defaults.out}: {len(frames)} frames decoded, {reported_frames} reported, {defaults.frames} expected")
    assert size == (height, width), f"{defaults.out}: {size} decoded, {(height, width)} reported"
    steps = np.abs(np.diff(frames.astype(np.int16), axis=0)).mean(axis=(1, 2, 3))
    moving = int((steps > 0.5).sum())
    assert moving >= 0.9 * (len(frames) - 1), f"{defaults.out}: only {moving} of {len(frames) - 1} frames change"
    return f"{defaults.out}: {len(frames)} frames of {height}x{width}, {moving} of them change"


def import_all() -> int:
    import viewgen

    count = 0
    for module in pkgutil.walk_packages(viewgen.__path__, "viewgen."):
        if not module.name.startswith(EXTRA_PACKAGES):
            importlib.import_module(module.name)
            count += 1
    return count


def check_novel_views(workdir: Path) -> str:
    import subprocess

    from PIL import Image

    out = workdir / "novel_views.png"
    done = subprocess.run(["viewgen", "novel-views", "object:2", "--out", str(out)], capture_output=True, text=True)
    assert done.returncode == 0, f"viewgen novel-views failed on a fresh install:\n{done.stderr}"
    match = re.search(r"wrote (\d+) view\(s\) of (\d+)x(\d+)", done.stdout)
    assert match, f"no closing summary line from viewgen novel-views:\n{done.stdout}"
    views, height, width = map(int, match.groups())
    grid = np.asarray(Image.open(out).convert("RGB"))
    assert grid.shape[0] == height and grid.shape[1] == (views + 1) * width + views * 4, grid.shape
    assert grid[:, width + 4:].std() > 1.0, "the novel views are blank"
    return f"{out.name}: {views} views of {height}x{width}"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workdir", type=Path, required=True, help="where the README command ran")
    parser.add_argument("--summary", type=Path, required=True, help="its standard output")
    args = parser.parse_args()
    print(f"fresh install: {check_video(args.workdir, args.summary)}; {check_novel_views(args.workdir)}; "
          f"{import_all()} modules import with the base dependencies")
    return 0


if __name__ == "__main__":
    sys.exit(main())
