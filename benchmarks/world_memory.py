"""Benchmark the persistent world memory: one render of a 160x256 view from 16, 64 and 256 stored frames.

Usage::

    python benchmarks/world_memory.py                       # CPU, torch's threads
    python benchmarks/world_memory.py --frames 16,64 --runs 5 --threads 1 --path circle

Each row flies ``N`` frames on the path (the weight-free refiner fills what the world has not seen), so the
memory holds the patches of ``N`` frames, then times ``memory.render`` from the last camera and, beside it,
one mesh warp (``warp_rgbd``) of a frame into the same camera: the issue's bound is the render within 2x
the warp. Columns: the stored frames (patches kept), vertices kept, faces drawn after culling, the median
and minimum render time, the warp's median, the ratio, and the peak memory growth of the flight.
"""

from __future__ import annotations

import argparse

import torch
from _timing import peak_rss_mib, settings_line, time_runs


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
    render = time_runs(lambda: memory.render(camera, intrinsics), runs)
    warp = time_runs(lambda: warp_rgbd(frame.rgbd, camera, camera, intrinsics), runs)
    from viewgen.memory.world import in_view, pack

    points, _, _, faces, _ = pack([memory.patches[i] for i in in_view(memory.patches, camera, intrinsics)])
    drawn = visible_faces(transform_points(camera[None], points[None])[0], faces, intrinsics).numel()
    return (f"| {frames} | {len(memory.patches)} | {memory.vertex_count:,} | {drawn:,} | {render['median_ms']:.1f} | "
            f"{render['min_ms']:.1f} | {warp['median_ms']:.1f} | {render['median_ms'] / warp['median_ms']:.2f} | "
            f"{flight_mib:.0f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", default="16,64,256", help="stored frames per row (comma-separated)")
    parser.add_argument("--path", default="circle", choices=("circle", "autopilot", "straight"))
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    print(settings_line("cpu", args.threads))
    print(f"path {args.path}, 160x256")
    print("| frames flown | patches | vertices kept | faces drawn | render median ms | min ms | warp ms | "
          "render / warp | flight peak MiB |")
    print("|---|---|---|---|---|---|---|---|---|")
    torch.manual_seed(0)
    for frames in (int(value) for value in args.frames.split(",")):
        print(_row(frames, args.path, args.runs), flush=True)


if __name__ == "__main__":
    main()
