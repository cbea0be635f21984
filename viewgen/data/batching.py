"""Batches for a training run of one or many processes, that a resumed run continues mid-epoch.

:class:`ShardedBatchSampler` cuts the order of a sampler (anything with ``__iter__``, ``__len__``
and ``set_epoch``) into global batches of ``batch_size * world_size`` consecutive indices; process
``rank`` takes its ``rank``-th slice of each, so the processes of a step see different items and
together what one process with the whole batch would. An incomplete last global batch is dropped.
``start_batch`` (set before iterating) skips that many batches of the epoch. The sampler is kept as
``.sampler``, where Lightning calls ``set_epoch`` at every epoch.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

__all__ = ["EpochRange", "ShardedBatchSampler"]


class EpochRange(torch.utils.data.Sampler[int]):
    """Indices ``epoch * length .. (epoch + 1) * length - 1``: every epoch new items of an endless dataset."""

    def __init__(self, length: int) -> None:
        self.length, self.epoch = length, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.length

    def __iter__(self) -> Iterator[int]:
        return iter(range(self.epoch * self.length, (self.epoch + 1) * self.length))


class ShardedBatchSampler(torch.utils.data.Sampler[list[int]]):
    """This process's batches of ``batch_size`` indices of ``sampler``'s order (see the module doc); ``what`` names
    the items in the error for an epoch too short to fill one global batch."""

    def __init__(self, sampler, batch_size: int, rank: int = 0, world_size: int = 1, what: str = "items") -> None:
        if batch_size < 1 or world_size < 1 or not 0 <= rank < world_size:
            raise ValueError(f"need a batch of >= 1 and 0 <= rank < world_size, got {batch_size}, rank {rank} of "
                             f"{world_size}")
        self.sampler, self.batch_size, self.rank, self.world_size, self.start_batch = \
            sampler, batch_size, rank, world_size, 0
        if len(self) == 0:
            raise ValueError(f"{len(sampler)} {what} per epoch do not fill one batch of {batch_size} on each of "
                             f"{world_size} process(es)")

    @property
    def epoch(self) -> int:
        return self.sampler.epoch

    def set_epoch(self, epoch: int) -> None:
        self.sampler.set_epoch(epoch)

    def __len__(self) -> int:
        return len(self.sampler) // (self.batch_size * self.world_size)

    def __iter__(self) -> Iterator[list[int]]:
        indices = list(self.sampler)
        for batch in range(self.start_batch, len(self)):
            first = (batch * self.world_size + self.rank) * self.batch_size
            yield indices[first:first + self.batch_size]
