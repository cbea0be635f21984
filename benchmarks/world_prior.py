"""Benchmark the weight-free flight's start: ``WorldPrior.reset`` on the built-in samples at 160x256.

Usage::

    python benchmarks/world_prior.py                      # torch's threads, 5 runs
    python benchmarks/world_prior.py --threads 1 --runs 3 --samples 2

A reset fits the ground under frame 0, builds and renders the candidate worlds, keeps the one nearest
frame 0, reads its land palette along the way a flight goes (``palette_reach``; 0 reads it from the
start view) and builds the sky dome. Rows: one setting each (candidates x palette), timed in turns so a
host that changes speed weighs on all alike: median and minimum ms, and the growth of peak memory.
"""

from __future__ import annotations

import argparse
import statistics

from _timing import peak_rss_mib, settings_line, time_interleaved

SETTINGS = {  # row label -> WorldPriorConfig fields
    "4 candidates, palette along the way (default)": {},
    "4 candidates, palette from the start view": {"palette_reach": 0.0},
    "1 candidate, palette along the way": {"candidates": 1},
    "1 candidate, palette from the start view": {"candidates": 1, "palette_reach": 0.0},
}


def _resets(sample: int) -> dict:
    """One reset call per setting, on ``sample`` resized to 160x256 as a flight resizes it."""
    import torch

    from viewgen.data.samples import load_sample
    from viewgen.memory import WorldPrior, WorldPriorConfig
    from viewgen.pipelines import FlyThroughConfig, FlyThroughPipeline

    loaded = load_sample(sample)
    rgbd, _ = FlyThroughPipeline.weight_free(FlyThroughConfig(image_size=(160, 256))).prepare_rgbd(loaded.rgbd)
    start = torch.eye(4)[:3]

    def call(fields: dict):
        return lambda: WorldPrior(WorldPriorConfig(**fields)).reset(rgbd, start, loaded.intrinsics)

    return {label: call(fields) for label, fields in SETTINGS.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--samples", default="1,2,3", help="built-in samples, comma-separated (1 coast, 2 hills, "
                                                          "3 mountains)")
    args = parser.parse_args()
    print(settings_line("cpu", args.threads))
    print("| sample | setting | median ms | min ms | peak memory growth MiB |")
    print("|---|---|---|---|---|")
    for sample in (int(s) for s in args.samples.split(",")):
        before = peak_rss_mib()
        times = time_interleaved(_resets(sample), args.runs, warmup=1)
        growth = peak_rss_mib() - before
        for label, runs in times.items():
            print(f"| {sample} | {label} | {statistics.median(runs):.0f} | {min(runs):.0f} | {growth:.0f} |",
                  flush=True)


if __name__ == "__main__":
    main()
