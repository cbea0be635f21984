"""ENR training runs: every preset trains, a run folder resumes exactly (even after SIGKILL), DDP shares batches."""

import json
from dataclasses import replace

import lightning.pytorch as pl
import pytest
import torch
from safetensors.torch import load_file

from tests.helpers.training import object_split, run_python, run_viewgen
from viewgen.networks.enr import EquivariantRenderer
from viewgen.training.checkpoints import checkpoint_config, newest_checkpoint, read_checkpoint, step_of
from viewgen.training.curves import read_run_metrics
from viewgen.training.enr import EnrTrainingConfig, export_release
from viewgen.training.families import train_enr
from viewgen.training.presets import ENR_PRESETS, enr_preset


@pytest.fixture(scope="module")
def splits(tmp_path_factory):
    root = tmp_path_factory.mktemp("objects")
    return object_split(root, scenes=3, views=4, size=32), object_split(root, scenes=2, views=4, seed=9, split="val")


def _weights(run_dir):
    return load_file(run_dir / "release" / "model.safetensors")


@pytest.mark.parametrize("name", sorted(ENR_PRESETS))
def test_every_preset_trains_two_steps_on_cpu(name, splits, tmp_path):
    config = enr_preset(name, max_steps=2, pairs_per_batch=1, checkpoint_every=2, validate_every=2, sample_every=2,
                        log_every=1)
    summary = train_enr(config, splits[0], tmp_path / "run", val_data=splits[1], accelerator="cpu", progress=False)
    assert (summary.first_step, summary.last_step) == (0, 2) and summary.is_global_zero
    assert summary.train_loss == summary.train_loss and summary.val_psnr > 0  # logged, not NaN
    model = EquivariantRenderer.from_pretrained(summary.release)
    assert model.config == config.model
    torch.manual_seed(config.seed)  # the seeded initial weights: two steps moved them
    before = EquivariantRenderer(config.model)
    assert any(not torch.equal(a, b) for a, b in zip(before.state_dict().values(), model.state_dict().values()))


def test_a_run_folder_records_its_config_samples_logs_and_curve(splits, tmp_path):
    config = enr_preset("tiny", max_steps=4, checkpoint_every=2, validate_every=2, sample_every=2)
    summary = train_enr(config, splits[0], tmp_path / "run", val_data=splits[1], accelerator="cpu", progress=False)
    run = tmp_path / "run"
    record = json.loads((run / "config.json").read_text())
    assert record["family"] == "enr" and record["training"] == config.to_dict()
    assert record["data"]["train"] == str(splits[0].resolve())
    assert sorted(p.name for p in (run / "samples").glob("*.png")) == ["step_00000002.png", "step_00000004.png"]
    assert sorted(step_of(p) for p in (run / "checkpoints").glob("*.ckpt")) == [2, 4]  # the newest two
    metrics = read_run_metrics(run / "logs")
    assert [step for step, _ in metrics["train/loss"]] == [1, 2, 3, 4]  # steps done, as check-points count
    assert len(metrics["val/psnr"]) == 2 and (run / "loss_curve.png").stat().st_size > 0
    assert checkpoint_config(read_checkpoint(newest_checkpoint(run / "checkpoints")), EnrTrainingConfig) == config
    assert summary.release == run / "release"


def test_the_same_folder_resumes_and_may_only_grow_longer(splits, tmp_path):
    config = enr_preset("tiny", max_steps=2)
    train_enr(config, splits[0], tmp_path / "run", accelerator="cpu", progress=False)
    longer = train_enr(replace(config, max_steps=4), splits[0], tmp_path / "run", accelerator="cpu", progress=False)
    assert (longer.first_step, longer.last_step) == (2, 4) and longer.resumed_from.name == "step00000002.ckpt"
    with pytest.raises(ValueError, match="learning_rate differ"):
        train_enr(replace(config, learning_rate=1e-3), splits[0], tmp_path / "run", accelerator="cpu", progress=False)
    with pytest.raises(ValueError, match="train data differ"):
        train_enr(replace(config, max_steps=6), splits[1], tmp_path / "run", accelerator="cpu", progress=False)
    with pytest.raises(ValueError, match="already at step 4, at or past max_steps 3"):
        train_enr(replace(config, max_steps=3), splits[0], tmp_path / "run", accelerator="cpu", progress=False)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(OSError, match="notes.txt"):
        train_enr(config, splits[0], tmp_path / "other", accelerator="cpu", progress=False)
    assert (tmp_path / "other" / "notes.txt").read_text() == "mine"


def test_a_start_that_fails_leaves_no_run_behind(splits, tmp_path):
    with pytest.raises(ValueError, match="do not fill one batch of 50 pairs"):
        train_enr(enr_preset("tiny", pairs_per_batch=50), splits[0], tmp_path / "run", accelerator="cpu")
    assert not (tmp_path / "run").exists()

    class Fails(pl.Callback):
        def on_train_start(self, trainer, module):
            raise RuntimeError("a broken device")

    with pytest.raises(RuntimeError, match="a broken device"):
        train_enr(enr_preset("tiny"), splits[0], tmp_path / "run", accelerator="cpu", progress=False,
                  callbacks=(Fails(),))
    assert list((tmp_path / "run").iterdir()) == []  # the corrected command starts anew
    assert train_enr(enr_preset("tiny"), splits[0], tmp_path / "run", accelerator="cpu").last_step == 2


_KILLED_RUN = """
import os, signal, sys
from dataclasses import replace
import lightning.pytorch as pl
from viewgen.training.presets import enr_preset
from viewgen.training.families import train_enr

class KillAt(pl.Callback):
    def on_train_batch_end(self, trainer, *args):
        if trainer.global_step == int(sys.argv[3]):
            os.kill(os.getpid(), signal.SIGKILL)

config = enr_preset("tiny", max_steps=9, checkpoint_every=4, validate_every=3, sample_every=9)
callbacks = (KillAt(),) if int(sys.argv[3]) else ()
train_enr(config, sys.argv[1], sys.argv[2], accelerator="cpu", progress=False, callbacks=callbacks)
"""


def test_a_run_killed_with_sigkill_resumes_with_no_step_lost_or_repeated(splits, tmp_path):
    # 3 scenes of 4 views: 3 batches of 2 pairs per epoch, so the 9 steps cross two epochs; the kill
    # comes at step 7, three steps after the check-point of step 4 (mid-epoch).
    whole = run_python(_KILLED_RUN, str(splits[0]), str(tmp_path / "whole"), "0")
    assert whole.returncode == 0, whole.stderr[-2000:]
    killed = run_python(_KILLED_RUN, str(splits[0]), str(tmp_path / "killed"), "7")
    assert killed.returncode == -9
    assert newest_checkpoint(tmp_path / "killed" / "checkpoints").name == "step00000004.ckpt"
    assert not (tmp_path / "killed" / "release").exists()
    resumed = run_python(_KILLED_RUN, str(splits[0]), str(tmp_path / "killed"), "0")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    expected, got = _weights(tmp_path / "whole"), _weights(tmp_path / "killed")
    assert all(torch.equal(expected[key], got[key]) for key in expected)  # bit for bit
    merged = read_run_metrics(tmp_path / "killed" / "logs")
    assert merged == read_run_metrics(tmp_path / "whole" / "logs")  # each step logged once, as uninterrupted


def test_two_ddp_processes_on_gloo_train_as_one_with_twice_the_batch(splits, tmp_path):
    common = ("train", "enr", "--data", str(splits[0]), "--preset", "tiny", "--max-steps", "2", "--accelerator", "cpu")
    ddp = run_viewgen(*common, "--out", str(tmp_path / "ddp"), "--devices", "2", "--strategy", "ddp")
    assert ddp.returncode == 0, ddp.stderr[-3000:]
    assert "GLOBAL_RANK: 1, MEMBER: 2/2" in ddp.stderr  # Lightning's DDP on CPU: the gloo backend
    assert ddp.stdout.count("trained ENR (tiny) to step 2") == 1 and "on 2 processes" in ddp.stdout  # rank 0 reports
    single = run_viewgen(*common, "--out", str(tmp_path / "one"), "--pairs-per-batch", "4")
    assert single.returncode == 0, single.stderr[-3000:]
    two, one = _weights(tmp_path / "ddp"), _weights(tmp_path / "one")
    assert max(float((two[key] - one[key]).abs().max()) for key in one) < 1e-5


def test_any_checkpoint_exports_to_release_weights(splits, tmp_path):
    config = enr_preset("tiny", max_steps=2)
    train_enr(config, splits[0], tmp_path / "run", accelerator="cpu", progress=False)
    checkpoint = newest_checkpoint(tmp_path / "run" / "checkpoints")
    model = export_release(checkpoint, tmp_path / "exported")
    assert _weights(tmp_path / "run").keys() == load_file(tmp_path / "exported" / "model.safetensors").keys()
    assert EquivariantRenderer.from_pretrained(tmp_path / "exported").config == model.config
    (tmp_path / "junk.ckpt").write_bytes(b"not a checkpoint")
    from viewgen.hub import WeightsFormatError

    with pytest.raises(WeightsFormatError, match="cannot read"):
        export_release(tmp_path / "junk.ckpt", tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="no training check-point"):
        export_release(tmp_path / "missing.ckpt", tmp_path / "nowhere")
    assert not (tmp_path / "nowhere").exists()


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_the_tiny_preset_trains_on_a_gpu(splits, tmp_path):
    config = enr_preset("tiny", max_steps=4, checkpoint_every=2)
    summary = train_enr(config, splits[0], tmp_path / "run", accelerator="gpu", devices=1, progress=False)
    assert summary.last_step == 4 and summary.train_loss == summary.train_loss
    resumed = train_enr(replace(config, max_steps=6), splits[0], tmp_path / "run", accelerator="gpu", progress=False)
    assert (resumed.first_step, resumed.last_step) == (4, 6)
