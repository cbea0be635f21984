"""Short-range ground truth: the synthetic world rendered along its own drone path.

The clips are made by :mod:`viewgen.data.synthetic.clips` (training renders its windows with the
same code); this module keeps evaluation's name for them.
"""

from viewgen.data.synthetic.clips import GroundTruthClip, ground_truth_clip

__all__ = ["GroundTruthClip", "ground_truth_clip"]
