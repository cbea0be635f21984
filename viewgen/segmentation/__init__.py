"""Semantic segmentation for viewgen's pipelines: the sky mask of a photo (Infinite Nature Zero's sky dome).

Backends (SegFormer on ADE20K through Hugging Face ``transformers``: ``pip install "viewgen[depth]"``):
``segformer-b0-ade`` (default) and ``segformer-b5-ade``; see :mod:`viewgen.segmentation.sky` and
``docs/infinite_nature_zero.md`` ("Sky masks").

```python
from viewgen.io.images import load_image
from viewgen.segmentation import load_sky_segmenter

segmenter = load_sky_segmenter("segformer-b0-ade", device="cpu")   # or weights="path/to/folder"
sky = segmenter.sky_mask(load_image("photo.jpg"))                   # bool [H, W], True = sky
```

Importing this package does not import ``transformers``; building a segmenter does.
"""

from viewgen.depth.base import MissingDependencyError
from viewgen.segmentation.sky import (
    DEFAULT_SKY_BACKEND,
    SKY_MODELS,
    SkySegmentationError,
    SkySegmenter,
    available_sky_backends,
    download_sky_backend,
    is_sky_backend,
    load_sky_segmenter,
    sky_label_ids,
    upsampled_argmax,
)

__all__ = [
    "DEFAULT_SKY_BACKEND",
    "SKY_MODELS",
    "MissingDependencyError",
    "SkySegmentationError",
    "SkySegmenter",
    "available_sky_backends",
    "download_sky_backend",
    "is_sky_backend",
    "load_sky_segmenter",
    "sky_label_ids",
    "upsampled_argmax",
]
