"""Benchmark the synthetic world renderer: milliseconds and frames/s per frame, peak memory.

Usage::

    python benchmarks/synthetic_world.py                       # 2 threads, 160x256 and 320x512
    python benchmarks/synthetic_world.py --sizes 160x256 --runs 20 --threads 1
    OMP_WAIT_POLICY=ACTIVE python benchmarks/synthetic_world.py    # OpenMP's spinning threads

Each (scene, size, mode) runs in a fresh subprocess so that its peak memory is its own: the peak
resident set size minus the process's size after building the world (before the first frame).
Times are the median (and minimum) of ``--runs`` renders of the scene preset's start view after
two warm-ups, under ``torch.inference_mode``; ``render`` is color + exact depth
(``viewgen.data.synthetic.render``), ``depth`` is the ray marcher alone (``render_depth``).
The target is at least 10 frames/s for ``render`` at 160x256 on 2 CPU cores.

With 2 threads on a machine whose cores are busy with other work, OpenMP's spinning threads can
make every small tensor op wait for a time slice (10x slower or worse), so, like the ``viewgen``
command, this script sets ``OMP_WAIT_POLICY=PASSIVE`` unless the variable is already set. The
table says which policy was in effect.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads its OpenMP runtime

import argparse  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402

import torch  # noqa: E402
from _timing import time_runs  # noqa: E402

SCENES = ("coast", "hills", "mountains")


def run_one(scene: str, height: int, width: int, mode: str, runs: int) -> dict:
    """Time one configuration in this process; returns a result row."""
    from viewgen.data.synthetic import preset_world, render, render_depth, start_pose
    from viewgen.geometry import default_intrinsics

    world = preset_world(scene)
    pose = start_pose(scene, world)
    intrinsics = default_intrinsics(height, width)
    draw = render if mode == "render" else render_depth

    def once() -> None:
        with torch.inference_mode():
            draw(world, pose, intrinsics, height, width)

    timing = time_runs(once, runs, warmup=2)
    return {"scene": scene, "size": f"{height}x{width}", "mode": mode, **timing,
            "fps": 1000.0 / timing["median_ms"]}


def print_table(rows: list[dict], threads: int) -> None:
    policy = os.environ.get("OMP_WAIT_POLICY", "default")
    print(f"\nsynthetic world benchmark  (torch {torch.__version__}, {threads} CPU threads, "
          f"OMP_WAIT_POLICY={policy})")
    header = f"{'scene':10} {'size':>9} {'mode':7} {'median ms':>10} {'min ms':>8} {'frames/s':>9} {'peak MiB':>9}"
    print(header)
    print("-" * len(header))
    for row in rows:
        print(f"{row['scene']:10} {row['size']:>9} {row['mode']:7} {row['median_ms']:10.1f} {row['min_ms']:8.1f} "
              f"{row['fps']:9.1f} {row['peak_mib']:9.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="160x256,320x512")
    parser.add_argument("--scenes", default=",".join(SCENES))
    parser.add_argument("--modes", default="render,depth")
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.child:
        scene, height, width, mode = args.child.split(",")
        print(json.dumps(run_one(scene, int(height), int(width), mode, args.runs)))
        return
    rows = []
    for size in args.sizes.split(","):
        height, width = (int(v) for v in size.lower().split("x"))
        for scene in args.scenes.split(","):
            for mode in args.modes.split(","):
                command = [sys.executable, __file__, "--child", f"{scene},{height},{width},{mode}",
                           "--runs", str(args.runs), "--threads", str(args.threads)]
                output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
                rows.append(json.loads(output.strip().splitlines()[-1]))
                print(f"  done {scene} {size} {mode}: {rows[-1]['median_ms']:.1f} ms", file=sys.stderr)
    print_table(rows, args.threads)


if __name__ == "__main__":
    main()
