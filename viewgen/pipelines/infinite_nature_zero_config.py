"""The settings of Infinite Nature Zero's flight (:class:`InfiniteNatureZeroConfig`) and the record of one step."""

from __future__ import annotations

from dataclasses import dataclass, field

from torch import Tensor

from viewgen.control.zero_autopilot import ZeroAutopilotConfig
from viewgen.pipelines.zero_inputs import SkyCorrection, SkyDomeView, ZeroInputConfig
from viewgen.refiners.stylegan import StyleGANRefinerConfig, ZeroRefinement

__all__ = ["InfiniteNatureZeroConfig", "ZeroStepRecord"]


@dataclass(frozen=True)
class InfiniteNatureZeroConfig:
    """Settings of an :class:`InfiniteNatureZeroPipeline`; the defaults are the original's ``pvg_lhq-test.py``.

    inputs, autopilot, refiner: the configs of input preparation, Zero's autopilot and the refiner.
    sky_correction: blend the sky dome into the sky of each frame (and run the crash test).
    coverage_threshold: a dome pixel is known where its splatted coverage exceeds this.
    erosion_size, blur_size, blur_sigma: the sky mask's square erosion and Gaussian blur.
    crash_below, crash_above: the crash test on the mean sky mask (fraction of the frame).
    stop_on_crash: end the flight at a crash (else carry on, that frame uncorrected).
    seed: seed of the flight's random draws (dropout mask, z, noise).
    device: where the generator runs.
    """

    inputs: ZeroInputConfig = field(default_factory=ZeroInputConfig)
    autopilot: ZeroAutopilotConfig = field(default_factory=ZeroAutopilotConfig)
    refiner: StyleGANRefinerConfig = field(default_factory=StyleGANRefinerConfig)
    sky_correction: bool = True
    coverage_threshold: float = 0.9
    erosion_size: int = 7
    blur_size: int = 5
    blur_sigma: float = 1.5
    crash_below: float = 0.05
    crash_above: float = 0.6
    stop_on_crash: bool = True
    seed: int = 0
    device: str = "cpu"

    def __post_init__(self) -> None:
        if not 0 <= self.crash_below <= self.crash_above <= 1:
            raise ValueError(f"InfiniteNatureZeroConfig needs 0 <= crash_below <= crash_above <= 1, got "
                             f"{self.crash_below}, {self.crash_above}")
        if self.erosion_size < 1 or self.blur_size < 1 or self.blur_size % 2 == 0 or not self.blur_sigma > 0:
            raise ValueError("InfiniteNatureZeroConfig needs erosion_size >= 1, an odd blur_size and blur_sigma > 0")


@dataclass(frozen=True, eq=False)
class ZeroStepRecord:
    """Everything one :meth:`InfiniteNatureZeroPipeline.step` computed (``pipe.last_step``), for inspection.

    cam_from_start, fly: ``[4, 4]`` the new camera (start camera's frame) and the relative pose from the last.
    dome, refinement, alpha ``[1, 1, S, S]``, sky (``None`` when the correction is off).
    """

    cam_from_start: Tensor
    fly: Tensor
    dome: SkyDomeView
    refinement: ZeroRefinement
    alpha: Tensor
    sky: SkyCorrection | None
