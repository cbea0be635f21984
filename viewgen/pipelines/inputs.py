"""Turn what a user names on the command line into a starting RGBD frame.

``INPUT`` is one of:

* ``sample:N`` (or ``sample:coast``): an embedded scene of the synthetic world (N = 1..3);
* an RGBD file: ``.npz`` / ``.npy`` or an original ``autocruise_input*.pkl`` (read safely);
* a photo (PNG / JPEG / ...): its disparity comes from a depth backend (``viewgen.depth``).

This is the one place where file inputs and depth estimation meet, so ``viewgen fly``,
``viewgen export-mesh`` and the web demo accept the same things.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from viewgen.checks import check_min_size
from viewgen.io.limits import WORKING_MAX_SIDE
from viewgen.io.paths import require_regular_file
from viewgen.io.rgbd_files import InputError, RGBDInput, load_rgbd_file, validate_rgbd

__all__ = ["DEFAULT_INPUT", "RGBD_SUFFIXES", "ResolvedInput", "resolve_input"]

DEFAULT_INPUT = "sample:1"
RGBD_SUFFIXES = (".npz", ".npy", ".pkl", ".pickle")
SAMPLE_PREFIX = "sample:"


@dataclass(frozen=True, eq=False)
class ResolvedInput:
    """A starting frame and where it came from.

    rgbd_input: the RGBD (``[1, 4, H, W]``), its intrinsics and pose when the source has them.
    description: a short human-readable origin, e.g. ``"sample 1 (coast)"`` or
        ``"photo.jpg + midas-v21 depth"``.
    """

    rgbd_input: RGBDInput
    description: str


def resolve_input(spec: str | None, depth: str | None = None, device: str = "cpu",
                  max_side: int | None = WORKING_MAX_SIDE) -> ResolvedInput:
    """Load ``spec`` (see the module docstring; ``None`` means :data:`DEFAULT_INPUT`).

    ``depth`` names the depth backend for photos (the registry's default when ``None``). It is
    checked for every input, so a misspelt name is an error even where it would not be used;
    for samples and RGBD files, which have their own disparity, a given ``depth`` adds a
    warning that it is unused. ``max_side``: a photo or RGBD file whose longer side is larger
    is shrunk to fit before it is converted to float (``None`` keeps the file's size; files
    above the limits of :mod:`viewgen.io.limits` are refused either way). Raises
    ``ValueError`` / ``OSError`` subclasses with one-line messages for anything unusable.
    """
    if depth is not None:
        from viewgen.depth.registry import backend_info

        backend_info(depth)  # an unknown name -> one line listing the known ones
    spec = DEFAULT_INPUT if spec is None else spec
    if spec.startswith(SAMPLE_PREFIX):
        return _unused_depth(_sample(spec[len(SAMPLE_PREFIX):]), depth)
    path = Path(spec)
    if path.suffix.lower() in RGBD_SUFFIXES:
        return _unused_depth(ResolvedInput(load_rgbd_file(path, max_side=max_side), path.name), depth)
    if not path.exists():
        raise InputError(f"cannot read {spec}: no such file (give an image, an RGBD .npz/.npy/.pkl "
                         f"or sample:1..3)")
    require_regular_file(path, InputError, "an image or RGBD file")
    return _photo(path, depth, device, max_side)


def _unused_depth(resolved: ResolvedInput, depth: str | None) -> ResolvedInput:
    """Add a warning that the depth backend ``depth`` (if given) is not used for ``resolved``."""
    if depth is None:
        return resolved
    note = (f"depth backend {depth!r} is not used: {resolved.description} has its own disparity "
            "(it only applies to photos)")
    source = resolved.rgbd_input
    return replace(resolved, rgbd_input=replace(source, warnings=(*source.warnings, note)))


def _sample(key: str) -> ResolvedInput:
    from viewgen.data.samples import SAMPLE_NAMES, load_sample, sample_index

    try:
        index, name = sample_index(key)
    except ValueError:
        raise InputError(f"unknown sample {key!r}: use sample:N with N in 1..{len(SAMPLE_NAMES)} "
                         f"or sample:{'|'.join(SAMPLE_NAMES)}") from None
    return ResolvedInput(load_sample(index), f"sample {index} ({name})")


def _photo(path: Path, depth: str | None, device: str, max_side: int | None) -> ResolvedInput:
    import torch

    from viewgen.depth import DEFAULT_BACKEND, get_estimator
    from viewgen.io.images import load_image

    image = load_image(path, max_side=max_side)  # [1, 3, H, W] in [0, 1]; one-line errors, size checked first
    check_min_size(image, 2, path.name, error=InputError)
    name = depth or DEFAULT_BACKEND
    estimator = get_estimator(name, device=device)
    with torch.inference_mode():
        disparity = estimator(image.to(device)).to("cpu", torch.float32)
    rgbd = torch.cat([image.float(), disparity], dim=1)
    warnings = validate_rgbd(rgbd, path.name)  # NaN or out-of-range -> InputError; constant -> warning
    return ResolvedInput(RGBDInput(rgbd.contiguous(), warnings=tuple(warnings)), f"{path.name} + {name} depth")
