"""Benchmark the depth backends: milliseconds per image and peak memory, by backend and device.

Usage::

    python benchmarks/depth.py                                  # every backend, CPU (and CUDA when present)
    python benchmarks/depth.py --backends midas-v21,midas-v21-small --image 480x640 --runs 5
    python benchmarks/depth.py --devices cuda --half            # CUDA in float16 autocast

No weights are downloaded: every backend runs its real architecture with random weights
(MiDaS from ``viewgen.depth.midas_net``'s official presets; the transformers models from
configs written here to match the released ones: DPT-Large ViT-L/16, DPT-Hybrid ViT-B/16 +
BiT-R50, Depth Anything V2 ViT-S/B/L). The time is one full ``estimator(image)`` call for a
``--image`` sized photo: resize to the backend's native input (shown), the network, min-max
normalization and the area resize back. Each (backend, device) runs in a fresh subprocess so
its peak memory is its own: the resident set size growth on CPU (weights included),
``torch.cuda.max_memory_allocated`` on CUDA. Times are the median and minimum of ``--runs``
calls after two warm-up calls. Transformers backends need ``pip install "viewgen[depth]"``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

import torch
from _timing import peak_rss_mib, time_runs

BACKENDS = ("midas-v21", "midas-v21-small", "dpt-hybrid", "dpt-large", "depth-anything-v2-small",
            "depth-anything-v2-base", "depth-anything-v2-large")


def _transformers_model(name: str):
    import transformers as tf

    if name == "dpt-large":
        config = tf.DPTConfig(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, intermediate_size=4096,
                              image_size=384, patch_size=16, backbone_out_indices=[5, 11, 17, 23],
                              neck_hidden_sizes=[256, 512, 1024, 1024], fusion_hidden_size=256,
                              use_auxiliary_head=False)
    elif name == "dpt-hybrid":
        bit = tf.BitConfig(global_padding="same", layer_type="bottleneck", depths=[3, 4, 9],
                           out_features=["stage1", "stage2", "stage3"], embedding_dynamic_padding=True)
        config = tf.DPTConfig(is_hybrid=True, backbone_config=bit, hidden_size=768, num_hidden_layers=12,
                              num_attention_heads=12, intermediate_size=3072, image_size=384, patch_size=16,
                              backbone_out_indices=[2, 5, 8, 11], neck_hidden_sizes=[256, 512, 768, 768],
                              reassemble_factors=[1, 1, 1, 0.5], backbone_featmap_shape=[1, 1024, 24, 24],
                              fusion_hidden_size=256, use_auxiliary_head=False)
    else:
        size = name.rsplit("-", 1)[-1]
        hidden, layers, heads, indices, neck, fusion = {
            "small": (384, 12, 6, [3, 6, 9, 12], [48, 96, 192, 384], 64),
            "base": (768, 12, 12, [3, 6, 9, 12], [96, 192, 384, 768], 128),
            "large": (1024, 24, 16, [5, 12, 18, 24], [256, 512, 1024, 1024], 256),
        }[size]
        dinov2 = tf.Dinov2Config(hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads,
                                 intermediate_size=4 * hidden, image_size=518, patch_size=14,
                                 out_indices=indices, reshape_hidden_states=False, apply_layernorm=True)
        config = tf.DepthAnythingConfig(backbone_config=dinov2, reassemble_hidden_size=hidden, patch_size=14,
                                        neck_hidden_sizes=neck, fusion_hidden_size=fusion, head_hidden_size=32)
    return tf.AutoModelForDepthEstimation.from_config(config)


def build(name: str, device: str):
    """The backend's estimator with random weights in its real architecture."""
    torch.manual_seed(0)
    if name.startswith("midas"):
        from viewgen.depth.midas import MIDAS_VARIANTS, MidasEstimator
        from viewgen.depth.midas_net import MidasNet

        model = MidasNet(MIDAS_VARIANTS[name].config)
        with torch.no_grad():
            model.scratch.output_conv[4].bias.fill_(1.0)  # keep the final ReLU from zeroing everything
        return MidasEstimator.from_network(model, name, device=device)
    from viewgen.depth.hf import TransformersEstimator

    return TransformersEstimator.from_model(_transformers_model(name), name, device=device)


def run_one(name: str, device: str, height: int, width: int, runs: int, half: bool) -> dict:
    base_rss = peak_rss_mib()
    estimator = build(name, device)
    image = torch.rand(1, 3, height, width, generator=torch.Generator().manual_seed(0)).to(device)

    def once() -> None:
        with torch.autocast("cuda", dtype=torch.float16, enabled=half and device == "cuda"):
            estimator(image)

    timing = time_runs(once, runs, device, warmup=2, base_rss_mib=base_rss)
    net_h, net_w = estimator.input_size(height, width)
    params = sum(p.numel() for p in estimator.model.parameters()) / 1e6
    return {"backend": name, "device": device + (" fp16" if half and device == "cuda" else ""),
            "image": f"{height}x{width}", "input": f"{net_h}x{net_w}", "params_m": params,
            **timing}


def print_table(rows: list[dict], threads: int) -> None:
    print(f"\ndepth backends benchmark  (torch {torch.__version__}, {threads} CPU threads, random weights)")
    header = (f"{'backend':24} {'device':9} {'image':>9} {'net input':>9} {'params M':>8} {'median ms':>10} "
              f"{'min ms':>9} {'peak MiB':>9}")
    print(header)
    print("-" * len(header))
    for row in rows:
        if "error" in row:
            print(f"{row['backend']:24} {row['device']:9} {'':>9} {'':>9} {'':>8} skipped: {row['error']}")
            continue
        print(f"{row['backend']:24} {row['device']:9} {row['image']:>9} {row['input']:>9} {row['params_m']:8.1f} "
              f"{row['median_ms']:10.1f} {row['min_ms']:9.1f} {row['peak_mib']:9.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backends", default=",".join(BACKENDS))
    parser.add_argument("--image", default="480x640", help="photo size HxW fed to every backend (default 480x640)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--devices", default="cpu,cuda")
    parser.add_argument("--half", action="store_true", help="CUDA runs under float16 autocast")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    height, width = (int(v) for v in args.image.lower().split("x"))
    if args.child:
        name, device = args.child.split(",")
        print(json.dumps(run_one(name, device, height, width, args.runs, args.half)))
        return
    devices = [d for d in args.devices.split(",") if d == "cpu" or (d == "cuda" and torch.cuda.is_available())]
    rows = []
    for device in devices:
        for name in args.backends.split(","):
            command = [sys.executable, __file__, "--child", f"{name},{device}", "--image", args.image,
                       "--runs", str(args.runs), "--threads", str(args.threads)] + (["--half"] if args.half else [])
            result = subprocess.run(command, capture_output=True, text=True)
            if result.returncode != 0:
                reason = (result.stderr.strip().splitlines() or ["failed"])[-1][:80]
                rows.append({"backend": name, "device": device, "error": reason})
            else:
                rows.append(json.loads(result.stdout.strip().splitlines()[-1]))
                print(f"  done {name} on {device}: {rows[-1]['median_ms']:.1f} ms", file=sys.stderr)
    print_table(rows, args.threads)


if __name__ == "__main__":
    main()
