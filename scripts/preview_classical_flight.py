"""Fly with the weight-free :class:`ClassicalRefiner` and save a contact sheet plus a quality table.

    python scripts/preview_classical_flight.py                        # toy scene, 150 frames
    python scripts/preview_classical_flight.py --input sample:2 --out /tmp/flight2.png
    python scripts/preview_classical_flight.py --input /path/autocruise_input1.pkl --frames 300 --size 320x512

The flight is ``FlyThroughPipeline(refiner=...)`` with the default autopilot and memory
(:class:`~viewgen.memory.LastFrame`: autopilot -> ``warp_rgbd`` of the previous frame -> refine ->
rescale). Printed per reported frame: ``detail`` = mean |Laplacian|
of the luminance over the ground (disparity above the style's sky threshold) relative to
frame 0, ``mid`` = the same for a difference of Gaussians (sigma 1 and 3), ``flicker`` = mean
|refined - warped| color change on fully known pixels (``far``: those with disparity < 0.3),
``holes`` = share of pixels with mask < 0.5, ``log_scale`` = what ``rescale_refined_disparity``
applied, the disparity range, the sky share and the mean color; then the median times of a
whole step and of the refine call in it (the rest is mostly the warp).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from viewgen.data.toy_scene import toy_landscape_rgbd
from viewgen.geometry.intrinsics import default_intrinsics
from viewgen.pipelines import FlyThroughConfig, FlyThroughPipeline
from viewgen.refiners.classical.detail import gaussian_blur, luma
from viewgen.refiners.classical.fill import unpremultiply
from viewgen.refiners.classical.refiner import ClassicalRefiner
from viewgen.refiners.classical.style import unpack_style

_LAPLACIAN = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]]).view(1, 1, 3, 3)


def load_input(spec: str, size: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``toy`` | ``sample:N`` | a file readable by ``load_rgbd_file`` -> (rgbd ``[1, 4, H, W]``, intrinsics or None)."""
    if spec == "toy":
        return toy_landscape_rgbd(*size), None
    if spec.startswith("sample:"):
        from viewgen.data.samples import load_sample

        sample = load_sample(spec.split(":", 1)[1])
        return sample.rgbd, sample.intrinsics
    from viewgen.io.rgbd_files import load_rgbd_file

    loaded = load_rgbd_file(spec)
    return loaded.rgbd, loaded.intrinsics


class TimedRefiner(ClassicalRefiner):
    """A :class:`ClassicalRefiner` that records its time and what it changed on every call."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.records: list[dict] = []

    def refine(self, warped_rgbd: torch.Tensor, mask: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        start = time.perf_counter()
        refined = super().refine(warped_rgbd, mask, style)
        elapsed = time.perf_counter() - start
        known = mask >= 0.99
        change = (refined[:, :3] - unpremultiply(warped_rgbd, mask)[:, :3]).abs().mean(1, keepdim=True)
        far = known & (refined[:, 3:] < 0.3)
        self.records.append({"refine": elapsed, "holes": float((mask < 0.5).float().mean()),
                             "flicker": float(change[known].mean()) if known.any() else 0.0,
                             "flicker_far": float(change[far].mean()) if far.any() else 0.0,
                             "refined_disparity": refined[:, 3:]})
        return refined


def detail_energy(rgb: torch.Tensor, region: torch.Tensor) -> tuple[float, float]:
    """(mean |Laplacian|, mean |DoG(1, 3)|) of the luminance over ``region`` ``[1, 1, H, W]`` bool."""
    y = luma(rgb)
    laplacian = F.conv2d(F.pad(y, (1, 1, 1, 1), mode="replicate"), _LAPLACIAN.to(y)).abs()
    mid = (gaussian_blur(y, 1.0) - gaussian_blur(y, 3.0)).abs()
    if not region.any():
        return float("nan"), float("nan")
    return float(laplacian[region].mean()), float(mid[region].mean())


def fly(rgbd: torch.Tensor, intrinsics: torch.Tensor | None, frames: int, size: tuple[int, int]):
    """Fly ``frames`` frames; returns (rgbd per frame incl. frame 0, per-frame stats, sky threshold)."""
    refiner = TimedRefiner()
    pipe = FlyThroughPipeline(refiner=refiner, config=FlyThroughConfig(image_size=size))
    history = [pipe.reset(rgbd, intrinsics=intrinsics).rgbd]
    threshold = float(unpack_style(pipe.style)["sky_threshold"])
    stats = []
    for _ in range(frames):
        start = time.perf_counter()
        frame = pipe.step()
        record = refiner.records[-1]
        log_scale = torch.log(frame.disparity.clamp_min(1e-6) / record.pop("refined_disparity").clamp_min(1e-6))
        stats.append({**record, "step": time.perf_counter() - start, "log_scale": float(log_scale.median())})
        history.append(frame.rgbd)
    return history, stats, threshold


def contact_sheet(history: list[torch.Tensor], indices: list[int], path: Path) -> None:
    """Frames ``indices`` as rows of (RGB | disparity), written as a PNG."""
    rows = []
    for index in indices:
        frame = history[index][0].clamp(0, 1).permute(1, 2, 0).numpy()
        disparity = np.repeat(frame[..., 3:], 3, axis=2)
        rows.append(np.concatenate([frame[..., :3], np.ones_like(frame[:, :4, :3]), disparity], axis=1))
        rows.append(np.ones_like(rows[-1][:4]))
    Image.fromarray((np.concatenate(rows[:-1]) * 255).round().astype(np.uint8)).save(path)


def report(history, stats, threshold: float, every: int) -> None:
    """Print the per-frame quality table and the timings."""
    def ground(frame):
        return frame[:, 3:] >= threshold

    detail0, mid0 = detail_energy(history[0][:, :3], ground(history[0]))
    print(f"{'frame':>5} {'detail':>7} {'mid':>6} {'flicker':>8} {'far':>7} {'holes':>6} {'log_scale':>9} "
          f"{'d_min':>6} {'d_max':>6} {'sky':>5}  mean rgb")
    for index, frame in enumerate(history):
        if index % every and index != len(history) - 1:
            continue
        detail, mid = detail_energy(frame[:, :3], ground(frame))
        row = stats[index - 1] if index else {"flicker": 0.0, "flicker_far": 0.0, "holes": 0.0, "log_scale": 0.0}
        color = " ".join(f"{value:.3f}" for value in frame[0, :3].mean(dim=(1, 2)).tolist())
        print(f"{index:5d} {detail / detail0:7.2f} {mid / mid0:6.2f} {row['flicker']:8.4f} {row['flicker_far']:7.4f} "
              f"{row['holes']:6.3f} "
              f"{row['log_scale']:+9.4f} {float(frame[:, 3].min()):6.3f} {float(frame[:, 3].max()):6.3f} "
              f"{float((frame[:, 3] < threshold).float().mean()):5.2f}  {color}")
    step_ms = statistics.median(s["step"] for s in stats) * 1e3
    refine_ms = statistics.median(s["refine"] for s in stats) * 1e3
    rest_ms = statistics.median(s["step"] - s["refine"] for s in stats) * 1e3
    print(f"median step {step_ms:.1f} ms = refine {refine_ms:.1f} ms + warp/autopilot/rescale {rest_ms:.1f} ms "
          f"at {tuple(history[0].shape[-2:])}, {torch.get_num_threads()} threads")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--input", default="toy", help="toy | sample:N | path to an RGBD file")
    parser.add_argument("--frames", type=int, default=150)
    parser.add_argument("--size", default="160x256", help="HxW")
    parser.add_argument("--sheet", default="0,25,50,100,150", help="frame indices of the contact sheet")
    parser.add_argument("--every", type=int, default=10, help="table row every N frames")
    parser.add_argument("--focal", type=float, default=None,
                        help="default intrinsics with this focal_x instead of the input's own (0.8 otherwise)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default="/tmp/classical_flight.png")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    size = tuple(int(part) for part in args.size.lower().split("x"))
    rgbd, intrinsics = load_input(args.input, size)
    if args.focal is not None:
        intrinsics = default_intrinsics(*size, fx=args.focal)
    history, stats, threshold = fly(rgbd, intrinsics, args.frames, size)
    report(history, stats, threshold, args.every)
    indices = [index for index in (int(part) for part in args.sheet.split(",")) if index < len(history)]
    contact_sheet(history, indices, Path(args.out))
    print(f"contact sheet (frames {indices}): {args.out}")


if __name__ == "__main__":
    main()
