"""GraphedRefiner: the refiner's own attributes, the same output; on a CPU a plain pass-through (GPU replay in
tests/pipelines/test_flight_batch.py, marked gpu)."""

import torch

from tests.helpers.tiny_pipeline import TINY_SIZE, tiny_pipeline
from viewgen.refiners.cuda_graphs import GraphedRefiner


def test_a_graphed_refiner_is_the_refiner_on_a_cpu():
    refiner = tiny_pipeline().refiner
    graphed = GraphedRefiner(refiner)
    assert (graphed.name, graphed.image_size, graphed.style_dim) == (refiner.name, refiner.image_size,
                                                                     refiner.style_dim)
    generator = torch.Generator().manual_seed(0)
    warped = torch.rand(2, 4, *TINY_SIZE, generator=generator)
    mask = (torch.rand(2, 1, *TINY_SIZE, generator=generator) > 0.3).float()
    style = torch.randn(2, refiner.style_dim, generator=generator)
    with torch.inference_mode():
        assert torch.equal(graphed.refine(warped, mask, style), refiner.refine(warped, mask, style))
    assert graphed._graphs == {}  # nothing captured off a GPU
