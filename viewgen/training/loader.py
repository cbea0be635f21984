"""A data loader that a run resumed mid-epoch continues exactly where the check-point left it.

Lightning saves the state of every loader that has ``state_dict`` / ``load_state_dict`` in its
check-points and hands it back on resume. :class:`ResumableLoader` is a plain ``DataLoader`` over
a batch sampler with ``start_batch``, ``epoch`` and ``set_epoch`` (:class:`~viewgen.data.enr_scenes.PairBatchSampler`,
:class:`~viewgen.data.datasets.WindowBatchSampler`) whose
state is the epoch and how many batches of it were handed out; after ``load_state_dict`` the next
iteration starts at the following batch. The batch sampler draws its order from ``(seed, epoch)``,
so no step of a resumed run is lost or repeated. (Lightning does not prefetch from a loader whose
length it knows, so "handed out" is "trained on" when the check-point is written after a step.)
torchdata's StatefulDataLoader does the same for any sampler; this one needs no extra package.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

__all__ = ["ResumableLoader"]


class ResumableLoader(torch.utils.data.DataLoader):
    """``DataLoader(dataset, batch_sampler=batch_sampler, ...)`` with Lightning's stateful-loader protocol."""

    def __init__(self, dataset, batch_sampler, **kwargs) -> None:
        super().__init__(dataset, batch_sampler=batch_sampler, **kwargs)
        self._handed_out = 0
        self._resume_at = 0

    def __iter__(self) -> Iterator:
        self.batch_sampler.start_batch = self._resume_at
        self._handed_out, self._resume_at = self._resume_at, 0
        for batch in super().__iter__():
            self._handed_out += 1
            yield batch

    def state_dict(self) -> dict:
        return {"epoch": self.batch_sampler.epoch, "batches_handed_out": self._handed_out}

    def load_state_dict(self, state: dict) -> None:
        self.batch_sampler.set_epoch(int(state["epoch"]))
        handed_out = int(state["batches_handed_out"])
        # a check-point at the end of an epoch: Lightning starts the next one, from its first batch
        self._resume_at = handed_out if handed_out < len(self.batch_sampler) else 0
