"""How good a flight is: per-image metrics, flight statistics, attitude, patch distance, loop closure,
and what they compare against: ground-truth clips of the synthetic world and the two baselines.

PSNR and SSIM need the ``eval`` extra (torchmetrics), imported when first called; so do LPIPS, FID
and KID (:mod:`viewgen.evaluation.perceptual`), which also need their weight files (docs/perceptual.md).
The rest needs no network and no extra. The protocols that fly pipelines against them (``viewgen eval``) are
:mod:`viewgen.evaluation.protocols`, :mod:`viewgen.evaluation.loop_protocol` (loop closure: back at the start,
per memory) and :mod:`viewgen.evaluation.report` (metrics.json, report.md and its plots; matplotlib from the
``eval`` extra): import them by name; they are not re-exported here, since the protocols import
:mod:`viewgen.control` and :mod:`viewgen.memory`.
"""

from viewgen.evaluation.attitude import CameraAttitude, camera_attitude
from viewgen.evaluation.baselines import fill_nearest, repeat_start_frame, warp_nearest_fill
from viewgen.evaluation.distribution import patch_distance, patch_distance_noise_floor, sliced_wasserstein
from viewgen.evaluation.flight_stats import (
    ColorDrift,
    color_drift,
    compensated_flicker,
    frozen_runs,
    high_frequency_energy,
    raw_flicker,
    sharpness,
    sky_fraction,
)
from viewgen.evaluation.ground_truth import GroundTruthClip, ground_truth_clip
from viewgen.evaluation.loop_closure import LoopClosureError, loop_closure_error
from viewgen.evaluation.metrics import masked_psnr, masked_ssim, psnr, ssim
from viewgen.evaluation.perceptual import fid, kid, load_fid_inception, load_lpips, lpips

__all__ = [
    "CameraAttitude", "ColorDrift", "GroundTruthClip", "LoopClosureError", "fill_nearest", "ground_truth_clip",
    "repeat_start_frame", "warp_nearest_fill", "camera_attitude", "color_drift", "compensated_flicker",
    "fid", "frozen_runs", "high_frequency_energy", "kid", "load_fid_inception", "load_lpips", "loop_closure_error",
    "lpips", "masked_psnr", "masked_ssim",
    "patch_distance", "patch_distance_noise_floor", "psnr", "raw_flicker", "sharpness", "sky_fraction",
    "sliced_wasserstein", "ssim",
]
