"""Training datasets.

* Posed RGBD clip windows (Infinite Nature): ``{"rgbd": [T + 1, 4, H, W], "cam_from_world": [T + 1, 3, 4],
  "intrinsics": [4]}``, poses relative to the window's first frame, disparity in that frame's unit.
* Single photos (Infinite Nature Zero, no poses): ``{"rgbd": [4, S, S], "rgbd_full": [4, F, F], "sky_offset": [],
  "pixel_matrix": [3, 3], "full_pixel_matrix": [3, 3]}`` from a photo folder in the LHQ layout or the synthetic
  world (:mod:`viewgen.data.datasets.single_photos`).
"""

from viewgen.data.datasets.google_earth import GoogleEarthWindows
from viewgen.data.datasets.posed_clip_windows import PosedClipWindows
from viewgen.data.datasets.single_photos import PhotoFolder, SyntheticPhotos
from viewgen.data.datasets.synthetic_windows import SyntheticWindows, SyntheticWindowsConfig, WindowBatchSampler

__all__ = ["GoogleEarthWindows", "PhotoFolder", "PosedClipWindows", "SyntheticPhotos", "SyntheticWindows",
           "SyntheticWindowsConfig", "WindowBatchSampler"]
