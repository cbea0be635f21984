"""Rollout lengths that grow as training goes (``rollout_schedule``), shared by the rollout trainers.

A schedule is ``((step, T), ...)`` by growing ``step``: from training step ``step`` on, rollouts run ``T``
refine steps (``1 <= T <= rollout_steps``, the longest a run is built for); before the first entry they
run the first entry's ``T``; an empty schedule always runs ``rollout_steps``. Infinite Nature trains on
clip windows of ``rollout_steps + 1`` frames; Infinite Nature Zero's "progressive trajectory growth"
lengthens its virtual trajectories the same way.
"""

from __future__ import annotations

__all__ = ["check_rollout_schedule", "rollout_at"]

Schedule = tuple[tuple[int, int], ...]


def check_rollout_schedule(schedule, rollout_steps: int) -> Schedule:
    """The schedule as int pairs (JSON gives lists back); one-line ``ValueError`` unless its steps grow and every
    ``T`` lies in ``[1, rollout_steps]``."""
    pairs = tuple((int(start), int(steps)) for start, steps in schedule)
    starts = [start for start, _ in pairs]
    if starts != sorted(starts) or any(not 1 <= count <= rollout_steps for _, count in pairs):
        raise ValueError(f"rollout_schedule must be (step, T) pairs by growing step with 1 <= T <= rollout_steps "
                         f"({rollout_steps}), got {schedule}")
    return pairs


def rollout_at(schedule: Schedule, rollout_steps: int, step: int) -> int:
    """``T`` at training step ``step`` (module doc)."""
    current = rollout_steps if not schedule else int(schedule[0][1])
    for start, steps in schedule:
        if step >= start:
            current = int(steps)
    return current
