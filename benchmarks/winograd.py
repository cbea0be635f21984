"""Winograd F(4x4, 3x3) against direct convolution, layer by layer and for the whole SPADE generator.

    python benchmarks/winograd.py                  # the released generator's layers at 160x256
    python benchmarks/winograd.py --size 320x512 --runs 5

Per layer shape of the generator (a SPADE's gamma and beta counted as one layer of 2C outputs, as
they run): milliseconds of the direct convolution and of :func:`viewgen.networks.winograd.winograd_conv3x3`,
timed in turns (median), the gain, whether :func:`~viewgen.networks.winograd.winograd_pays` picks
Winograd for it, and the largest difference relative to the output's largest value. Then the whole
generator both ways, timed in turns, with its "equivalent" GFLOP/s (the direct convolutions'
FLOPs over the time) beside the machine's fp32 matrix-multiply rate, and the peak memory each adds.
"""

from __future__ import annotations

import argparse
import statistics
import sys

import torch
import torch.nn.functional as F
from _timing import peak_rss_mib, settings_line, time_interleaved
from torch.utils.flop_counter import FlopCounterMode

from viewgen.networks import SpadeGenerator, SpadeGeneratorConfig
from viewgen.networks.infinite_nature.layers import SameConv2d
from viewgen.networks.infinite_nature.spade import Spade
from viewgen.networks.winograd import conv_algorithm, winograd_conv3x3, winograd_kernel, winograd_pays
from viewgen.runtime import tune_cpu_allocator

MATMUL_SIZE = 2048


def layer_shapes(generator: SpadeGenerator, inputs: tuple) -> list[tuple[int, int, int, int, int]]:
    """``(C, K, H, W, count)`` of every stride-1 3x3 convolution of one generator call, gamma + beta joined."""
    seen: dict[tuple[int, int, int, int], int] = {}

    def note(in_channels: int, out_channels: int, height: int, width: int) -> None:
        key = (in_channels, out_channels, height, width)
        seen[key] = seen.get(key, 0) + 1

    hooks = []
    modulations = {id(layer) for spade in generator.modules() if isinstance(spade, Spade)
                   for layer in (spade.gamma, spade.beta)}
    for module in generator.modules():
        if isinstance(module, Spade):
            hooks.append(module.gamma.register_forward_pre_hook(
                lambda layer, args: note(layer.in_channels, 2 * layer.out_channels, *args[0].shape[-2:])))
        elif isinstance(module, SameConv2d) and module.kernel_size == (3, 3) and module.stride == (1, 1):
            if id(module) not in modulations:
                hooks.append(module.register_forward_pre_hook(
                    lambda layer, args: note(layer.in_channels, layer.out_channels, *args[0].shape[-2:])))
    with torch.inference_mode(), conv_algorithm("direct"):
        generator(*inputs)
    for hook in hooks:
        hook.remove()
    return [(*key, count) for key, count in seen.items()]


def time_layer(in_channels: int, out_channels: int, height: int, width: int, runs: int) -> dict:
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(1, in_channels, height + 2, width + 2, generator=generator)
    weight = torch.randn(out_channels, in_channels, 3, 3, generator=generator) / (9 * in_channels) ** 0.5
    bias = torch.randn(out_channels, generator=generator)
    kernel = winograd_kernel(weight)
    with torch.inference_mode():
        direct = F.conv2d(x, weight, bias)
        error = (winograd_conv3x3(x, kernel, bias) - direct).abs().max() / direct.abs().max()
        times = time_interleaved({"direct": lambda: F.conv2d(x, weight, bias),
                                  "winograd": lambda: winograd_conv3x3(x, kernel, bias)}, runs)
        pays = winograd_pays(x[..., 1:-1, 1:-1], weight)
    return {"direct": statistics.median(times["direct"]), "winograd": statistics.median(times["winograd"]),
            "pays": pays, "error": float(error)}


def print_layers(shapes, runs: int) -> None:
    print("C -> K | map | calls | direct ms | winograd ms | gain | picked | max rel. difference")
    print("---|---|---|---|---|---|---|---")
    for in_channels, out_channels, height, width, count in shapes:
        row = time_layer(in_channels, out_channels, height, width, runs)
        print(f"{in_channels} -> {out_channels} | {height}x{width} | {count} | {row['direct']:.2f} | "
              f"{row['winograd']:.2f} | {row['direct'] / row['winograd']:.2f} | "
              f"{'winograd' if row['pays'] else 'direct'} | {row['error']:.1e}")


def print_generator(generator: SpadeGenerator, inputs: tuple, runs: int) -> None:
    with torch.inference_mode(), conv_algorithm("direct"), FlopCounterMode(display=False) as counter:
        reference = generator(*inputs)
    flops = counter.get_total_flops()
    peaks, outputs = {}, {}
    with torch.inference_mode():
        for name in ("direct", "winograd"):  # memory first: each algorithm's growth of the high-water mark
            before = peak_rss_mib()
            with conv_algorithm(name):
                outputs[name] = generator(*inputs)
            peaks[name] = peak_rss_mib() - before
        difference = (outputs["winograd"] - reference).abs()

        def call(name: str):
            def once() -> None:
                with conv_algorithm(name):
                    generator(*inputs)
            return once

        times = time_interleaved({name: call(name) for name in ("direct", "winograd")}, runs)
    a, b = (torch.randn(MATMUL_SIZE, MATMUL_SIZE) for _ in range(2))
    matmul = time_interleaved({"matmul": lambda: a @ b}, max(runs, 5))["matmul"]
    matmul_rate = 2 * MATMUL_SIZE**3 / statistics.median(matmul) / 1e6
    print(f"\ngenerator: {flops / 1e9:.1f} GFLOP of direct convolution; fp32 matmul {MATMUL_SIZE}^2: "
          f"{matmul_rate:.0f} GFLOP/s")
    print("algorithm | ms (median) | runs | equivalent GFLOP/s | % of matmul rate | peak RSS growth MiB")
    print("---|---|---|---|---|---")
    for name, values in times.items():
        median = statistics.median(values)
        rate = flops / median / 1e6
        print(f"{name} | {median:.0f} | {' '.join(f'{v:.0f}' for v in values)} | {rate:.0f} | "
              f"{100 * rate / matmul_rate:.0f}% | {peaks[name]:.0f}")
    direct, winograd = statistics.median(times["direct"]), statistics.median(times["winograd"])
    print(f"gain {direct / winograd:.2f}x; output difference max {difference.max():.1e}, mean {difference.mean():.1e}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=lambda text: tuple(int(v) for v in text.split("x")), default=(160, 256),
                        metavar="HxW", help="generator size (default 160x256, the released model's)")
    parser.add_argument("--runs", type=int, default=7, help="timed rounds (median; default 7)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    args = parser.parse_args(argv)
    tune_cpu_allocator()
    print(settings_line("cpu", args.threads))
    torch.manual_seed(0)
    generator = SpadeGenerator(SpadeGeneratorConfig(image_size=args.size)).eval()
    height, width = args.size
    inputs = (torch.rand(1, 4, height, width), (torch.rand(1, 1, height, width) > 0.3).float(), torch.randn(1, 256))
    print_layers(layer_shapes(generator, inputs), args.runs)
    print_generator(generator, inputs, args.runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
