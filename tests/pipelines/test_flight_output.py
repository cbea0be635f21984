"""FlyThroughPipeline's policy objects (memory, controller) and what __call__ returns (FlightOutput)."""

import pytest
import torch

from tests.helpers.scenes import scene_rgbd
from tests.helpers.tiny_pipeline import TINY_SIZE, tiny_pipeline
from viewgen.control import make_controller
from viewgen.memory import LastFrame, WorldPrior
from viewgen.pipelines import FlightOutput, FlyThroughConfig, FlyThroughPipeline


def test_call_returns_a_flight_output():
    pipe = tiny_pipeline()
    rgbd = scene_rgbd(*TINY_SIZE, seed=3)
    flight = pipe(rgbd, num_frames=3, controller="straight", speed=0.5)
    assert isinstance(flight, FlightOutput) and len(flight) == 3
    assert [frame.index for frame in flight] == [1, 2, 3] and flight[-1] is flight.frames[-1]
    assert flight.rgbd.shape == (3, 4, *TINY_SIZE) and flight.poses.shape == (3, 3, 4)
    assert flight.intrinsics.shape == (3, 4)
    assert torch.equal(flight.poses[:, 2, 3], torch.tensor([-0.5, -1.0, -1.5]))
    assert torch.equal(flight.rgbd, pipe(rgbd, num_frames=3, output_type="tensor", controller="straight", speed=0.5))
    empty = pipe(rgbd, num_frames=0)
    assert empty.rgbd.shape == (0, 4, *TINY_SIZE) and empty.poses.shape == (0, 3, 4) and len(empty) == 0


def test_memory_and_controller_are_policy_objects():
    rgbd = scene_rgbd(*TINY_SIZE, seed=4)
    seen = []

    def counting_warp(*args):
        from viewgen.rendering.warp import warp_rgbd

        seen.append(1)
        return warp_rgbd(*args)

    controller = make_controller("circle", torch.tensor([0.8, 1.28, 0.5, 0.5]), torch.eye(4)[:3], radius=1.0)
    reference = tiny_pipeline()(rgbd, num_frames=2, controller="circle", radius=1.0)
    pipe = tiny_pipeline()
    pipe = FlyThroughPipeline(refiner=pipe.refiner, config=pipe.config, memory=LastFrame(counting_warp),
                              controller=controller)
    flight = pipe(rgbd, num_frames=2)
    assert len(seen) == 2 and pipe.controller is controller
    assert torch.equal(flight.rgbd, reference.rgbd)
    with pytest.raises(ValueError, match="ready CameraController"):
        pipe(rgbd, num_frames=1, speed=0.3)


def test_weight_free_and_pretrained_choose_their_memories():
    weight_free = FlyThroughPipeline.weight_free(FlyThroughConfig(image_size=(32, 48)))
    assert isinstance(weight_free.memory, WorldPrior)
    assert weight_free.config.autopilot.level and not tiny_pipeline().config.autopilot.level
    assert type(tiny_pipeline().memory) is LastFrame


def test_the_flights_autopilot_speed_can_change():
    pipe = tiny_pipeline()
    pipe.reset(scene_rgbd(*TINY_SIZE, seed=5))
    assert pipe.controller.speed == pipe.config.autopilot.speed
    pipe.controller.set_speed(0.5)
    assert pipe.controller.speed == 0.5
