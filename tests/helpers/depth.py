"""Tiny MiDaS networks and checkpoint files in the official formats, for the depth tests."""

from __future__ import annotations

from pathlib import Path

import torch

from viewgen.depth.midas_net import EfficientNetLiteConfig, MidasConfig, MidasNet, ResNeXtConfig

# The real architectures with small widths and depths (every block type and skip kind kept).
TINY_LARGE = MidasConfig(
    features=16, head_channels=8, input_size=64,
    resnext=ResNeXtConfig(layers=(1, 2, 1, 1), planes=(8, 16, 16, 32), stem_channels=8, groups=2, width_per_group=32),
)
TINY_SMALL = MidasConfig(
    encoder="efficientnet_lite", features=8, expand=True, custom_decoder=True, head_channels=4, input_size=64,
    efficientnet=EfficientNetLiteConfig(
        stem_channels=8,
        stages=(("ds", 1, 3, 1, 1, 8), ("ir", 2, 3, 2, 2, 8), ("ir", 1, 5, 2, 2, 16), ("ir", 1, 3, 2, 2, 16),
                ("ir", 2, 5, 1, 2, 24), ("ir", 1, 5, 2, 2, 32), ("ir", 1, 3, 1, 2, 32)),
    ),
)
TINY = {"midas-v21": TINY_LARGE, "midas-v21-small": TINY_SMALL}


def random_midas(config: MidasConfig, seed: int = 0) -> MidasNet:
    """A randomly initialised MidasNet in eval mode whose output is not all zero (random BN stats,
    positive output bias so the final ReLU does not clip everything)."""
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = MidasNet(config)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.normal_(0, 0.1, generator=generator)
                module.running_var.uniform_(0.5, 1.5, generator=generator)
                module.weight.uniform_(0.5, 1.5, generator=generator)
                module.bias.normal_(0, 0.1, generator=generator)
                module.num_batches_tracked.fill_(100)
        model.scratch.output_conv[4].bias.fill_(1.0)
    return model.eval()


def save_checkpoint(model: torch.nn.Module, path: Path, kind: str = "plain") -> Path:
    """Write ``model``'s state dict as upstream would: ``plain`` (``torch.save(state_dict)``),
    ``wrapped`` (``{"model": ..., "optimizer": ...}``, what upstream's BaseModel.load unwraps)
    or ``safetensors``."""
    state = model.state_dict()
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "plain":
        torch.save(state, path)
    elif kind == "wrapped":
        torch.save({"model": state, "optimizer": {"state": {}, "param_groups": [{"lr": 1e-4, "params": [0, 1]}]}},
                   path)
    elif kind == "safetensors":
        from safetensors.torch import save_file

        save_file({key: value.contiguous() for key, value in state.items()}, str(path))
    else:
        raise ValueError(kind)
    return path
