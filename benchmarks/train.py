"""Benchmark training: milliseconds per optimiser step of every training preset, and peak memory.

Usage::

    python benchmarks/train.py                         # every preset, CPU, torch's threads
    python benchmarks/train.py --presets enr:tiny,infinite-nature:tiny --runs 3 --threads 1
    python benchmarks/train.py --device cuda           # on a GPU machine

Rows: per preset, one whole training step as the LightningModule does it (ENR: the cross-view
forward, L1 + SSIM, Adam; Infinite Nature: the rollout, the generator's and the discriminator's
updates; Infinite Nature Zero: the cycle and the autopilot flight at the preset's longest length, both
updates, the R1 penalty every step), on a fixed batch of the preset's size, without Lightning's loop (whose overhead
is the same for every preset); the median of ``--runs`` steps after warm-up, the peak memory growth,
the batch (pairs x 2 images, or windows x frames) and the resolution. Data loading is not in it: a
window of the synthetic world takes about 0.5 s to render at 64x96 (more at 160x256), so Infinite
Nature runs want ``--workers``.
"""

from __future__ import annotations

import argparse

import torch
from _timing import peak_rss_mib, settings_line, time_runs

ALL = ("enr:tiny", "enr:objects", "enr:chairs", "infinite-nature:tiny", "infinite-nature:small",
       "infinite-nature:paper", "infinite-nature-zero:tiny", "infinite-nature-zero:small",
       "infinite-nature-zero:paper")


class _Optimisers:
    """Stands in for Lightning in a manual-optimisation step: ``optimizers()`` and ``manual_backward``."""

    def __init__(self, module) -> None:
        module.optimizers = lambda: self.wrapped
        module.manual_backward = lambda loss: loss.backward()
        self.wrapped = [_Wrapped(optimizer) for optimizer in module.configure_optimizers()]


class _Wrapped:
    def __init__(self, optimizer) -> None:
        self.optimizer = optimizer

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.optimizer.zero_grad(set_to_none=set_to_none)

    def step(self) -> None:
        self.optimizer.step()


def _enr_step(config, device: str):
    from viewgen.training.enr import EnrTrainingModule

    module = EnrTrainingModule(config.to_dict()).to(device).train()
    module.log = module.log_dict = lambda *args, **kwargs: None
    optimizer = module.configure_optimizers()
    images = 2 * config.pairs_per_batch
    batch = {"img": torch.rand(images, 3, *config.model.image_size, device=device),
             "render_params": {"azimuth": torch.rand(images, device=device) * 360,
                               "elevation": torch.rand(images, device=device) * 60}}

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        module.training_step(batch, 0).backward()
        optimizer.step()

    return step, f"{config.pairs_per_batch} pairs", config.model.image_size


def _in_step(config, device: str):
    from viewgen.training.infinite_nature import InfiniteNatureTrainingModule

    module = InfiniteNatureTrainingModule(config.to_dict()).to(device).train()
    module.log = module.log_dict = lambda *args, **kwargs: None
    _Optimisers(module)
    height, width = config.generator.image_size
    frames = config.rollout_steps + 1
    poses = torch.eye(3, 4).repeat(config.batch_size, frames, 1, 1)
    poses[:, :, 2, 3] = -0.02 * torch.arange(frames).view(1, frames)  # flying forward
    batch = {"rgbd": torch.rand(config.batch_size, frames, 4, height, width, device=device),
             "cam_from_world": poses.to(device),
             "intrinsics": torch.tensor([0.8, 1.28, 0.5, 0.5], device=device).repeat(config.batch_size, 1)}
    return (lambda: module.training_step(batch, 0)), f"{config.batch_size} x {frames} frames", (height, width)


def _zero_step(config, device: str):
    from dataclasses import replace

    from viewgen.training.infinite_nature_data import photo_data
    from viewgen.training.infinite_nature_zero import InfiniteNatureZeroTrainingModule

    config = replace(config, rollout_schedule=(), r1_every=1)  # the longest flight, R1 at every step: the worst
    module = InfiniteNatureZeroTrainingModule(config.to_dict()).to(device).train()
    module.log = module.log_dict = lambda *args, **kwargs: None
    _Optimisers(module)
    photos, _ = photo_data("synthetic", config)
    batch = torch.utils.data.default_collate([photos.windows[index] for index in range(config.batch_size)])
    batch = {key: value.to(device) for key, value in batch.items()}
    size = (config.size, config.size)
    return (lambda: module.training_step(batch, 0)), f"{config.batch_size} x {config.rollout_steps} steps", size


_STEPS = {"enr": _enr_step, "infinite-nature": _in_step, "infinite-nature-zero": _zero_step}


def main() -> None:
    from viewgen.training.presets import preset

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--presets", default=",".join(ALL), help=f"comma-separated family:preset (default {ALL})")
    args = parser.parse_args()
    print(settings_line(args.device, args.threads))
    print("| preset | batch | resolution | median ms per step | min ms | peak MiB |")
    print("|---|---|---|---|---|---|")
    for name in args.presets.split(","):
        family, preset_name = name.split(":")
        config = preset(family, preset_name, perceptual=False) if family != "enr" else preset(family, preset_name)
        torch.manual_seed(0)
        base = peak_rss_mib()
        step, batch, size = _STEPS[family](config, args.device)
        row = time_runs(step, args.runs, args.device, 2, base)
        print(f"| {name} | {batch} | {size[0]}x{size[1]} | {row['median_ms']:.0f} | {row['min_ms']:.0f} | "
              f"{row['peak_mib']:.0f} |")


if __name__ == "__main__":
    main()
