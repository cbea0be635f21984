"""``viewgen download``: fetch the weights of depth backends ahead of time."""

from __future__ import annotations

import sys
from argparse import Namespace

__all__ = ["add_parser", "run"]


def add_parser(subparsers) -> None:
    """Register ``download`` on the ``viewgen`` subcommand parsers."""
    from viewgen.depth.registry import available_backends

    names = ", ".join(available_backends())
    download = subparsers.add_parser(
        "download", help="fetch depth weights ahead of time (into $VIEWGEN_HOME or the Hugging Face cache)",
        description="Download the weights of depth backends so later runs work offline. Backends: " + names + ".")
    download.add_argument("names", nargs="*", metavar="NAME", help="backends to fetch (e.g. midas-v21)")
    download.add_argument("--list", action="store_true", help="list the backends and whether their weights are here")
    download.set_defaults(run=run)


def _status(name: str) -> str:
    from viewgen.depth.registry import backend_info

    info = backend_info(name)
    if info.downloader is None:
        return "-"
    if info.requires == "depth":
        try:
            import transformers  # noqa: F401
            from huggingface_hub import try_to_load_from_cache
        except ImportError:
            return 'needs pip install "viewgen[depth]"'
        from viewgen.depth.hf import HF_MODELS

        cached = try_to_load_from_cache(HF_MODELS[name].model_id, "config.json")
        return "in the Hugging Face cache" if isinstance(cached, str) else "not downloaded"
    from viewgen.depth.midas import MIDAS_VARIANTS
    from viewgen.hub import find_weights

    found = find_weights(MIDAS_VARIANTS[name].weights)
    return str(found) if found else "not downloaded"


def run(args: Namespace) -> int:
    from viewgen.depth.registry import BACKENDS, download_backend
    from viewgen.hub import weights_dir

    if args.list or not args.names:
        print(f"weights folder: {weights_dir()} (set VIEWGEN_HOME to move it)")
        for name, info in BACKENDS.items():
            print(f"  {name:<24} {info.summary}\n  {'':<24} weights: {info.weights}; {_status(name)}")
        if not args.names:
            if not args.list:
                print("give backend names to download, e.g. `viewgen download midas-v21`", file=sys.stderr)
            return 0
    for name in args.names:
        path = download_backend(name, progress=True)
        print(f"{name}: {path}")
    return 0
