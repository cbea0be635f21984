"""Benchmark Equivariant Neural Rendering: milliseconds per inverse_render and per rotate + render.

Usage::

    python benchmarks/enr.py                       # chairs and embedded models, batch 1 and 16, CPU
    python benchmarks/enr.py --models chairs --threads 1 --batches 1 --runs 3
    python benchmarks/enr.py --device cuda         # on a GPU machine

Rows: per model (``chairs``: Apple's config.json at 128x128, random weights, as speed does not
depend on them; ``embedded``: viewgen's shipped 64x64 model), on ``--device``, per batch size:
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


def measure(model_name: str, device: str, batch: int, runs: int) -> list[tuple[str, dict]]:
    from viewgen.geometry.rotations import source_to_target_rotation
    from viewgen.rendering.volume import rotate_volume

    model = _model(model_name).to(device).eval()
    image = torch.rand(batch, 3, *model.config.image_size, device=device)
    rotation = source_to_target_rotation(torch.zeros(batch), torch.zeros(batch), torch.full((batch,), 30.0),
                                         torch.full((batch,), 10.0)).to(device)
    base = peak_rss_mib()
    with torch.inference_mode():
        scene = model.inverse_render(image)
        rows = [("inverse_render", time_runs(lambda: model.inverse_render(image), runs, device, 2, base)),
                ("rotate + render", time_runs(lambda: model.render(rotate_volume(scene, rotation)), runs, device, 2,
                                              base)),
                ("rotate", time_runs(lambda: rotate_volume(scene, rotation), runs, device, 2, base))]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--batches", default="1,16", help="comma-separated batch sizes (default 1,16)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--models", default="chairs,embedded", help="comma-separated: chairs, embedded")
    args = parser.parse_args()
    print(settings_line(args.device, args.threads))
    print("| model | batch | step | median ms | min ms | ms per view | views/s | peak MiB |")
    print("|---|---|---|---|---|---|---|---|")
    for model in args.models.split(","):
        for batch in (int(b) for b in args.batches.split(",")):
            for name, row in measure(model, args.device, batch, args.runs):
                per_view = row["median_ms"] / batch
                print(f"| {model} | {batch} | {name} | {row['median_ms']:.1f} | {row['min_ms']:.1f} | "
                      f"{per_view:.1f} | {1000 / per_view:.1f} | {row['peak_mib']:.0f} |")


if __name__ == "__main__":
    main()
