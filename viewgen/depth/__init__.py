"""Monocular depth: RGB ``[B, 3, H, W]`` in [0, 1] -> disparity ``[B, 1, H, W]`` in [0, 1].

Backends by name (see ``docs/depth.md`` for which to choose):

* ``midas-v21`` (default) and ``midas-v21-small``: MiDaS v2.1, implemented here, official weights;
* ``dpt-hybrid``, ``dpt-large``, ``depth-anything-v2-small|base|large``: through Hugging Face
  ``transformers`` (``pip install "viewgen[depth]"``);
* ``file:PATH``: a disparity map you already have (``.npy`` or 16-bit PNG).

```python
from viewgen.depth import get_estimator
from viewgen.io.images import load_image

estimator = get_estimator("midas-v21", device="cpu")
disparity = estimator(load_image("photo.jpg"), size=(160, 256))   # [1, 1, 160, 256] in [0, 1]
```

Every backend estimates at its own size, min-max normalizes each image to [0, 1] (the
original Infinite Nature's; ``normalization="percentile"`` uses the 1st/97th percentiles) and
area-resizes to the requested size. Weights live in ``$VIEWGEN_HOME`` (:mod:`viewgen.hub`).
"""

from viewgen.depth.base import (
    NORMALIZATIONS,
    DepthError,
    DepthEstimator,
    DepthEstimatorBase,
    MissingDependencyError,
    UnknownBackendError,
    check_image,
    normalize_disparity,
    resize_disparity,
)
from viewgen.depth.registry import (
    DEFAULT_BACKEND,
    BackendInfo,
    available_backends,
    backend_info,
    download_backend,
    estimate_disparity,
    get_estimator,
)

__all__ = [
    "DEFAULT_BACKEND",
    "NORMALIZATIONS",
    "BackendInfo",
    "DepthError",
    "DepthEstimator",
    "DepthEstimatorBase",
    "MissingDependencyError",
    "UnknownBackendError",
    "available_backends",
    "backend_info",
    "check_image",
    "download_backend",
    "estimate_disparity",
    "get_estimator",
    "normalize_disparity",
    "resize_disparity",
]
