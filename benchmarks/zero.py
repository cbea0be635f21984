"""Benchmark Infinite Nature Zero: milliseconds per render-and-refine step at 128x128, and peak memory.

Usage::

    python benchmarks/zero.py                          # CPU, torch's threads, 5 runs
    python benchmarks/zero.py --threads 1 --runs 3
    python benchmarks/zero.py --device cuda            # on a GPU machine
    python benchmarks/zero.py --weights checkpoints/   # the released LHQ checkpoint (same cost)

Weights: ``--weights`` if given, else the fixture checkpoint (``fixtures/infinite_nature_zero``, the
original format with seeded random weights) when ``../shared`` (or ``$VIEWGEN_SHARED``) has it, else a
randomly initialised released-size :class:`~viewgen.networks.stylegan2.CoModGenerator` (65.2M
parameters): the cost does not depend on the values. Rows, on a synthetic 128x128 landscape (sky above,
ground below), batch 1: ``splat`` (the softmax forward splat of the current frame alone),
``render + refine`` (:meth:`StyleGANRefiner.render_and_refine`: the splat, then the feature encoder and
the co-modulated generator: what every frame pays, with the modulated kernels computed once per flight as
the pipeline does; the next row remakes them every frame, as a style without kernels does), and
``flight step`` (:meth:`InfiniteNatureZeroPipeline.step`: the autopilot, the sky dome, render + refine,
the Sobel alpha and the sky correction). Each is the median of ``--runs`` timed calls after warm-up,
with the peak memory growth (CUDA: peak allocation) and frames per
second. What a flight pays once (loading, the mean latent of 50000 samples, the style) is not in it.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import torch
from _timing import peak_rss_mib, settings_line, time_runs

FIXTURE = ("fixtures", "infinite_nature_zero", "checkpoints", "inz_seed0_latest.tar")


def _fixture() -> Path | None:
    root = Path(os.environ.get("VIEWGEN_SHARED") or Path(__file__).resolve().parents[1].parent / "shared")
    path = root.joinpath(*FIXTURE)
    return path if path.is_file() else None


def _pipeline(weights: str | None, device: str):
    """``(pipeline, words for the weights)``; flights carry on after a crash so every step costs the same."""
    from viewgen.networks.stylegan2 import CoModGenerator
    from viewgen.pipelines.infinite_nature_zero import InfiniteNatureZeroConfig, InfiniteNatureZeroPipeline

    config = InfiniteNatureZeroConfig(stop_on_crash=False, device=device)
    source = weights or _fixture()
    if source is not None:
        return InfiniteNatureZeroPipeline.from_pretrained(source, device=device, config=config), str(source)
    torch.manual_seed(0)
    return InfiniteNatureZeroPipeline(CoModGenerator(), config), "random init (released size)"


def _landscape(size: int = 192) -> torch.Tensor:
    """RGBD ``[1, 4, S, S]``: sky (disparity 0 to 0.02) in the top third, ground nearing below."""
    gen = torch.Generator().manual_seed(0)
    rows = torch.linspace(0, 1, size).view(1, 1, -1, 1)
    rgb = (torch.rand(1, 3, size, size, generator=gen) * 0.2 + 0.2 + 0.4 * rows).clamp(0, 1)
    disparity = torch.where(rows < 1 / 3, rows * 0.06, 0.3 + 0.7 * rows).expand(1, 1, size, size)
    return torch.cat([rgb, disparity], 1)


def measure(pipe, runs: int, device: str) -> list[tuple[str, dict]]:
    from viewgen.rendering.splat import render_forward_splat

    refiner = pipe.refiner
    inputs = pipe.prepare(_landscape())
    rgbd = inputs.rgbd.to(device)
    latent = torch.zeros(1, refiner.generator.config.latent_dim)  # the 50000-sample mean costs once, not per step
    style = refiner.sample_style(rgbd, torch.Generator().manual_seed(0), mean_latent=latent)
    rgba = torch.cat([rgbd[:, :3], refiner.foreground_alpha(rgbd[:, 3:4])], 1)
    depth, k = 1.0 / rgbd[:, 3:4], inputs.pixel_matrix[None].to(device)
    rotation, translation = torch.eye(3, device=device)[None], torch.tensor([[0.0, 0.0, -0.19]], device=device)
    pipe.reset(inputs, style=style)
    kept = refiner.with_kernels(style)  # what a flight does at reset
    base = peak_rss_mib()

    def render_and_refine(flight_style):
        return lambda: refiner.render_and_refine(rgba, rgbd[:, 3:4], rotation, translation, k, flight_style)

    with torch.inference_mode():
        return [
            ("splat", time_runs(lambda: render_forward_splat(rgba, depth, rotation, translation, k), runs, device, 2,
                                base)),
            ("render + refine", time_runs(render_and_refine(kept), runs, device, 2, base)),
            ("  kernels remade every frame", time_runs(render_and_refine(style), runs, device, 2, base)),
            ("flight step", time_runs(pipe.step, runs, device, 2, base)),
        ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--weights", default=None, help="an original *latest.tar, its folder or a converted folder")
    args = parser.parse_args()
    settings = settings_line(args.device, args.threads)  # threads set before the pipeline loads
    pipe, weights = _pipeline(args.weights, args.device)
    size = "x".join(map(str, pipe.refiner.image_size))
    print(f"{settings}; weights: {weights}")
    print("| step | resolution | median ms | min ms | frames/s | peak MiB |")
    print("|---|---|---|---|---|---|")
    for name, row in measure(pipe, args.runs, args.device):
        print(f"| {name} | {size} | {row['median_ms']:.1f} | {row['min_ms']:.1f} | "
              f"{1000 / row['median_ms']:.2f} | {row['peak_mib']:.0f} |")


if __name__ == "__main__":
    main()
