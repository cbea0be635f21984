"""The settings of Infinite Nature's fly-through (:class:`FlyThroughConfig`), apart from the loop itself."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from viewgen import devices
from viewgen.control.fly_dynamic import FlyDynamicConfig
from viewgen.control.registry import CONTROLLER_NAMES
from viewgen.devices import PRECISIONS
from viewgen.networks.winograd import CONV_ALGORITHMS, ConvAlgorithm

__all__ = ["DTYPES", "PRECISIONS", "FlyThroughConfig", "check_gpu_options"]

DTYPES = {"float32": torch.float32, "float64": torch.float64}  # the rasterizer needs >= float32


@dataclass(frozen=True)
class FlyThroughConfig:
    """Settings of a :class:`FlyThroughPipeline` (the defaults reproduce ``autocruise.py``).

    image_size: ``(H, W)`` the flight runs at; inputs are resized to it (bilinear, like
        ``tf.image.resize``). Must equal the refiner's own ``image_size`` when it has one
        (the SPADE networks do; the classical refiner works at any size).
    focal_x: default intrinsics ``[focal_x, focal_x * W_in / H_in, 0.5, 0.5]``, from the
        *input's* aspect ratio (0.8 = 64 degrees across).
    controller: default camera controller name (``autopilot|straight|zoom-in|dolly|swing|circle``).
    autopilot: default :class:`FlyDynamicConfig` of the autopilot (speed in depth units per frame).
    style_temperature: 0 uses the encoder's mu (the original); ``t > 0`` samples
        ``mu + t * exp(logvar / 2) * eps``, ``eps`` drawn from a generator seeded with ``seed``.
    seed: seed of that private generator (no global RNG is touched).
    device, dtype: where and in what precision the networks and frames live
        (``"float32"`` or ``"float64"``).
    precision: ``"exact"`` (the default: the original's arithmetic, within the parity bounds) or ``"fast"``: the
        refiner runs in bfloat16 (autocast), for interactive use, its error measured in docs/speed.md: on a GPU,
        or on a CPU with native bfloat16 (AVX512-BF16 or AMX; the generator channels-last, 1.67x faster). A CPU
        without it has no faster path (bfloat16 measured 250x slower on an AVX2 CPU), so ``"fast"`` there is
        refused when the pipeline is built.
    cuda_graphs: on a CUDA device, replay the refiner from captured CUDA graphs
        (:class:`~viewgen.refiners.cuda_graphs.GraphedRefiner`: one launch per frame); refused on a CPU.
    conv: how the refiner's 3x3 convolutions run on a CPU: ``"winograd"`` (the default: F(4x4, 3x3)
        where it pays, ~1.3x faster, within the same parity bounds) or ``"direct"`` (PyTorch's own,
        bit-identical to earlier releases); see :mod:`viewgen.networks.winograd` and docs/speed.md.
        GPUs always convolve directly (cuDNN picks its own algorithms).
    """

    image_size: tuple[int, int] = (160, 256)
    focal_x: float = 0.8
    controller: str = "autopilot"
    autopilot: FlyDynamicConfig = field(default_factory=FlyDynamicConfig)
    style_temperature: float = 0.0
    seed: int = 0
    device: str = "cpu"
    dtype: str = "float32"
    precision: str = "exact"
    cuda_graphs: bool = False
    conv: ConvAlgorithm = "winograd"

    def __post_init__(self) -> None:
        if len(self.image_size) != 2 or min(self.image_size) < 2:
            raise ValueError(f"FlyThroughConfig.image_size must be (H, W) with H, W >= 2, got {self.image_size}")
        if self.controller not in CONTROLLER_NAMES:
            raise ValueError(f"FlyThroughConfig.controller must be one of {', '.join(CONTROLLER_NAMES)}, "
                             f"got {self.controller!r}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"FlyThroughConfig.precision must be one of {', '.join(PRECISIONS)}, "
                             f"got {self.precision!r}")
        if self.conv not in CONV_ALGORITHMS:
            raise ValueError(f"FlyThroughConfig.conv must be one of {', '.join(CONV_ALGORITHMS)}, got {self.conv!r}")
        if self.dtype not in DTYPES:
            raise ValueError(f"FlyThroughConfig.dtype must be one of {', '.join(DTYPES)}, got {self.dtype!r}")
        if not (self.focal_x > 0 and self.style_temperature >= 0):
            raise ValueError("FlyThroughConfig.focal_x must be > 0 and style_temperature >= 0")


def check_gpu_options(config: FlyThroughConfig, device: torch.device) -> None:
    """``precision="fast"`` needs native bfloat16 (:func:`~viewgen.devices.native_bfloat16`) and ``cuda_graphs`` a
    CUDA device (one-line ``ValueError``)."""
    devices.check_precision(config.precision, device)
    if config.cuda_graphs and device.type != "cuda":
        raise ValueError("cuda_graphs needs a CUDA device (on a CPU there is no launch overhead to save)")
