"""``viewgen eval enr``: ENR's test protocol (:mod:`viewgen.evaluation.enr_views`) on a split in Apple's layout.

``--data DIR`` (a split: ``<scene>/NNNNN.png`` + ``render_params.json``), ``--weights PATH`` (Apple's
``.pt`` or a release folder; default the embedded model), ``--source-view K`` (default 0; Apple's
ShapeNet protocol uses 64),
``--out DIR`` (``metrics.json`` and ``report.md``, written whole like the flight protocols').
"""

from __future__ import annotations

import sys
import time
from argparse import Namespace
from pathlib import Path

__all__ = ["add_enr_arguments", "run_enr"]


def add_enr_arguments(command) -> None:
    """Register ``viewgen eval enr``'s options on ``viewgen eval``."""
    command.add_argument("--data", default=None, metavar="DIR",
                         help="enr: a test split in Apple's layout (<scene>/NNNNN.png + render_params.json)")
    command.add_argument("--source-view", type=int, default=0, metavar="K",
                         help="enr: the view of each scene the model sees (default 0; Apple's ShapeNet test uses 64)")


def _check(args: Namespace) -> None:
    if args.data is None:
        raise ValueError("viewgen eval enr needs --data DIR (a split in Apple's layout, e.g. from viewgen "
                         "synth-objects)")
    if args.weights is not None and not Path(args.weights).exists():
        raise FileNotFoundError(f"--weights {args.weights} does not exist")


def _metrics(scores, args: Namespace, image_size) -> dict:
    import viewgen

    mean = sum(s.psnr for s in scores) / len(scores)
    identity = sum(s.identity_psnr for s in scores) / len(scores)
    return {"viewgen_version": viewgen.__version__, "protocol": "enr_views",
            "description": "PSNR (dB) of every view of each scene rendered from one source view; mean per scene, "
                           "then over scenes; the identity baseline scores the source image itself",
            "data": str(args.data), "weights": str(args.weights or "embedded"), "resolution": list(image_size),
            "source_view": args.source_view, "num_scenes": len(scores), "psnr": round(mean, 4),
            "identity_psnr": round(identity, 4),
            "scenes": [{"scene": s.scene, "psnr": round(s.psnr, 4), "identity_psnr": round(s.identity_psnr, 4),
                        "targets": s.targets} for s in scores]}


def _report(metrics: dict) -> str:
    return "\n".join([
        "# viewgen eval enr", "",
        f"{metrics['num_scenes']} scene(s) of {metrics['data']}, source view {metrics['source_view']}, "
        f"{metrics['resolution'][0]}x{metrics['resolution'][1]}; weights {metrics['weights']}; "
        f"viewgen {metrics['viewgen_version']}.", "",
        "| method | PSNR (dB) |", "|---|---|",
        f"| **ENR** | {metrics['psnr']:.2f} |", f"| identity (the source view) | {metrics['identity_psnr']:.2f} |", "",
        "Per scene: `metrics.json`. How to read it: docs/enr.md.", ""])


def run_enr(args: Namespace) -> int:
    """Run the protocol and write ``--out`` (whole, as every ``viewgen eval`` report)."""
    import json

    from tqdm import tqdm

    from viewgen.data.enr_scenes import EnrSceneDataset
    from viewgen.evaluation.enr_views import evaluate_views
    from viewgen.evaluation.report import check_report_folder, publish_report
    from viewgen.pipelines.novel_view import NovelViewPipeline

    _check(args)
    out = Path(args.out)
    check_report_folder(out)
    pipe = NovelViewPipeline.from_pretrained(args.weights) if args.weights else NovelViewPipeline.default()
    dataset = EnrSceneDataset(args.data, image_size=pipe.image_size, pairs=False)
    began = time.perf_counter()
    with tqdm(total=dataset.num_scenes, unit="scene", file=sys.stderr, leave=False,
              disable=not sys.stderr.isatty()) as progress:
        scores = evaluate_views(pipe, dataset, args.source_view, progress=progress.update)
    metrics = _metrics(scores, args, pipe.image_size)

    def fill(folder: Path) -> None:
        (folder / "metrics.json").write_text(json.dumps(metrics, indent=1) + "\n")
        (folder / "report.md").write_text(_report(metrics))

    publish_report(out, fill)
    print(f"evaluated {len(scores)} scene(s) x {scores[0].targets} views in {time.perf_counter() - began:.1f} s; "
          f"PSNR: ENR {metrics['psnr']:.2f} dB, identity {metrics['identity_psnr']:.2f} dB; "
          f"wrote {out}/report.md and metrics.json")
    return 0
