"""A queue that moves in steps: learnt from the polls, and used only while it foretells the queue better."""

from __future__ import annotations

import math
import random
from collections.abc import Callable

import pytest

from bot.jobs.planner import QueueModel
from bot.jobs.steps import QueueSteps
from tests.planner_models import MAX, MIN, watch_renders


def stepping(phase: float, period: float = 1.0, size: int = 8) -> Callable[[float], int]:
    """How many places a queue that moves `size` at once every `period` (at `phase`) has moved by `t`."""
    return lambda t: size * (math.floor((t - phase) / period) + 1)


def staggered(renderers: int = 8, period: float = 1.0) -> Callable[[float], int]:
    """How many places a queue whose renderers finish one at a time, evenly spread, has moved by `t`."""
    return lambda t: sum(math.floor((t - period * r / renderers) / period) + 1 for r in range(renderers))


def watch(
    steps: QueueSteps,
    moved: Callable[[float], int],
    *,
    speed: float,
    until: float,
    seed: int = 1,
    took: float = 0.0,
    since: float = 0.5,
) -> float:
    """Sightings of one job at random moments a fraction of a period apart, as a chain of polls sees them: each
    call takes up to `took` seconds, and its answer tells the queue at a random moment within it."""
    rng, index = random.Random(seed), 10_000
    then, place_then = (since, since), index - moved(since)
    while then[1] < until:
        sent, length = then[1] + rng.uniform(0.05, 0.6), rng.uniform(0.0, took)
        call, told = (sent, sent + length), sent + rng.uniform(0.0, length)
        place = index - moved(told)
        steps.seen(place_then, then, place, call, speed)
        then, place_then = call, place
    return then[1]


@pytest.mark.parametrize("phase", [0.1, 0.45, 0.9])
def test_a_queue_moving_in_steps_is_foretold_to_the_step(phase: float) -> None:
    steps = QueueSteps()
    now = watch(steps, stepping(phase), speed=8.6, until=20.0)  # the speed errs, as a line through steps does
    assert steps.used
    assert steps.size == 8
    assert steps.period == pytest.approx(1.0, abs=0.03)
    next_step = phase + math.floor(now - phase) + 1
    for place in range(1, 9):  # the whole next step starts together: a line would spread it over a render
        assert next_step - 0.05 <= steps.start(place, now) <= next_step + 0.15
    assert next_step + 2 - 0.05 <= steps.start(17, now) <= next_step + 2 + 0.15


def test_a_period_far_from_its_first_guess_is_found() -> None:
    steps = QueueSteps()
    watch(steps, stepping(0.3), speed=14.0, until=40.0)  # first guess 8 / 14 = 0.57 s, the truth 1.0 s
    assert steps.used
    assert steps.period == pytest.approx(1.0, abs=0.03)


def test_a_queue_whose_renderers_finish_at_their_own_moments_keeps_the_straight_line() -> None:
    steps = QueueSteps()
    watch(steps, staggered(), speed=8.0, until=30.0)
    assert not steps.used


def test_the_last_job_of_a_step_is_asked_when_the_step_has_rendered_not_most_of_a_render_later() -> None:
    """Seen in the backlog bench: the 160 jobs queued at once kept the 8 renderers in step, so the queue moved
    8 places every second. A straight line put the last job of a step nearly a second after it started, and a
    job asked once, when the line said it was done, was asked that much after its images existed."""
    model, moved = watch_renders(QueueModel(MIN, MAX), 1.0), stepping(0.3)
    jobs = range(1000, 1400)
    for job in jobs:  # one process: every place between two of its jobs is one of its own
        model.submitted(job, now=99.0)

    def place(job: int, now: float) -> int:
        return job - 999 - (moved(now) - moved(99.0))

    rng, now = random.Random(2), 99.5
    while now < 130.2:
        first = next(job for job in jobs if place(job, now) >= 1)
        job = first + rng.randrange(16)
        model.asked(job, now)
        model.queued(job, place(job, now), now)
        now = min(130.2, now + rng.uniform(0.05, 0.6))
    last_of_the_next_step = next(job for job in jobs if place(job, now) == 8)
    model.queued(last_of_the_next_step, 8, now)  # a tenth before the step at 130.3: a line says 8 / 8 s away
    render = model.render or 0.0
    end = model.expected_end(last_of_the_next_step, now)
    assert end is not None
    assert 130.3 + render - 0.05 <= end <= 130.3 + render + 0.1


@pytest.mark.parametrize("seed", range(5))
def test_calls_that_take_time_still_foretell_the_steps(seed: int) -> None:
    """Seen in the backlog bench: a poll's answer tells the queue at some moment between its send and its answer,
    10 to 50 ms apart under load. Timed by the answer alone, a sighting just before a step looked like one just
    after it, the steps learnt fell before the true ones, and a job seen between the two was placed a whole step
    later than it was: asked a second after its images existed."""
    steps, phase = QueueSteps(), 0.45
    now, used = 0.5, 0
    for until in range(10, 30):  # after each second's sightings, where the next step's jobs are placed
        now = watch(steps, stepping(phase), speed=8.6, until=until, seed=seed * 100 + until, took=0.05, since=now)
        if not steps.used:
            continue
        used += 1
        next_step = phase + math.floor(now - phase) + 1
        for place in range(1, 9):
            # Late by at most the share of a period they are used within, never a step. A sighting that may have
            # been just before the step or just after may be placed a step early: that costs a call, not a second.
            assert next_step - 1.05 <= steps.start(place, now) <= next_step + 0.35
    assert used >= 10
    assert steps.period == pytest.approx(1.0, abs=0.03)


def test_steps_not_seen_for_long_are_not_trusted_to_the_step() -> None:
    """Seen in the backlog replay: polls every few seconds say nothing of when a step falls, and a period learnt
    1 % long put the steps 0.15 s early after 18 of them; a sighting between the two then placed its job a
    whole step late. After a long gap the steps are used again only once new sightings say where they fall."""
    steps = QueueSteps()
    watch(steps, stepping(0.45), speed=8.6, until=10.0, took=0.05)
    index, moved = 10_000, stepping(0.45)
    first, second = (28.40, 28.42), (28.43, 28.44)  # just before the step at 28.45, as a poll planned for it sees
    steps.seen(index - moved(28.41), first, index - moved(28.435), second, 8.6)
    late = steps.start(8, second[1]) > 28.45 + 0.15
    assert not (steps.used and late)


@pytest.mark.parametrize("seed", range(5))
def test_a_job_seen_waiting_then_rendering_tells_when_the_step_fell(seed: int) -> None:
    """A watcher seen at place 3 and then rendering brackets the step that started it as closely as its two calls
    do: three such at the front pin the phase and the period that sparse polls left loose."""
    steps = QueueSteps()
    watch(steps, stepping(0.45), speed=8.6, until=4.0, seed=seed, took=0.05)
    for step in (5.45, 6.45, 7.45):
        steps.started(3, (step - 0.05, step - 0.03), (step + 0.01, step + 0.03))
    assert steps.period == pytest.approx(1.0, abs=0.015)
    assert 8.45 - 0.06 <= steps.start(8, 7.5) <= 8.45 + 0.06
