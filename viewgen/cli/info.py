"""``viewgen info``: versions, devices, and the weights found in the cache."""

from __future__ import annotations

import platform
from argparse import Namespace

__all__ = ["add_parser", "found_weights_lines", "run"]


def add_parser(subparsers) -> None:
    """Register ``info`` on the ``viewgen`` subcommand parsers."""
    info = subparsers.add_parser("info", help="versions, devices and settings")
    info.set_defaults(run=run)


def run(args: Namespace) -> int:
    import numpy
    import torch

    import viewgen

    print(f"viewgen {viewgen.__version__}")
    print(f"python {platform.python_version()} ({platform.platform()})")
    print(f"torch {torch.__version__}, numpy {numpy.__version__}")
    print(f"cpu threads: {torch.get_num_threads()}")
    if torch.cuda.is_available():
        for index in range(torch.cuda.device_count()):
            print(f"cuda:{index}: {torch.cuda.get_device_name(index)}")
    else:
        print("cuda: not available")
    for line in found_weights_lines():
        print(line)
    return 0


def found_weights_lines() -> list[str]:
    """What ``viewgen info`` reports about weights: the cache folder and what it holds."""
    from viewgen.depth.midas import MIDAS_VARIANTS
    from viewgen.hub import find_weights, viewgen_home

    home = viewgen_home()
    lines = [f"weights cache: {home} (set VIEWGEN_HOME to move it)"]
    for name, variant in MIDAS_VARIANTS.items():
        path = find_weights(variant.weights)
        lines.append(f"  depth {name}: {path if path else 'not downloaded (viewgen download ' + name + ')'}")
    configs = [*home.glob("*/spade_generator/config.json"), *home.glob("*/*/spade_generator/config.json")]
    converted = sorted(config.parent.parent for config in configs
                       if (config.parent.parent / "style_encoder" / "config.json").is_file()
                       and not any(part.startswith(".") for part in config.relative_to(home).parts))  # unfinished
    if converted:
        lines += [f"  infinite nature weights: {folder} (use --weights {folder})" for folder in converted]
    else:
        lines.append("  infinite nature weights: none converted here (see `viewgen convert infinite-nature --help`; "
                     "without them `viewgen fly` uses the weight-free refiner)")
    lines.append(_embedded_enr_line())
    return lines


def _embedded_enr_line() -> str:
    """The embedded ENR model (in the package, not the cache): its folder and image size, or why it is missing."""
    from viewgen.networks.enr import embedded_weights_folder

    try:
        folder = embedded_weights_folder()
    except FileNotFoundError as error:
        return f"  enr embedded model: {error}"
    return f"  enr embedded model: {folder} (viewgen novel-views uses it without --weights)"
