"""ENR's test protocol: from one source view per scene, render every other view and score it (PSNR).

The paper's protocol (Apple's ``evaluate_psnr.py``): for each scene of a test split, one source
view (Apple uses view 64 of 251 on ShapeNet) is inverse-rendered once; the scene is turned to every
other view's angles and rendered; each render's PSNR against that view is ``10 log10(1 / MSE)``
on [0, 1] images. A scene's score is the mean over its targets; the split's the mean over
scenes. Beside it, the **identity baseline**: the source image itself scored against every
target (what a model that cannot turn anything would get).

The pipeline is handed in (:class:`~viewgen.pipelines.NovelViewPipeline` or anything with its
``inverse_render`` / ``rotate_source_to_target`` / ``render``); this module imports no pipeline.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = ["SceneScore", "evaluate_views", "image_psnr"]


def image_psnr(images: Tensor, targets: Tensor) -> Tensor:
    """``[N]`` PSNR (dB) of ``images`` against ``targets`` (both ``[N, 3, H, W]`` in [0, 1]): ``10 log10(1 / MSE)``."""
    mse = ((images.float() - targets.float()) ** 2).flatten(1).mean(dim=1)
    return 10.0 * torch.log10(1.0 / mse.clamp_min(1e-12))


@dataclass(frozen=True)
class SceneScore:
    """One scene: its name, the source view's index, and the mean PSNR over its targets of the model and of the
    identity baseline (dB); ``targets``: how many views were scored."""

    scene: str
    source_view: int
    psnr: float
    identity_psnr: float
    targets: int


@torch.no_grad()
def evaluate_views(pipe, dataset, source_view: int = 0, batch: int = 16,
                   progress: Callable[[int], None] | None = None) -> list[SceneScore]:
    """Score ``pipe`` on every scene of ``dataset`` (:class:`~viewgen.data.enr_scenes.EnrSceneDataset`, read
    with ``pairs=False``) from its view ``source_view``; targets rendered ``batch`` at a time.

    progress: called with 1 after each scene. Raises ``ValueError`` when ``source_view`` is not a view
    of the scenes or they have no other view.
    """
    views = dataset.views_per_scene
    if not 0 <= source_view < views or views < 2:
        raise ValueError(f"source view {source_view} must be one of the {views} views per scene, with others to "
                         "score")
    scores = []
    for scene_index in range(dataset.num_scenes):
        items = [dataset[scene_index * views + view] for view in range(views)]
        source = items[source_view]
        targets = [item for view, item in enumerate(items) if view != source_view]
        scene = pipe.inverse_render(source["img"][None])
        psnr, identity = [], []
        for start in range(0, len(targets), batch):
            chunk = targets[start:start + batch]
            images = torch.stack([item["img"] for item in chunk])
            count = len(chunk)
            azimuth = torch.stack([item["render_params"]["azimuth"] for item in chunk])
            elevation = torch.stack([item["render_params"]["elevation"] for item in chunk])
            source_angles = (source["render_params"]["azimuth"].expand(count),
                             source["render_params"]["elevation"].expand(count))
            turned = pipe.rotate_source_to_target(scene.expand(count, *scene.shape[1:]), *source_angles, azimuth,
                                                  elevation)
            rendered = pipe.render(turned).cpu()
            psnr.append(image_psnr(rendered, images))
            identity.append(image_psnr(source["img"][None].expand_as(images), images))
        scores.append(SceneScore(source["scene"], source_view, float(torch.cat(psnr).mean()),
                                 float(torch.cat(identity).mean()), len(targets)))
        if progress is not None:
            progress(1)
    return scores
