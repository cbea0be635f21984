"""The model families a run can train (:class:`~viewgen.training.runs.RunFamily`), and their entry points.

* ``enr``: Equivariant Neural Rendering on pairs of posed views (:mod:`viewgen.training.enr`):
  :func:`train_enr`.
* ``infinite-nature``: render-refine-repeat rollouts on posed clip windows
  (:mod:`viewgen.training.infinite_nature`): :func:`train_infinite_nature`, on the synthetic world
  rendered on the fly (``data="synthetic"``) or GoogleEarth-Infinite.
* ``infinite-nature-zero``: cycles and autopilot flights from single photos
  (:mod:`viewgen.training.infinite_nature_zero`): :func:`train_infinite_nature_zero`, on the synthetic world's
  views or a folder of photos in the LHQ layout.
"""

from __future__ import annotations

from pathlib import Path

import torch

from viewgen.training.enr import EnrTrainingConfig, EnrTrainingModule, export_release
from viewgen.training.infinite_nature import (
    InfiniteNatureTrainingConfig,
    InfiniteNatureTrainingModule,
    export_flight_checkpoint,
)
from viewgen.training.infinite_nature_zero import InfiniteNatureZeroTrainingConfig, export_zero_checkpoint
from viewgen.training.runs import RunFamily, RunSummary, train_run

__all__ = ["ENR", "FAMILIES", "INFINITE_NATURE", "INFINITE_NATURE_ZERO", "train_enr", "train_infinite_nature",
           "train_infinite_nature_zero"]


def _enr_samples(data_module) -> dict:
    """Views 0 and 1 of the first scenes (up to 4 pairs; fewer scenes: the first scene's next views too)."""
    dataset = data_module.val_set or data_module.train_set
    pairs, views = min(data_module.config.pairs_per_batch, 4), dataset.views_per_scene
    indices = [index for pair in range(pairs)
               for index in ((pair % dataset.num_scenes) * views + (2 * (pair // dataset.num_scenes)) % views,
                             (pair % dataset.num_scenes) * views + (2 * (pair // dataset.num_scenes) + 1) % views)]
    return torch.utils.data.default_collate([dataset[index] for index in indices])


def _in_module(config) -> InfiniteNatureTrainingModule:
    from viewgen.training.perceptual import load_vgg19_or_none

    return InfiniteNatureTrainingModule(config.to_dict(), load_vgg19_or_none() if config.perceptual else None)


def _in_samples(data_module) -> dict:
    window = data_module.windows[0]
    return torch.utils.data.default_collate([{key: value for key, value in window.items() if key != "preset"}])


def _zero_module(config):
    from viewgen.training.infinite_nature_zero import InfiniteNatureZeroTrainingModule
    from viewgen.training.perceptual import load_vgg19_or_none

    return InfiniteNatureZeroTrainingModule(config.to_dict(), load_vgg19_or_none() if config.perceptual else None)


def _zero_samples(data_module) -> dict:
    return torch.utils.data.default_collate([data_module.windows[0]])


ENR = RunFamily("enr", EnrTrainingConfig, lambda config: EnrTrainingModule(config.to_dict()), _enr_samples,
                export_release, "L1 + 0.05 (1 - SSIM)")
INFINITE_NATURE = RunFamily("infinite-nature", InfiniteNatureTrainingConfig, _in_module, _in_samples,
                            export_flight_checkpoint, "generator loss (weighted sum)")
INFINITE_NATURE_ZERO = RunFamily("infinite-nature-zero", InfiniteNatureZeroTrainingConfig, _zero_module, _zero_samples,
                                 export_zero_checkpoint, "generator loss (weighted sum)")
FAMILIES = {family.name: family for family in (ENR, INFINITE_NATURE, INFINITE_NATURE_ZERO)}


def _two_backward_strategy(options: dict) -> dict:
    """A generator-then-discriminator step makes two backward passes, each leaving the other network without a
    gradient: DDP must allow unused parameters."""
    if options.get("strategy") == "ddp":
        options = {**options, "strategy": "ddp_find_unused_parameters_true"}
    return options


def train_enr(config, data: str | Path, run_dir: str | Path, *, val_data: str | Path | None = None,
              **options) -> RunSummary:
    """Train (or resume) an ENR run in ``run_dir`` on the split ``data`` (Apple's layout), validating on ``val_data``
    every ``config.validate_every`` steps; ``options``: :func:`~viewgen.training.runs.train_run`'s."""
    from viewgen.training.enr import EnrPairData

    data_module = EnrPairData(config, data, val_data)  # reads the splits: bad data fails before the folder is made
    record = {"train": str(Path(data).resolve()), "val": str(Path(val_data).resolve()) if val_data else None}
    return train_run(ENR, config, data_module, record, run_dir, **options)


def _with_init(family: RunFamily, build_module, init, read, load, config, record: dict) -> RunFamily:
    """``family`` whose modules start from the release ``init`` (read and checked once by ``read(init, config)``,
    put into each new module by ``load(module, state)``); ``record`` notes it (a resumed run must name the same)."""
    from dataclasses import replace

    if init is None:
        return family
    state = read(init, config)  # a bad release fails before the run folder is touched
    record["init"] = str(Path(init).resolve())

    def build(settings):
        module = build_module(settings)
        load(module, state)
        return module

    return replace(family, build_module=build)


def train_infinite_nature(config, run_dir: str | Path, data: str = "synthetic", *, init: str | Path | None = None,
                          **options) -> RunSummary:
    """Train (or resume) an Infinite Nature run in ``run_dir``; ``data``: ``synthetic`` (the synthetic world's
    windows, rendered on the fly), a GoogleEarth-Infinite folder or posed clips (RealEstate10K / ACID layout).
    ``init``: a release folder to fine-tune (:func:`~viewgen.training.infinite_nature.read_flight_release`, read and
    checked once; a resumed run continues from its check-point, but must name the same). ``options``:
    :func:`~viewgen.training.runs.train_run`'s."""
    from viewgen.training.infinite_nature import load_flight_release, read_flight_release
    from viewgen.training.infinite_nature_data import window_data

    data_module, record = window_data(str(data), config)  # checked before the run folder is touched
    family = _with_init(INFINITE_NATURE, _in_module, init, read_flight_release, load_flight_release, config, record)
    return train_run(family, config, data_module, record, run_dir, **_two_backward_strategy(options))


def train_infinite_nature_zero(config, run_dir: str | Path, data: str = "synthetic", *,
                               init: str | Path | None = None, **options) -> RunSummary:
    """Train (or resume) an Infinite Nature Zero run in ``run_dir``; ``data``: ``synthetic`` (views of the synthetic
    world, rendered on the fly) or a folder of photos in the LHQ layout (``images/`` with ``midas-disp/`` from
    ``viewgen prepare-photos``). ``init``: a release to fine-tune (the original checkpoint, converted or not, or an
    export: :func:`~viewgen.training.infinite_nature_zero.read_zero_release`). ``options``:
    :func:`~viewgen.training.runs.train_run`'s."""
    from viewgen.training.infinite_nature_data import photo_data
    from viewgen.training.infinite_nature_zero import load_zero_release, read_zero_release

    data_module, record = photo_data(str(data), config)  # checked before the run folder is touched
    family = _with_init(INFINITE_NATURE_ZERO, _zero_module, init, read_zero_release, load_zero_release, config,
                        record)
    return train_run(family, config, data_module, record, run_dir, **_two_backward_strategy(options))
