"""FlightBatch: N flights in lockstep share each network call and give what each flight gives alone."""

import pytest
import torch

from tests.helpers.scenes import scene_rgbd
from tests.helpers.tiny_pipeline import TINY_SIZE, tiny_pipeline
from viewgen import devices
from viewgen.memory import LastFrame, WorldPrior
from viewgen.pipelines import FlyThroughConfig, FlyThroughPipeline
from viewgen.pipelines.flight_batch import FlightBatch


def _alone(pipeline, rgbd, frames, seed):
    """The flight of one member of ``FlightBatch.like(pipeline, ...)``, flown by itself."""
    single = FlightBatch.like(pipeline, [seed]).flights[0]
    single.reset(rgbd)
    return [single.step() for _ in range(frames)]


def test_a_batch_of_images_flies_as_each_image_alone():
    pipe = tiny_pipeline(style_temperature=0.5)
    images = [scene_rgbd(*TINY_SIZE, seed=index) for index in (1, 2, 3)]
    batch = FlightBatch.like(pipe, seeds=[0, 1, 2], refine_chunk=3)
    assert FlightBatch.like(pipe, seeds=[0, 1]).refine_chunk == 1  # on a CPU: one at a time, faster there
    calls = []
    refine = pipe.refiner.refine
    pipe.refiner.refine = lambda warped, mask, style: calls.append(warped.shape[0]) or refine(warped, mask, style)
    starts = batch.reset(images)
    flown = [batch.step() for _ in range(4)]
    assert calls == [3] * 4  # one network call per step for the three flights
    pipe.refiner.refine = refine
    assert [frame.index for frame in starts] == [0, 0, 0] and [frame.index for frame in flown[-1]] == [4, 4, 4]
    for index, image in enumerate(images):
        alone = _alone(pipe, image, 4, seed=index)
        for together, single in zip((frames[index] for frames in flown), alone):
            torch.testing.assert_close(together.rgbd, single.rgbd, atol=1e-4, rtol=0)  # batched rounding
            torch.testing.assert_close(together.cam_from_world, single.cam_from_world, atol=1e-6, rtol=0)


def test_seeds_of_one_image_give_different_weight_free_worlds():
    pipe = FlyThroughPipeline.weight_free(FlyThroughConfig(image_size=(48, 80)))
    image = scene_rgbd(48, 80, seed=4)
    batch = FlightBatch.like(pipe, seeds=[3, 3, 8])
    assert all(isinstance(flight.memory, WorldPrior) for flight in batch.flights)
    assert [flight.memory.config.seed for flight in batch.flights] == [3, 3, 8]
    batch.reset([image] * 3)
    for _ in range(3):
        frames = batch.step()
    assert torch.equal(frames[0].rgbd, frames[1].rgbd)  # same seed, same flight
    assert not torch.equal(frames[0].rgbd, frames[2].rgbd)  # another seed, another invented world
    torch.testing.assert_close(frames[2].rgbd, _alone(pipe, image, 3, seed=8)[-1].rgbd, atol=1e-5, rtol=0)


def test_each_flight_has_its_own_memory_and_steering():
    pipe = tiny_pipeline()
    batch = FlightBatch.like(pipe, seeds=[0, 0])
    assert isinstance(batch.flights[0].memory, LastFrame) and batch.flights[0].memory is not batch.flights[1].memory
    image = scene_rgbd(*TINY_SIZE, seed=2)
    batch.reset([image, image])
    frames = batch.step([(0.0, 0.0), (1.0, 0.0)])
    assert not torch.equal(frames[0].cam_from_world, frames[1].cam_from_world)  # the second one turned


@pytest.mark.parametrize(("make", "message"), [
    (lambda: FlightBatch([]), "one or more"),
    (lambda: FlightBatch([tiny_pipeline(), tiny_pipeline()]), "share one refiner"),
    (lambda: FlightBatch.like(tiny_pipeline(), []), "at least one seed"),
    (lambda: FlightBatch.like(tiny_pipeline(), [0], refine_chunk=0), "refine_chunk"),
])
def test_bad_batches_are_refused(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_bad_inputs_and_offsets_are_refused():
    batch = FlightBatch.like(tiny_pipeline(), seeds=[0, 1])
    image = scene_rgbd(*TINY_SIZE, seed=2)
    with pytest.raises(ValueError, match="2 flights need 2 inputs"):
        batch.reset([image])
    batch.reset([image, image])
    with pytest.raises(ValueError, match="2 flights need 2 offsets"):
        batch.step([(0.0, 0.0)])
    with pytest.raises(ValueError, match="two numbers"):
        batch.step([(0.0, 0.0), (1.0, 2.0, 3.0)])
    assert [flight.frame.index for flight in batch.flights] == [0, 0]  # nothing was flown


@pytest.mark.gpu
def test_a_batch_flies_on_cuda_as_on_cpu():
    image = scene_rgbd(*TINY_SIZE, seed=7)
    results = []
    for device in ("cpu", "cuda"):
        batch = FlightBatch.like(tiny_pipeline(device=device), seeds=[0, 1], refine_chunk=2)
        batch.reset([image, image.flip(-1)])
        results.append(torch.cat([frame.rgbd.cpu() for frame in batch.step()]))
    torch.testing.assert_close(results[1], results[0], atol=1e-3, rtol=0)


def test_the_fast_precision_is_refused_on_a_cpu_without_native_bfloat16(monkeypatch):
    with pytest.raises(ValueError, match="precision must be one of exact, fast"):
        FlyThroughConfig(precision="half")
    monkeypatch.setattr(devices, "native_bfloat16", lambda device: device.type == "cuda")  # an AVX2 CPU
    with pytest.raises(ValueError, match="needs a CUDA device or a CPU with native bfloat16"):
        tiny_pipeline(precision="fast")


@pytest.mark.skipif(not devices.native_bfloat16(torch.device("cpu")), reason="this CPU has no native bfloat16")
def test_the_fast_precision_on_a_cpu_with_native_bfloat16_stays_close_to_the_exact_path():
    image = scene_rgbd(*TINY_SIZE, seed=3)
    warped, mask = image.clone(), torch.ones(1, 1, *TINY_SIZE)
    mask[..., :, : TINY_SIZE[1] // 4] = 0.0  # a hole to fill
    exact_pipe, fast_pipe = tiny_pipeline(), tiny_pipeline(precision="fast")
    conv = next(m for m in fast_pipe.refiner.generator.modules() if isinstance(m, torch.nn.Conv2d))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)  # oneDNN's bfloat16 layout
    style = exact_pipe.refiner.encode_style(image)[0]
    exact = exact_pipe.refine(warped * mask, mask, style)
    fast = fast_pipe.refine(warped * mask, mask, style)
    assert fast.dtype == torch.float32 and fast.is_contiguous() and not torch.equal(fast, exact)
    assert float((fast - exact).abs().max()) < 0.05 and float((fast - exact).abs().mean()) < 5e-3
    frames = fast_pipe(image, num_frames=3, output_type="tensor")  # a flight runs through it
    assert bool(torch.isfinite(frames).all())


def test_cuda_graphs_are_refused_on_a_cpu():
    with pytest.raises(ValueError, match="cuda_graphs needs a CUDA device"):
        tiny_pipeline(cuda_graphs=True)


@pytest.mark.gpu
def test_cuda_graphs_replay_the_eager_flight():
    from viewgen.refiners.cuda_graphs import GraphedRefiner

    image = scene_rgbd(*TINY_SIZE, seed=5)
    eager = tiny_pipeline(device="cuda")(image, num_frames=4, output_type="tensor")
    graphed_pipe = tiny_pipeline(device="cuda", cuda_graphs=True)
    assert isinstance(graphed_pipe.refiner, GraphedRefiner)
    graphed = graphed_pipe(image, num_frames=4, output_type="tensor")
    torch.testing.assert_close(graphed, eager, atol=1e-5, rtol=0)
    assert graphed_pipe.generator is graphed_pipe.refiner.refiner.generator
    batch = FlightBatch.like(graphed_pipe, seeds=[0, 1])  # the flights share the graphed refiner: one graph for two
    batch.reset([image, image.flip(-1)])
    assert len(batch.step()) == 2 and batch.refine_chunk == 2
