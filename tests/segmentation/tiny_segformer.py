"""A tiny random SegFormer saved in the real format, and logits that put the sky in the top half of any image.

``tiny_segformer(folder)`` writes what ``nvidia/segformer-b0-finetuned-ade-512-512`` holds (``config.json``,
``model.safetensors``, ``preprocessor_config.json``) for a 2-stage SegFormer with 3 labels, at 64 x 64.
``sky_on_top(monkeypatch)`` makes every SegFormer's forward return logits whose argmax, upsampled to an image of
even height H, is "sky" exactly on rows ``< H // 2`` and "wall" below.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

LABELS = {0: "wall", 1: "building", 2: "sky"}
SKY = 2
# the real model's preprocessor_config.json, at 64 x 64
PREPROCESSOR = {"do_normalize": True, "do_resize": True, "feature_extractor_type": "SegformerFeatureExtractor",
                "image_mean": [0.485, 0.456, 0.406], "image_std": [0.229, 0.224, 0.225], "reduce_labels": True,
                "resample": 2, "size": 64}


def tiny_segformer(folder: Path, labels: dict[int, str] | None = None, seed: int = 0) -> Path:
    """Save a random tiny ``SegformerForSemanticSegmentation`` (``labels``: its ``id2label``) to ``folder``."""
    import transformers

    labels = dict(LABELS if labels is None else labels)
    config = transformers.SegformerConfig(
        num_encoder_blocks=2, depths=[1, 1], sr_ratios=[2, 1], hidden_sizes=[8, 16], patch_sizes=[7, 3], strides=[4, 2],
        num_attention_heads=[1, 1], mlp_ratios=[2, 2], decoder_hidden_size=16, num_labels=len(labels),
        id2label=labels, label2id={name: index for index, name in labels.items()})
    torch.manual_seed(seed)
    transformers.SegformerForSemanticSegmentation(config).eval().save_pretrained(folder)
    (Path(folder) / "preprocessor_config.json").write_text(json.dumps(PREPROCESSOR))
    return Path(folder)


def sky_on_top(monkeypatch) -> list[torch.Tensor]:
    """Patch SegFormer's forward: logits ``[B, 3, h/4, w/4]`` of +10 for sky on the top half rows, -10 below (the
    other labels 0). Returns the list of ``pixel_values`` the model was given."""
    import transformers
    from transformers.modeling_outputs import SemanticSegmenterOutput

    seen = []

    def forward(self, pixel_values, **kwargs):
        seen.append(pixel_values)
        batch, _, height, width = pixel_values.shape
        logits = torch.zeros(batch, len(self.config.id2label), height // 4, width // 4)
        logits[:, SKY] = -10.0
        logits[:, SKY, : height // 8] = 10.0
        return SemanticSegmenterOutput(logits=logits)

    monkeypatch.setattr(transformers.SegformerForSemanticSegmentation, "forward", forward)
    return seen


def top_half(height: int, width: int) -> torch.Tensor:
    """The bool ``[H, W]`` mask :func:`sky_on_top` gives: True on rows ``< H // 2``."""
    mask = torch.zeros(height, width, dtype=torch.bool)
    mask[: height // 2] = True
    return mask
