"""Benchmark Equivariant Neural Rendering: milliseconds per inverse_render and per rotate + render.

Usage::

    python benchmarks/enr.py                       # chairs and embedded models, batch 1 and 16, CPU
    python benchmarks/enr.py --models chairs --threads 1 --batches 1 --runs 3
    python benchmarks/enr.py --device cuda         # on a GPU machine
    python benchmarks/enr.py --precisions fast --models chairs --batches 1

Rows: per model (``chairs``: Apple's config.json at 128x128, random weights, as speed does not
depend on them; ``embedded``: viewgen's shipped 64x64 model), on ``--device``, per precision
(``exact``, and ``fast`` where bfloat16 is native: :class:`~viewgen.pipelines.NovelViewPipeline`'s
``precision``, with its largest difference from the exact path's output), per batch size:
``inverse_render`` (image -> scene), ``rotate + render`` (the scene turned to a new view and
rendered: what an orbit pays per view) and ``rotate`` alone; the median
of ``--runs`` timed calls after warm-up, the peak memory growth, and views per second. For scale:
Apple's own code on our 2-core CPUs (chairs, batch 1) takes 346 ms per inverse_render and 368 ms
per rotate + render (the issue's figures); this reimplementation does the same arithmetic.
"""

from __future__ import annotations

import argparse

import torch
from _timing import peak_rss_mib, settings_line, time_runs


def _model(name: str):
    from viewgen.networks.enr import EquivariantRenderer, embedded_weights_folder

    torch.manual_seed(0)
    if name == "embedded":
        return EquivariantRenderer.from_pretrained(embedded_weights_folder())
    return EquivariantRenderer()


def measure(model_name: str, device: str, batch: int, runs: int, precision: str) -> list[tuple[str, dict, float]]:
    """Rows ``(step, timing, largest difference from the exact path)`` through :class:`NovelViewPipeline`."""
    from viewgen.geometry.rotations import source_to_target_rotation
    from viewgen.pipelines.novel_view import NovelViewPipeline

    model = _model(model_name)
    pipe = NovelViewPipeline(model, device, precision)
    exact = pipe if precision == "exact" else NovelViewPipeline(model, device)
    image = torch.rand(batch, 3, *model.config.image_size, generator=torch.Generator().manual_seed(1)).to(device)
    rotation = source_to_target_rotation(torch.zeros(batch), torch.zeros(batch), torch.full((batch,), 30.0),
                                         torch.full((batch,), 10.0)).to(device)
    base = peak_rss_mib()
    with torch.inference_mode():
        scene = exact.inverse_render(image)
        view = exact.render(exact.rotate(scene, rotation))
        errors = (float((pipe.inverse_render(image) - scene).abs().max()),
                  float((pipe.render(pipe.rotate(scene, rotation)) - view).abs().max()), 0.0)
        timings = (time_runs(lambda: pipe.inverse_render(image), runs, device, 2, base),
                   time_runs(lambda: pipe.render(pipe.rotate(scene, rotation)), runs, device, 2, base),
                   time_runs(lambda: pipe.rotate(scene, rotation), runs, device, 2, base))
    return list(zip(("inverse_render", "rotate + render", "rotate"), timings, errors))


def main() -> None:
    from viewgen import devices

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--batches", default="1,16", help="comma-separated batch sizes (default 1,16)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--models", default="chairs,embedded", help="comma-separated: chairs, embedded")
    parser.add_argument("--precisions", default=None,
                        help="comma-separated: exact, fast (default: both where bfloat16 is native, else exact)")
    args = parser.parse_args()
    native = devices.native_bfloat16(torch.device(args.device))
    precisions = args.precisions.split(",") if args.precisions else ["exact", "fast"] if native else ["exact"]
    print(settings_line(args.device, args.threads))
    print("| model | precision | batch | step | median ms | min ms | ms per view | views/s | peak MiB | "
          "max diff from exact |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for model in args.models.split(","):
        for precision in precisions:
            for batch in (int(b) for b in args.batches.split(",")):
                for name, row, error in measure(model, args.device, batch, args.runs, precision):
                    per_view = row["median_ms"] / batch
                    print(f"| {model} | {precision} | {batch} | {name} | {row['median_ms']:.1f} | "
                          f"{row['min_ms']:.1f} | {per_view:.1f} | {1000 / per_view:.1f} | {row['peak_mib']:.0f} | "
                          f"{error:.2g} |")


if __name__ == "__main__":
    main()
