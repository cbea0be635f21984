"""``viewgen fly --model infinite-nature-zero``: Infinite Nature Zero's part of ``viewgen fly``.

Thin over :class:`~viewgen.pipelines.infinite_nature_zero.InfiniteNatureZeroPipeline`: the weights
are the original ``*latest.tar`` (or the folder holding it, or a folder of ``viewgen convert
infinite-nature-zero``); the input is prepared as the original's test data (centre square crop, 128 x 128,
percentile-normalised disparity, sky from the disparity unless ``--sky`` names a segmentation backend or a mask
image: :func:`zero_sky_mask`); Zero's own autopilot flies; ``--memory world`` flies it with a persistent world
(:class:`~viewgen.memory.world.WorldMemory`) in place of the splat of the last frame. A crash into an
obstacle is an event: by default the flight stops there, the frames so far are written and the closing
line says so (exit 0); ``--on-crash continue`` flies on without that frame's sky correction.
"""

from __future__ import annotations

import sys
from argparse import Namespace
from dataclasses import replace
from pathlib import Path

from viewgen.cli.fly import Flight
from viewgen.cli.fly_world import choose_memory

__all__ = ["CHECKPOINT_URL", "MODEL", "check_not_zero_weights", "check_sky_args", "check_zero_args",
           "check_zero_weights", "crash_note", "plan_zero", "read_sky_file", "zero_sky_mask"]

MODEL = "infinite-nature-zero"
# The original README's "Downloading data and pretrained checkpoint" (google-research/infinite_nature_zero).
CHECKPOINT_URL = "https://storage.googleapis.com/gresearch/infinite_nature_zero/infinite_nature_zero_ckpts_data.zip"


def check_zero_weights(weights: str | None) -> None:
    """One-line refusals, before any work: no --weights (saying where the released checkpoint is), or none there."""
    if weights is None:
        raise ValueError(f"--model {MODEL} needs --weights: the released LHQ checkpoint is published in "
                         f"{CHECKPOINT_URL} (unzip it and pass --weights checkpoints/, the *latest.tar in it, "
                         f"or a folder made by `viewgen convert {MODEL}`)")
    if not Path(weights).exists():
        raise FileNotFoundError(f"no Infinite Nature Zero weights at {weights}: give the original "
                                f"checkpoints/*latest.tar (from {CHECKPOINT_URL}), its folder, or a converted folder")


def check_zero_args(args: Namespace) -> None:
    """One-line refusals, before any work: :func:`check_zero_weights`, and the options Zero has no use for."""
    check_zero_weights(args.weights)
    if args.size is not None:
        raise ValueError(f"--size does not apply to --model {MODEL}: it flies at its generator's resolution "
                         "(128x128 for the released model); drop --size")
    if args.path != "autopilot":
        raise ValueError(f"--path {args.path} does not apply to --model {MODEL}: it flies with its own autopilot "
                         "only; drop --path")
    if args.precision != "exact":
        raise ValueError(f"--precision {args.precision} applies to --model infinite-nature only (Zero flies with "
                         "the original's arithmetic)")
    check_sky_args(args.sky, args.sky_weights)


def check_sky_args(sky: str | None, sky_weights: str | None) -> None:
    """One-line refusals of ``--sky`` / ``--sky-weights`` before any work: a ``--sky`` that is no backend, model
    folder or file, ``--sky-weights`` without a backend name."""
    from viewgen.segmentation import available_sky_backends, is_sky_backend

    names = ", ".join(available_sky_backends())
    if sky is None:
        if sky_weights is not None:
            raise ValueError(f"--sky-weights needs --sky NAME, a segmentation backend ({names})")
        return
    if sky_weights is not None and sky not in available_sky_backends():
        raise ValueError(f"--sky-weights goes with a segmentation backend name ({names}), not with --sky {sky}")
    if not is_sky_backend(sky) and not (sky.strip() and Path(sky).is_file()):
        raise FileNotFoundError(f"--sky {sky}: no such segmentation backend ({names}), model folder or mask image")


def check_not_zero_weights(weights: str | None) -> None:
    """One-line refusal of Infinite Nature Zero weights given to Infinite Nature (they need ``--model``)."""
    folder = Path(weights) if weights is not None else None
    if folder is not None and (folder.suffix == ".tar" or (folder / "infinite_nature_zero.json").is_file()
                               or (folder.is_dir() and any(folder.glob("*latest.tar")))):
        raise ValueError(f"{weights} holds Infinite Nature Zero weights: add --model {MODEL}")


def plan_zero(args: Namespace, start) -> Flight:
    """Load the weights, prepare the input (its warnings printed) and describe the flight for ``viewgen fly``."""
    from viewgen.pipelines.infinite_nature_zero import InfiniteNatureZeroPipeline

    sky, sky_words = zero_sky_mask(args.sky, args.sky_weights, start.rgbd[:, :3], args.device)
    pipe = InfiniteNatureZeroPipeline.from_pretrained(args.weights, device=args.device)
    pipe.config = replace(pipe.config, seed=args.seed, stop_on_crash=args.on_crash != "continue")
    refiner = f"Infinite Nature Zero's StyleGAN2 refiner from {args.weights}; {sky_words}"
    pipe.memory = choose_memory(args.memory, pipe.memory, weight_free=False)  # world: the generator fills the rest
    if args.memory != "default":
        refiner += f", remembering {args.memory}"
    inputs = pipe.prepare(start.rgbd, sky_mask=sky)  # RGB + disparity of any scale: only its percentiles matter
    for message in inputs.warnings:
        print(f"viewgen: warning: {message}", file=sys.stderr)

    def next_frame():
        if pipe.frame.event is not None and pipe.config.stop_on_crash:
            return None  # the flight stopped at a crash: the frames so far are kept
        return pipe.step()

    return Flight(pipe.refiner.image_size, "Zero's autopilot", refiner, lambda: pipe.reset(inputs), next_frame,
                  lambda: crash_note(pipe.events, pipe.config.stop_on_crash))


def zero_sky_mask(sky: str | None, sky_weights: str | None, rgb, device: str = "cpu"):
    """``(mask, words)``: the sky mask of the input ``rgb [1, 3, H, W]`` for ``--sky`` as a ``[H, W]`` float 0/1
    tensor (``None`` without ``--sky``: Zero calls the pixels of small disparity sky), and the start line's words
    for where it came from. ``sky`` is a segmentation backend or model folder (run on ``rgb`` on ``device``), else
    a mask image (:func:`read_sky_file`)."""
    from viewgen.segmentation import is_sky_backend, load_sky_segmenter

    if sky is None:
        return None, "sky from the disparity (no --sky)"
    if is_sky_backend(sky):
        mask = load_sky_segmenter(sky, weights=sky_weights, device=device).sky_mask(rgb)
        source = f"{sky} segmentation"
    else:
        mask = read_sky_file(Path(sky), tuple(rgb.shape[-2:]))
        source = f"the mask {sky}"
    mask = mask.float()
    return mask, f"sky from {source} ({100 * float(mask.mean()):.0f}% of the input)"


def read_sky_file(path: Path, size: tuple[int, int]):
    """The sky mask image ``path`` (:func:`~viewgen.data.photo_folders.read_sky_mask`: 255 of a 0/255 mask, or the
    COCO-Stuff labels 156/105) as a bool ``[H, W]`` tensor for an input of ``size = (H, W)``. A mask of the input
    file's size follows the input when it was shrunk to the working size as it was read; any other size is one-line
    ``ValueError``."""
    import torch
    import torch.nn.functional as F

    from viewgen.data.photo_folders import read_sky_mask
    from viewgen.io.limits import WORKING_MAX_SIDE, fit_long_side

    mask = torch.from_numpy(read_sky_mask(path))
    if tuple(mask.shape) == tuple(size):
        return mask
    if fit_long_side(*mask.shape, WORKING_MAX_SIDE) == tuple(size):
        return F.interpolate(mask[None, None].float(), size=size, mode="nearest-exact")[0, 0] > 0.5
    (height, width), (mask_height, mask_width) = size, mask.shape
    raise ValueError(f"the sky mask {path} is {mask_width}x{mask_height} pixels but the input is {width}x{height}: "
                     "give a mask of the input's size")


def crash_note(events, stopped: bool) -> str:
    """The closing line's addition for a flight's crash events (``""`` when there were none)."""
    crashes = [event for event in events if event.kind == "crash"]
    if not crashes:
        return ""
    first = crashes[0]
    if stopped:
        return f"; the flight stopped at frame {first.frame_index}, a crash event: {first.message}"
    frames = ", ".join(str(event.frame_index) for event in crashes[:5]) + (", ..." if len(crashes) > 5 else "")
    return (f"; {len(crashes)} crash event{'s' if len(crashes) != 1 else ''} (frame{'s' if len(crashes) != 1 else ''} "
            f"{frames}; first: {first.message}), flown on without their sky correction")
