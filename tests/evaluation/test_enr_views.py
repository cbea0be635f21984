"""ENR's test protocol: PSNR of every other view from one source view per scene, beside the identity baseline;
and `viewgen eval enr` writing metrics.json and report.md."""

import json

import pytest
import torch

from viewgen.cli.main import main
from viewgen.data.enr_scenes import EnrSceneDataset
from viewgen.data.objects import export_object_scenes
from viewgen.evaluation.enr_views import evaluate_views, image_psnr
from viewgen.networks.enr import ENRConfig, EquivariantRenderer
from viewgen.pipelines.novel_view import NovelViewPipeline

TINY = ENRConfig(image_size=(32, 32), encoder_2d=("res8", "down16", "res16"), inverse_projection=(32, 64),
                 encoder_3d=("res4", "down8", "up4", "res4"), projection=(16, 16))


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("enr_eval")
    export_object_scenes(root, num_scenes=2, views=3, size=32, seed=2, split="test")
    torch.manual_seed(0)
    EquivariantRenderer(TINY).save_pretrained(root / "weights")
    return root


def test_psnr_is_ten_log_one_over_mse():
    images, targets = torch.zeros(2, 3, 4, 4), torch.full((2, 3, 4, 4), 0.1)
    torch.testing.assert_close(image_psnr(images, targets), torch.full((2,), 20.0))


def test_every_other_view_is_scored_and_the_identity_baseline_beside_it(files):
    pipe = NovelViewPipeline.from_pretrained(files / "weights")
    dataset = EnrSceneDataset(files / "test", image_size=(32, 32), pairs=False)
    scores = evaluate_views(pipe, dataset, source_view=1, batch=1)
    assert [s.scene for s in scores] == ["00000-chair", "00001-table"] and all(s.targets == 2 for s in scores)
    first = [dataset[v] for v in range(3)]
    expected = image_psnr(first[1]["img"][None].expand(2, -1, -1, -1), torch.stack([first[0]["img"], first[2]["img"]]))
    assert scores[0].identity_psnr == pytest.approx(float(expected.mean()), rel=1e-6)
    batched = evaluate_views(pipe, dataset, source_view=1, batch=16)  # batching changes only the rounding
    assert [(s.scene, s.targets, s.identity_psnr) for s in batched] == [(s.scene, s.targets, s.identity_psnr)
                                                                         for s in scores]
    assert [s.psnr for s in batched] == pytest.approx([s.psnr for s in scores], rel=1e-5)
    with pytest.raises(ValueError, match="source view 3 must be one of the 3 views"):
        evaluate_views(pipe, dataset, source_view=3)


def test_the_cli_writes_metrics_and_a_report(files, tmp_path, capsys):
    out = tmp_path / "enr"
    assert main(["eval", "enr", "--data", str(files / "test"), "--weights", str(files / "weights"),
                 "--out", str(out)]) == 0
    assert capsys.readouterr().out.startswith("evaluated 2 scene(s) x 2 views in ")
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["protocol"] == "enr_views" and metrics["num_scenes"] == 2 and len(metrics["scenes"]) == 2
    assert "| **ENR** |" in (out / "report.md").read_text()
    assert main(["eval", "enr", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "needs --data DIR" in err and not (tmp_path / "x").exists()
    assert main(["eval", "enr", "--data", str(files / "test"), "--out", str(tmp_path / "embedded")]) == 0
    assert json.loads((tmp_path / "embedded" / "metrics.json").read_text())["weights"] == "embedded"
