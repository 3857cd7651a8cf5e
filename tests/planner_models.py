"""Models for the planner's tests: what a `QueueModel` has seen before a test asks it something."""

from __future__ import annotations

from bot.jobs.planner import QueueModel

MIN, MAX = 0.5, 30.0  # POLL_MIN_SECONDS, POLL_MAX_SECONDS


def watch_renders(model: QueueModel, render: float) -> QueueModel:
    """Let the model watch four renders of `render` seconds closely, start to end (jobs 2 to 5, 20 s to 50 s)."""
    for job in range(2, 6):
        start = 10.0 * job
        model.submitted(job, now=start - MIN / 2)
        t = start
        while t < start + render:
            model.rendering(job, now=t)
            t += MIN / 10
        model.done(job, now=t)
    return model
