"""Benchmark the persistent world memory: one render of a 160x256 view from 16, 64 and 256 stored frames.

Usage::

    python benchmarks/world_memory.py                       # CPU, torch's threads
    python benchmarks/world_memory.py --frames 16,64 --runs 5 --threads 1 --path circle

Each row flies ``N`` frames on the path (the weight-free refiner fills what the world has not seen), so the
memory holds the tiles of ``N`` frames, then times ``memory.render`` from the last camera and, beside it,
one mesh warp (``warp_rgbd``) of a frame into the same camera, the two in turns: the issue's bound is the
render within 2x the warp. Columns: the stored frames (tiles kept), vertices kept, faces drawn after
culling, the median and minimum render time, the warp's median, the median of the per-turn ratios, and
the peak memory growth of the flight.
"""

from __future__ import annotations

import argparse
import statistics

import torch
from _timing import peak_rss_mib, settings_line, time_interleaved


def _fly(frames: int, path: str):
    from viewgen.data.samples import load_sample
    from viewgen.memory.world import WorldMemory
    from viewgen.pipelines import FlyThroughConfig, FlyThroughPipeline
    from viewgen.refiners.classical.weight_free import WeightFreeRefiner

    memory = WorldMemory()
    pipe = FlyThroughPipeline(refiner=WeightFreeRefiner(), config=FlyThroughConfig(image_size=(160, 256)),
                              memory=memory)
    options = {"period": 120, "radius": 0.5} if path == "circle" else {}
    pipe.reset(load_sample(1).rgbd, controller=path, **options)
    for _ in range(frames):
        frame = pipe.step()
    return memory, frame


def _row(frames: int, path: str, runs: int) -> str:
    from viewgen.geometry.poses import transform_points
    from viewgen.rendering.warp import warp_rgbd
    from viewgen.rendering.world_mesh import visible_faces

    base = peak_rss_mib()
    memory, frame = _fly(frames, path)
    flight_mib = peak_rss_mib() - base
    camera, intrinsics = frame.cam_from_world, frame.intrinsics
    times = time_interleaved({"render": lambda: memory.render(camera, intrinsics),
                              "warp": lambda: warp_rgbd(frame.rgbd, camera, camera, intrinsics)}, runs)
    render, warp = (statistics.median(times[name]) for name in ("render", "warp"))
    ratio = statistics.median(a / b for a, b in zip(times["render"], times["warp"]))
    from viewgen.memory.world import in_view

    mesh = memory.tiles.gather(in_view(memory.tiles, camera, intrinsics))
    points = transform_points(camera[None], mesh.vertices[None, :, :3])[0]
    drawn = visible_faces(points, mesh.faces, intrinsics).numel()
    return (f"| {frames} | {memory.tiles.tile_count} | {memory.vertex_count:,} | {drawn:,} | {render:.1f} | "
            f"{min(times['render']):.1f} | {warp:.1f} | {ratio:.2f} | {flight_mib:.0f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", default="16,64,256", help="stored frames per row (comma-separated)")
    parser.add_argument("--path", default="circle", choices=("circle", "autopilot", "straight"))
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    print(settings_line("cpu", args.threads))
    print(f"path {args.path}, 160x256")
    print("| frames flown | tiles | vertices kept | faces drawn | render median ms | min ms | warp ms | "
          "render / warp | flight peak MiB |")
    print("|---|---|---|---|---|---|---|---|---|")
    torch.manual_seed(0)
    for frames in (int(value) for value in args.frames.split(",")):
        print(_row(frames, args.path, args.runs), flush=True)


if __name__ == "__main__":
    main()
