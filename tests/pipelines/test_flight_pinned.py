"""Pinned flights: the loop's outputs stay bit-identical when its code moves.

Two pins of each flight:

* for the learned flight, a **reference loop** spelled out here from the primitives (controller,
  ``warp_rgbd``, the networks, ``rescale_refined_disparity``) as the loop ran before memories
  existed (every frame warps the previous one), compared with ``torch.equal``;
* **SHA-256 digests** of the frames (CPU float32, one set per kind of x86 CPU: AVX2 and AVX-512
  kernels round differently; skipped off x86-64 Linux, or where a kind has none recorded). The
  weight-free flight's were recorded (AVX-512) when WorldPrior began to take its scale from its
  preset's framing, to let its sky dome give way behind frame 0's land, to see its world's sky
  from frame 0's camera, to lift its camera above the invented ground, to close lines of low
  enlargement, to cap its colour transfer's luma spread, to choose its world among candidates and to read
  its world's land palette along the way a flight goes.
"""

import hashlib
import platform

import pytest
import torch

from tests.helpers.cpu import CAPABILITY
from tests.helpers.scenes import scene_rgbd
from tests.helpers.tiny_pipeline import TINY_SIZE, tiny_pipeline
from viewgen.control.registry import make_controller
from viewgen.geometry.disparity_rescale import rescale_refined_disparity
from viewgen.geometry.intrinsics import default_intrinsics
from viewgen.pipelines import FlyThroughConfig, FlyThroughPipeline
from viewgen.rendering.warp import warp_rgbd

WEIGHT_FREE_SIZE = (32, 48)
# Per CPU capability (tests/helpers/cpu.py): PyTorch's AVX2 and AVX-512 kernels round
# differently, and a flight amplifies any rounding, so each kind of CPU has its own digests. A kind with none
# recorded skips, naming the digest it gives (record it from a commit whose flights are known good).
DIGESTS = {
    "AVX2": {
        "learned_rgbd": "b318f66def5ecd1e1b08b0a7edb91513e5abb6ef3ebec0ad69f41240d5e6f8e0",
        "learned_poses": "75c5750fe3a08dc1f8d211e24fc1cf8c343b84fb2f45aaa3846d2c6fc752b2c1",
    },
    "AVX512": {
        "weight_free_rgbd": "356d1e8d650f2b81ae3774aff6ca4ba28c342378940b99802e9fd57ad1f072b7",
        "weight_free_poses": "2bcf912e01ebb5cef0aa4ad6b263981d49b92f6ca5145aaf44347a5165c9aa15",
        "weight_free_straight_rgbd": "8179b9efce904cd7c43b3f8378213c7f7ef7ca3f2ba789b5845c5780de799c3e",
        "learned_rgbd": "85a0ba24d98506469098fbf469c70aeeac8ed40c5d043245914683db0c810327",
        "learned_poses": "aad518d3509aa62f0fdb1792a7928a2e669561e5e69759ec0a7282c5c428055d",
    },
}
same_platform = pytest.mark.skipif(platform.system() != "Linux" or platform.machine() != "x86_64",
                                   reason="digests were recorded on x86-64 Linux")


def digest(tensor: torch.Tensor) -> str:
    return hashlib.sha256(tensor.contiguous().numpy().tobytes()).hexdigest()


def check_digest(name: str, tensor: torch.Tensor) -> None:
    """``tensor``'s digest equals the one recorded for this kind of CPU (skips when none is)."""
    recorded = DIGESTS.get(CAPABILITY, {}).get(name)
    if recorded is None:
        pytest.skip(f"no {name} digest recorded for {CAPABILITY} CPUs; this one gives {digest(tensor)}")
    assert digest(tensor) == recorded, name


def weight_free_flight(controller: str = "autopilot", **options):
    pipe = FlyThroughPipeline.weight_free(FlyThroughConfig(image_size=WEIGHT_FREE_SIZE))
    frames = list(pipe(scene_rgbd(*WEIGHT_FREE_SIZE, seed=2), num_frames=10, controller=controller, **options))
    return pipe, torch.cat([frame.rgbd for frame in frames]), torch.stack([frame.cam_from_world for frame in frames])


def learned_flight():
    pipe = tiny_pipeline()
    frames = list(pipe(scene_rgbd(*TINY_SIZE, seed=4), num_frames=3, offset=(0.3, -0.1)))
    return pipe, torch.cat([frame.rgbd for frame in frames]), torch.stack([frame.cam_from_world for frame in frames])


def reference_flight(refine, rgbd, num_frames, controller, offset=(0.0, 0.0)):
    """The loop as it was: warp the previous frame, refine, rescale."""
    intrinsics = default_intrinsics(*rgbd.shape[-2:], fx=0.8)
    controller = make_controller(controller[0], intrinsics, torch.eye(4)[:3], **controller[1])
    frame, anchor, anchor_pose, emitted = rgbd, rgbd, torch.eye(4)[:3], []
    for _ in range(num_frames):
        pose = controller.next(frame, offset)
        warped, mask = warp_rgbd(anchor, anchor_pose, pose, intrinsics, intrinsics)
        refined = refine(warped, mask)
        refined = torch.cat([refined[:, :3], rescale_refined_disparity(warped[:, 3:], mask, refined[:, 3:])], 1)
        anchor, anchor_pose = refined, pose
        frame = refined
        emitted.append(frame)
    return torch.cat(emitted)


@torch.inference_mode()
def test_learned_flight_matches_the_reference_loop():
    pipe, rgbd, _ = learned_flight()
    start = scene_rgbd(*TINY_SIZE, seed=4)
    style = pipe.style_encoder(start)[0]
    expected = reference_flight(lambda warped, mask: pipe.generator(warped, mask, style), start, 3,
                                ("autopilot", {}), offset=(0.3, -0.1))
    assert torch.equal(rgbd, expected)


@same_platform
def test_weight_free_flight_digests():
    _, rgbd, poses = weight_free_flight()
    check_digest("weight_free_rgbd", rgbd)
    check_digest("weight_free_poses", poses)
    check_digest("weight_free_straight_rgbd", weight_free_flight("straight", speed=0.5)[1])


@same_platform
def test_learned_flight_digests():
    _, rgbd, poses = learned_flight()
    check_digest("learned_rgbd", rgbd)
    check_digest("learned_poses", poses)
