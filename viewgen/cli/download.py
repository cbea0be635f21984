"""``viewgen download``: fetch the weights of depth backends and perceptual metrics ahead of time."""

from __future__ import annotations

import sys
from argparse import Namespace

__all__ = ["PERCEPTUAL", "add_parser", "run"]

# name -> ("module:attribute" holding the WeightFile, what it is for)
PERCEPTUAL = {
    "lpips-alexnet": ("viewgen.evaluation.perceptual:ALEXNET_WEIGHTS",
                      "AlexNet backbone of LPIPS (viewgen eval, evaluation.perceptual.lpips)"),
    "fid-inception": ("viewgen.evaluation.perceptual:FID_INCEPTION_WEIGHTS",
                      "FID Inception-v3 of FID and KID (evaluation.perceptual.fid/kid)"),
    "vgg19": ("viewgen.training.perceptual:VGG19_WEIGHTS",
              "VGG19 (MatConvNet) of Infinite Nature's perceptual training loss (training.perceptual)"),
}


def add_parser(subparsers) -> None:
    """Register ``download`` on the ``viewgen`` subcommand parsers."""
    from viewgen.depth.registry import available_backends

    names = ", ".join((*available_backends(), *PERCEPTUAL))
    download = subparsers.add_parser(
        "download", help="fetch depth and metric weights ahead of time (into $VIEWGEN_HOME or the Hugging Face cache)",
        description="Download the weights of depth backends and perceptual metrics so later runs work offline. "
                    "Names: " + names + ".")
    download.add_argument("names", nargs="*", metavar="NAME",
                          help="what to fetch (e.g. midas-v21, lpips-alexnet)")
    download.add_argument("--list", action="store_true", help="list the names and whether their weights are here")
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


def _perceptual_spec(name: str):
    import importlib

    module, attribute = PERCEPTUAL[name][0].split(":")
    return getattr(importlib.import_module(module), attribute)


def _perceptual_found(name: str):
    """The file of ``name`` in viewgen's cache or torch.hub's checkpoints, else None."""
    from viewgen.evaluation.perceptual import find_local_weights

    return find_local_weights(_perceptual_spec(name))


def _fetch_perceptual(name: str) -> str:
    from viewgen.hub import ensure_weights

    found = _perceptual_found(name)
    if found is not None:
        return f"{name}: already here: {found}"
    return f"{name}: {ensure_weights(_perceptual_spec(name), command=f'viewgen download {name}', progress=True)}"


def _print_list() -> None:
    from viewgen.depth.registry import BACKENDS
    from viewgen.hub import weights_dir

    print(f"weights folder: {weights_dir()} (set VIEWGEN_HOME to move it)")
    for name, info in BACKENDS.items():
        print(f"  {name:<24} {info.summary}\n  {'':<24} weights: {info.weights}; {_status(name)}")
    for name, (_, summary) in PERCEPTUAL.items():
        found = _perceptual_found(name)
        print(f"  {name:<24} {summary}\n  {'':<24} weights: {_perceptual_spec(name).filename}; "
              f"{found if found else 'not downloaded'}")


def run(args: Namespace) -> int:
    from viewgen.depth.registry import download_backend

    if args.list or not args.names:
        _print_list()
        if not args.names:
            if not args.list:
                print("give names to download, e.g. `viewgen download midas-v21`", file=sys.stderr)
            return 0
    for name in args.names:
        if name in PERCEPTUAL:
            print(_fetch_perceptual(name))
        else:
            print(f"{name}: {download_backend(name, progress=True)}")
    return 0
