"""Training datasets of posed RGBD clip windows: ``{"rgbd": [T + 1, 4, H, W], "cam_from_world": [T + 1, 3, 4],
"intrinsics": [4]}``, poses relative to the window's first frame, disparity in that frame's unit."""

from viewgen.data.datasets.google_earth import GoogleEarthWindows
from viewgen.data.datasets.posed_clip_windows import PosedClipWindows
from viewgen.data.datasets.synthetic_windows import SyntheticWindows, SyntheticWindowsConfig, WindowBatchSampler

__all__ = ["GoogleEarthWindows", "PosedClipWindows", "SyntheticWindows", "SyntheticWindowsConfig", "WindowBatchSampler"]
