"""The loop-closure protocol: the persistent world comes back to what was there, the last frame does not; its
metrics block holds the setting, the means per path x memory and every flight; bad settings are one line."""

import json

import pytest
import torch

from viewgen.evaluation.loop_protocol import (
    LoopConfig,
    loop_cases,
    loop_metrics,
    make_memory,
    run_loop_protocol,
)
from viewgen.memory import LastFrame, WorldPrior
from viewgen.memory.world import WorldMemory
from viewgen.pipelines import FlyThroughConfig, FlyThroughPipeline

pytest.importorskip("torchmetrics")

# 96x160 is the smallest size where the warp's Sobel edge mask keeps most of a frame (the quick protocols' size);
# measured here (December 2026): world 26.7 dB / 0.011, last frame 19.1 dB / 0.19 after 8 frames of the circle.
CONFIG = LoopConfig(paths=("circle",), samples=(1,), memories=("last-frame", "world"), period=8, height=96, width=160)


@pytest.fixture(scope="module")
def flown():
    pipe = FlyThroughPipeline.weight_free(FlyThroughConfig(image_size=(CONFIG.height, CONFIG.width)))
    own = pipe.memory
    frames = []
    results = run_loop_protocol(pipe, CONFIG, progress=frames.append)
    assert pipe.memory is own and len(frames) == 2 * CONFIG.period  # its own memory back; one call a frame
    return results


def test_the_world_memory_closes_the_loop_and_the_last_frame_does_not(flown):
    last, world = flown
    assert (last.memory, world.memory) == ("last-frame", "world") and last.path == world.path == "circle"
    assert world.psnr_db > 24.0 and world.psnr_db > last.psnr_db + 4.0
    assert world.disparity_error < 0.05 < last.disparity_error
    assert torch.equal(world.first_rgb, last.first_rgb) and world.returned_rgb.shape == (3, 96, 160)


def test_the_metrics_block_holds_the_setting_the_means_and_every_flight(flown):
    block = loop_metrics(CONFIG, flown, "weight-free", 0, "9.9")
    json.dumps(block, allow_nan=False)
    assert block["protocol"] == "loop" and block["resolution"] == [96, 160] and block["period"] == 8
    assert block["paths"] == ["circle"] and block["samples"] == [1] and block["sample_names"] == ["coast"]
    assert block["memories"] == ["last-frame", "world"] and block["seeds"] == [0]
    assert block["radius"] == 0.5 and block["distance"] == 1.0 and block["refiner"] == "weight-free"
    assert set(block["scores"]) == {"psnr", "disparity_error"}
    assert block["means"]["circle"]["world"]["psnr"] == pytest.approx(flown[1].psnr_db, rel=1e-5)
    assert [(c["path"], c["sample_name"], c["memory"]) for c in block["cases"]] == [
        ("circle", "coast", "last-frame"), ("circle", "coast", "world")]
    assert set(block["cases"][0]) == {"path", "sample", "sample_name", "memory", "psnr", "disparity_error"}


def test_cases_and_memories():
    assert loop_cases(LoopConfig(samples=(2,), memories=("world",))) == [("circle", 2, "world"),
                                                                         ("there-and-back", 2, "world")]
    prior = WorldPrior()
    assert make_memory("default", prior) is prior and isinstance(make_memory("last-frame", prior), LastFrame)
    world = make_memory("world", prior)
    assert isinstance(world, WorldMemory) and world.fallback is prior
    assert make_memory("world", LastFrame()).fallback is None  # learned weights: the world alone


@pytest.mark.parametrize("options, message", [
    ({"paths": ("spiral",)}, "loop paths must be some of circle, there-and-back"),
    ({"samples": (4,)}, "loop samples must be some of 1, 2, 3"),
    ({"memories": ()}, "loop memories must be"),
    ({"period": 1}, "whole number of frames >= 2"),
    ({"radius": 0.0}, "finite and not 0"),
    ({"height": 8}, "at least 16x16"),
])
def test_bad_settings_are_one_line(options, message):
    with pytest.raises(ValueError, match=message):
        LoopConfig(**options)


def test_a_pipeline_of_another_size_is_refused():
    pipe = FlyThroughPipeline.weight_free(FlyThroughConfig(image_size=(64, 96)))
    with pytest.raises(ValueError, match=r"flies at \(64, 96\), the loop protocol at \(96, 160\)"):
        run_loop_protocol(pipe, CONFIG)
