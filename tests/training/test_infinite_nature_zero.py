"""Training Infinite Nature Zero: runs of every preset, the moving average exported, fine-tuning a release, a run
killed with SIGKILL resuming bit for bit, two DDP processes in lockstep, and the release flying."""

from dataclasses import replace

import pytest
import torch

from viewgen.training.families import train_infinite_nature_zero
from viewgen.training.infinite_nature_zero import InfiniteNatureZeroTrainingModule, zero_tiny_config


def _cheap_flight(config):
    """The config with a small truncation-centre sample (the samples' flights compute it once per draw)."""
    return replace(config, flight=replace(config.flight, refiner=replace(config.flight.refiner,
                                                                         mean_latent_samples=64)))


def test_the_tiny_preset_trains_exports_and_the_release_flies(tmp_path):
    from viewgen.pipelines.infinite_nature_zero import InfiniteNatureZeroPipeline
    from viewgen.training.infinite_nature_zero import export_zero_checkpoint

    summary = train_infinite_nature_zero(zero_tiny_config(), tmp_path / "run", accelerator="cpu", progress=False)
    assert summary.last_step == 2 and summary.train_loss == summary.train_loss  # logged and finite
    run = tmp_path / "run"
    assert (run / "samples" / "step_00000002.png").is_file() and (run / "loss_curve.png").is_file()
    state = torch.load(run / "checkpoints" / "step00000002.ckpt", weights_only=True)["state_dict"]
    assert int(state["generator_ema.n_averaged"]) == 2  # the average is kept in check-points
    pipe = InfiniteNatureZeroPipeline.from_pretrained(summary.release)
    released = pipe.refiner.generator.state_dict()
    assert all(torch.equal(state[f"generator_ema.module.{key}"], value) for key, value in released.items())
    assert not all(torch.equal(state[f"generator.{key}"], value) for key, value in released.items())
    exported = export_zero_checkpoint(run / "checkpoints" / "step00000002.ckpt", tmp_path / "exported")
    assert all(torch.equal(value, released[key]) for key, value in exported.refiner.generator.state_dict().items())
    from viewgen.data.samples import load_sample

    sample = load_sample(1).rgbd[0]
    flight = pipe(sample[:3], 3, disparity=sample[3])
    assert flight.rgbd.shape[1:] == (4, 16, 16) and bool(torch.isfinite(flight.rgbd).all())


@pytest.mark.parametrize("name", [pytest.param("paper", marks=pytest.mark.slow), "small", "tiny"])
def test_every_preset_trains_two_steps_on_cpu(name, tmp_path):
    # paper: the released 65 M-weight generator, ~15 s a step and a 1.4 GB check-point on our CPU (75 s in all): slow
    from viewgen.training.presets import preset

    config = preset("infinite-nature-zero", name, max_steps=2, rollout_steps=1, rollout_schedule=(), batch_size=1,
                    perceptual=False, items_per_epoch=4, checkpoint_every=2, sample_every=2, log_every=1)
    summary = train_infinite_nature_zero(_cheap_flight(config), tmp_path / "run", accelerator="cpu", progress=False)
    assert summary.last_step == 2 and summary.train_loss == summary.train_loss
    assert (tmp_path / "run" / "release" / "generator" / "model.safetensors").is_file()


def test_training_draws_are_seeded_so_a_step_is_reproducible(tmp_path):
    from viewgen.training.infinite_nature_data import photo_data

    config = zero_tiny_config()
    data, _ = photo_data("synthetic", config)
    batch = torch.utils.data.default_collate([data.windows[0], data.windows[1]])
    from viewgen.training.infinite_nature_zero import _fake_groups

    results = []
    for _ in range(2):
        module = InfiniteNatureZeroTrainingModule(config.to_dict())
        cycle, groups = _fake_groups(module.generator, batch, config, 5, torch.Generator().manual_seed(5))
        results.append(torch.cat([group.detach() for group in groups]))
    assert torch.equal(results[0], results[1])
    assert len(groups) == 2 + config.rollout_at(5)  # virtual, returned and one group per flight step


def test_fine_tuning_starts_from_a_release_and_refuses_another_architecture(tmp_path):
    from viewgen.pipelines.infinite_nature_zero import InfiniteNatureZeroPipeline
    from viewgen.training.infinite_nature_zero import export_zero_weights

    source = InfiniteNatureZeroTrainingModule(zero_tiny_config(seed=7).to_dict())
    export_zero_weights(source, tmp_path / "release")
    config = zero_tiny_config(max_steps=1, learning_rate=1e-12)  # a step that barely moves the weights
    summary = train_infinite_nature_zero(config, tmp_path / "run", init=tmp_path / "release", accelerator="cpu",
                                         progress=False)
    tuned = InfiniteNatureZeroPipeline.from_pretrained(summary.release).refiner.generator.state_dict()
    start = source.generator.state_dict()
    assert all(torch.allclose(tuned[key], start[key], atol=1e-6) for key in start)
    from viewgen.training.presets import preset

    with pytest.raises(ValueError, match=r"its generator is not this preset's \(resolution, latent_dim"):
        train_infinite_nature_zero(preset("infinite-nature-zero", "small"), tmp_path / "other",
                                   init=tmp_path / "release", accelerator="cpu", progress=False)
    assert not (tmp_path / "other").exists()  # refused before the run folder is made


def test_a_folder_of_photos_without_disparity_is_refused_in_one_line(tmp_path):
    from PIL import Image

    (tmp_path / "photos" / "images").mkdir(parents=True)
    Image.new("RGB", (40, 30), (90, 120, 200)).save(tmp_path / "photos" / "images" / "a.png")
    with pytest.raises(ValueError, match="prepare-photos"):
        train_infinite_nature_zero(zero_tiny_config(), tmp_path / "run", tmp_path / "photos", accelerator="cpu",
                                   progress=False)
    with pytest.raises(ValueError, match="neither synthetic nor a folder"):
        train_infinite_nature_zero(zero_tiny_config(), tmp_path / "run", tmp_path / "missing", accelerator="cpu",
                                   progress=False)
    assert not (tmp_path / "run").exists()




def test_a_run_killed_with_sigkill_resumes_with_no_step_lost_or_repeated(tmp_path):
    # 6 photos, 2 a step: 3 steps an epoch; the kill comes at step 5, two steps after the check-point of step 3
    from tests.helpers.training import check_sigkill_resume, killed_run_script

    script = killed_run_script("train_infinite_nature_zero", "viewgen.training.infinite_nature_zero",
                               "zero_tiny_config", "items_per_epoch")
    check_sigkill_resume(script, tmp_path, ("generator/model.safetensors",))




def test_two_ddp_processes_step_in_lockstep(tmp_path):
    from tests.helpers.training import ddp_run_script, run_script

    script = ddp_run_script("train_infinite_nature_zero", "viewgen.training.infinite_nature_zero", "zero_tiny_config")
    done = run_script(tmp_path / "ddp_run.py", script, str(tmp_path / "run"))  # DDP re-launches a script file
    assert done.returncode == 0, done.stderr[-3000:]
    ranks = [(tmp_path / f"run.rank{rank}").read_text() for rank in (0, 1)]
    assert ranks[0] == ranks[1] and ranks[0].startswith("2 ")  # the same weights after the same two steps
    assert (tmp_path / "run" / "release" / "infinite_nature_zero.json").is_file()
