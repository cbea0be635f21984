"""Training Infinite Nature: rollouts through our mesh warp with gradients everywhere, two Lightning steps of the
tiny config on the synthetic world, a fixed batch overfitted, and a resumed run equal to an uninterrupted one."""

from dataclasses import replace

import lightning.pytorch as pl
import pytest
import torch

from viewgen.data.datasets import SyntheticWindows, SyntheticWindowsConfig
from viewgen.training.infinite_nature import InfiniteNatureTrainingModule, rollout, tiny_config
from viewgen.training.infinite_nature_data import synthetic_window_data


@pytest.fixture(scope="module")
def batch():
    windows = SyntheticWindows(SyntheticWindowsConfig(height=32, width=48, frames=3, num_windows=4, seed=5))
    return torch.utils.data.default_collate([windows[0], windows[1]])


def _trainer(tmp_path, max_steps, **options):
    return pl.Trainer(default_root_dir=tmp_path, max_steps=max_steps, accelerator="cpu", logger=False,
                      enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                      deterministic=True, use_distributed_sampler=False, **options)


def test_a_rollout_refines_every_step_with_gradients_to_every_weight(batch):
    module = InfiniteNatureTrainingModule(tiny_config().to_dict())
    generated, mu, logvar = rollout(module.encoder, module.generator, batch["rgbd"], batch["cam_from_world"],
                                    batch["intrinsics"], torch.randn(2, 8))
    assert generated.shape == (2, 2, 4, 32, 48) and mu.shape == logvar.shape == (2, 8)
    assert float(generated.min()) >= 0 and float(generated.max()) <= 1
    losses = module.generator_losses(batch["rgbd"][:, 1:].flatten(0, 1), generated.flatten(0, 1), mu, logvar)
    assert set(losses) == {"reconstruction", "adversarial", "feature_matching", "kl", "total"}
    losses["total"].backward()
    for network in (module.encoder, module.generator):
        assert all(p.grad is not None and bool(torch.isfinite(p.grad).all()) for p in network.parameters())


def test_the_tiny_config_trains_two_steps_on_the_synthetic_world(tmp_path):
    config = tiny_config()
    module = InfiniteNatureTrainingModule(config.to_dict())
    before = {key: value.clone() for key, value in module.state_dict().items()}
    data = synthetic_window_data((32, 48), config.rollout_steps, config.batch_size, windows_per_epoch=8)
    trainer = _trainer(tmp_path, 2)
    trainer.fit(module, datamodule=data)
    assert trainer.global_step == 2  # a step is one batch: the generator's and the discriminator's update
    moved = [key for key, value in module.state_dict().items() if not torch.equal(before[key], value)]
    assert any(key.startswith("generator.") for key in moved) and any(key.startswith("discriminator.") for key in moved)
    assert any(key.startswith("encoder.") for key in moved)


def test_a_fixed_batch_is_overfitted(batch, tmp_path):
    # the machinery (rollout, warp gradients, the generator's optimiser) without the adversary's game, whose
    # early steps may raise the L1 before they lower it
    config = tiny_config(learning_rate=1e-3)
    config = replace(config, weights=replace(config.weights, adversarial=0.0, feature_matching=0.0))
    module = InfiniteNatureTrainingModule(config.to_dict())

    def reconstruction():
        with torch.no_grad():
            generated, _, _ = rollout(module.encoder, module.generator, batch["rgbd"], batch["cam_from_world"],
                                      batch["intrinsics"], torch.zeros(2, 8))
        return float((generated - batch["rgbd"][:, 1:]).abs().mean())

    start = reconstruction()
    loader = torch.utils.data.DataLoader([{key: value[i] for key, value in batch.items() if key != "preset"}
                                          for i in range(2)] * 50, batch_size=2)
    _trainer(tmp_path, 50).fit(module, train_dataloaders=loader)
    assert reconstruction() < 0.7 * start


def test_a_resumed_run_ends_where_an_uninterrupted_one_does(tmp_path):
    from viewgen.training.checkpoints import StepCheckpoints, newest_checkpoint

    config = tiny_config()

    def run(folder, max_steps, resume=None):
        module = InfiniteNatureTrainingModule(config.to_dict())
        data = synthetic_window_data((32, 48), config.rollout_steps, config.batch_size, windows_per_epoch=6)
        trainer = _trainer(folder, max_steps, callbacks=[StepCheckpoints(folder / "checkpoints", 2)])
        trainer.fit(module, datamodule=data, ckpt_path=resume, weights_only=True)
        return module.state_dict()

    whole = run(tmp_path / "whole", 5)  # 3 batches per epoch: the resumed run starts mid-epoch 1
    run(tmp_path / "split", 4)
    resumed = run(tmp_path / "split", 5, newest_checkpoint(tmp_path / "split" / "checkpoints"))
    assert all(torch.equal(whole[key], resumed[key]) for key in whole)


def test_a_trained_model_exports_to_weights_that_fly(batch, tmp_path):
    from torch.nn.utils import parametrize

    from viewgen.pipelines import FlyThroughPipeline
    from viewgen.training.infinite_nature import export_flight_weights
    from viewgen.training.spectral_norm import baked_weight

    config = tiny_config()
    config = replace(config, encoder=replace(config.encoder, spectral_norm=True),
                     generator=replace(config.generator, spectral_norm=True))
    module = InfiniteNatureTrainingModule(config.to_dict()).train()
    module.encoder(batch["rgbd"][:, 0])  # a training forward moves the power iterations' u
    live = [(name, m) for name, m in module.encoder.named_modules() if parametrize.is_parametrized(m, "weight")]
    name, conv = live[0]
    expected = baked_weight(conv.parametrizations.weight.original, conv.parametrizations.weight[0]._u)
    export_flight_weights(module, tmp_path / "release")
    loaded = FlyThroughPipeline.from_pretrained(tmp_path / "release")
    assert loaded.refiner.style_encoder.config.spectral_norm is False
    assert torch.equal(loaded.refiner.style_encoder.get_submodule(name).weight, expected)
    assert parametrize.is_parametrized(conv, "weight")  # the module itself trains on with live spectral norm
    flight = loaded(batch["rgbd"][:1, 0], num_frames=2)
    assert flight.rgbd.shape[-2:] == (32, 48)




def test_two_ddp_processes_step_in_lockstep(tmp_path):
    from tests.helpers.training import ddp_run_script, run_script

    script = ddp_run_script("train_infinite_nature", "viewgen.training.infinite_nature", "tiny_config")
    done = run_script(tmp_path / "ddp_run.py", script, str(tmp_path / "run"))  # DDP re-launches a script file
    assert done.returncode == 0, done.stderr[-3000:]
    ranks = [(tmp_path / f"run.rank{rank}").read_text() for rank in (0, 1)]
    assert ranks[0] == ranks[1] and ranks[0].startswith("2 ")  # the same weights after the same two steps
    assert (tmp_path / "run" / "release" / "fly_through.json").is_file()


def test_rollouts_grow_by_schedule():
    config = tiny_config(rollout_schedule=((0, 1), (3, 2)))
    assert [config.rollout_at(step) for step in range(5)] == [1, 1, 1, 2, 2]
    assert tiny_config().rollout_at(7) == 2
    again = type(config).from_dict(config.to_dict())  # the schedule survives the run folder's JSON
    assert again.rollout_schedule == ((0, 1), (3, 2))
    with pytest.raises(ValueError, match="rollout_schedule"):
        tiny_config(rollout_schedule=((0, 3),))


@pytest.mark.slow
def test_the_paper_preset_fine_tunes_the_converted_fixture_checkpoint(tmp_path):
    from tests.helpers.shared import infinite_nature_checkpoint
    from viewgen.cli.main import main
    from viewgen.training.families import train_infinite_nature
    from viewgen.training.presets import preset

    checkpoint = infinite_nature_checkpoint(tmp_path / "ckpt")
    assert main(["convert", "infinite-nature", str(checkpoint), str(tmp_path / "converted")]) == 0
    config = preset("infinite-nature", "paper", max_steps=1, rollout_steps=1, batch_size=1, perceptual=False,
                    log_every=1, windows_per_epoch=4)
    summary = train_infinite_nature(config, tmp_path / "run", init=tmp_path / "converted", accelerator="cpu",
                                    progress=False)
    assert summary.last_step == 1 and summary.train_loss == summary.train_loss  # a finite loss, not NaN
    from viewgen.pipelines import FlyThroughPipeline

    tuned = FlyThroughPipeline.from_pretrained(summary.release)
    assert tuned.generator.config == FlyThroughPipeline.from_pretrained(tmp_path / "converted").generator.config


def test_a_moving_average_of_the_generator_is_kept_in_checkpoints_and_exported(tmp_path):
    from viewgen.pipelines import FlyThroughPipeline
    from viewgen.training.families import train_infinite_nature
    from viewgen.training.infinite_nature import export_flight_checkpoint

    config = tiny_config(ema_decay=0.5, max_steps=2)
    summary = train_infinite_nature(config, tmp_path / "run", accelerator="cpu", progress=False)
    checkpoint = tmp_path / "run" / "checkpoints" / "step00000002.ckpt"
    state = torch.load(checkpoint, weights_only=True)["state_dict"]
    assert int(state["generator_ema.n_averaged"]) == 2  # updated after each generator step, kept in check-points
    name = "conv_out.parametrizations.weight.original"
    assert not torch.equal(state[f"generator_ema.module.{name}"], state[f"generator.{name}"])
    exported = export_flight_checkpoint(checkpoint, tmp_path / "exported")  # the average flies, not the last step
    module = InfiniteNatureTrainingModule(config.to_dict())
    module.load_state_dict(state)
    assert module.flight_networks()[1] is module.generator_ema.module
    released = FlyThroughPipeline.from_pretrained(summary.release).generator.state_dict()
    assert all(torch.equal(value, released[key]) for key, value in exported.generator.state_dict().items())
    from viewgen.training.spectral_norm import baked_weight

    average = baked_weight(state[f"generator_ema.module.{name}"],
                           state["generator_ema.module.conv_out.parametrizations.weight.0._u"])
    assert torch.equal(exported.generator.conv_out.weight, average)
    with pytest.raises(ValueError, match="ema_decay must be in"):
        tiny_config(ema_decay=1.0)


@pytest.mark.parametrize("name", ["paper", "small", "tiny"])
def test_every_preset_trains_two_steps_on_cpu(name, tmp_path):
    from viewgen.training.families import train_infinite_nature
    from viewgen.training.presets import preset

    config = preset("infinite-nature", name, max_steps=2, rollout_steps=1, batch_size=1, perceptual=False,
                    windows_per_epoch=4, checkpoint_every=2, sample_every=2, log_every=1)
    summary = train_infinite_nature(config, tmp_path / "run", accelerator="cpu", progress=False)
    assert summary.last_step == 2 and summary.train_loss == summary.train_loss  # logged, finite
    assert (tmp_path / "run" / "release" / "spade_generator").is_dir()




def test_a_run_killed_with_sigkill_resumes_with_no_step_lost_or_repeated(tmp_path):
    # 6 windows, 2 a step: 3 steps an epoch; the kill comes at step 5, two steps after the check-point of step 3
    from tests.helpers.training import check_sigkill_resume, killed_run_script

    parts = ("style_encoder/model.safetensors", "spade_generator/model.safetensors")
    script = killed_run_script("train_infinite_nature", "viewgen.training.infinite_nature", "tiny_config",
                               "windows_per_epoch")
    check_sigkill_resume(script, tmp_path, parts)
