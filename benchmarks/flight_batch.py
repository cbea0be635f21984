"""Throughput of batched flights (``FlightBatch``): frames per second, and per core, at batch 1, 4 and 16.

Usage::

    python benchmarks/flight_batch.py                          # learned (full-size, random weights) and weight-free
    python benchmarks/flight_batch.py --models learned --batches 1,4 --steps 3
    python benchmarks/flight_batch.py --device cuda            # on a GPU machine

Each row flies ``--steps`` steps of N flights in lockstep (after one warm-up step) from N copies of a synthetic
frame, each with its own seed, and reports the median seconds per step, the frames per second of the batch (N
frames a step), frames per second per core (divided by torch's CPU threads; on CUDA the per-core column is
blank), and the peak memory growth (CPU RSS, or CUDA's peak allocation). The learned flight's random weights
time the same arithmetic as converted ones.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from _timing import peak_rss_mib, settings_line
from fly import synthetic_rgbd


def _pipeline(model: str, device: str):
    from viewgen.networks import SpadeGenerator, StyleEncoder
    from viewgen.pipelines import FlyThroughConfig, FlyThroughPipeline

    torch.manual_seed(0)
    if model == "learned":
        return FlyThroughPipeline(StyleEncoder(), SpadeGenerator(), FlyThroughConfig(device=device))
    return FlyThroughPipeline.weight_free(FlyThroughConfig(device=device))


def measure(model: str, batch: int, steps: int, device: str, chunk: int | None) -> dict:
    from viewgen.pipelines.flight_batch import FlightBatch

    base = peak_rss_mib()
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    pipe = _pipeline(model, device)
    flights = FlightBatch.like(pipe, seeds=list(range(batch)), refine_chunk=chunk)
    flights.reset([synthetic_rgbd(*pipe.config.image_size)] * batch)
    flights.step()  # warm-up
    times = []
    for _ in range(steps):
        if device == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        flights.step()
        if device == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    seconds = statistics.median(times)
    peak = torch.cuda.max_memory_allocated() / 2**20 if device == "cuda" else peak_rss_mib() - base
    return {"seconds": seconds, "fps": batch / seconds, "peak_mib": peak, "chunk": flights.refine_chunk}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--models", default="learned,weight-free", help="comma-separated: learned, weight-free")
    parser.add_argument("--batches", default="1,4,16", help="comma-separated batch sizes (default 1,4,16)")
    parser.add_argument("--steps", type=int, default=3, help="timed steps per row (default 3)")
    parser.add_argument("--chunk", type=int, default=None,
                        help="flights per refiner call (default FlightBatch's: all on CUDA, 1 on CPU)")
    args = parser.parse_args()
    print(settings_line(args.device, args.threads))
    cores = torch.get_num_threads()
    print("| model (160x256) | batch | refine chunk | s per step | frames/s | frames/s per core | peak MiB |")
    print("|---|---|---|---|---|---|---|")
    for model in args.models.split(","):
        for batch in (int(value) for value in args.batches.split(",")):
            row = measure(model, batch, args.steps, args.device, args.chunk)
            per_core = "" if args.device == "cuda" else f"{row['fps'] / cores:.2f}"
            print(f"| {model} | {batch} | {row['chunk']} | {row['seconds']:.2f} | {row['fps']:.2f} | {per_core} | "
                  f"{row['peak_mib']:.0f} |", flush=True)


if __name__ == "__main__":
    main()
