"""The poll planner: when the next result call for a job happens, from what the polls have seen."""

from __future__ import annotations

import pytest

from bot.jobs.planner import QueueModel

MIN, MAX = 0.5, 30.0


def learned(speed: float, render: float) -> QueueModel:
    """A model that has watched one job move at `speed` places a second and take `render` seconds."""
    model = QueueModel(MIN, MAX)
    model.submitted(1, now=0.0)
    model.queued(1, 40, now=0.0)
    model.queued(1, 40 - int(speed * 5), now=5.0)
    model.rendering(1, now=5.0 + (40 - int(speed * 5)) / speed)
    model.done(1, now=5.0 + (40 - int(speed * 5)) / speed + render)
    return model


def test_until_the_queue_has_been_seen_to_move_it_polls_at_the_minimum() -> None:
    model = QueueModel(MIN, MAX)
    model.submitted(7, now=0.0)
    assert model.next_poll(7, now=0.0) == MIN
    model.queued(7, 100, now=0.5)
    assert model.next_poll(7, now=0.5) == MIN  # one sighting: no speed yet, and nothing assumes one a second


def test_a_fast_queue_is_polled_when_the_job_should_be_done_not_once_a_place() -> None:
    model = learned(speed=8.0, render=1.0)
    model.submitted(2, now=0.0)
    model.queued(2, 80, now=100.0)
    wait = model.next_poll(2, now=100.0)
    assert wait == pytest.approx(80 / 8 + 1.0, abs=0.2)  # about 11 s, where one-place-a-second would say 80
    model.submitted(3, now=0.0)
    model.queued(3, 2, now=100.0)
    assert model.next_poll(3, now=100.0) == pytest.approx(2 / 8 + 1.0, abs=0.2)


def test_a_job_nobody_polled_yet_is_placed_by_the_ones_that_were() -> None:
    model = learned(speed=8.0, render=1.0)
    model.submitted(2, now=0.0)
    model.queued(2, 40, now=100.0)
    for job in (3, 4, 5):
        model.submitted(job, now=0.0)
    assert model.expected_start(5, now=100.0) == pytest.approx(43 / 8)  # three behind a job seen at place 40
    assert model.next_poll(5, now=100.0) == pytest.approx(43 / 8 + 1.0, abs=0.2)


def test_a_stalled_queue_is_polled_at_the_maximum() -> None:
    model = learned(speed=8.0, render=1.0)
    model.submitted(2, now=0.0)
    for second in range(0, 120, 10):
        model.queued(2, 50, now=100.0 + second)  # it does not move at all
    assert model.speed is not None and model.speed < 0.1
    assert model.next_poll(2, now=220.0) == MAX


def test_a_queue_that_jumps_ahead_is_polled_sooner() -> None:
    model = learned(speed=1.0, render=1.0)
    model.submitted(2, now=0.0)
    model.queued(2, 60, now=100.0)
    slow = model.next_poll(2, now=100.0)
    model.queued(2, 10, now=105.0)  # fifty places in five seconds: the queue ahead emptied
    fast = model.next_poll(2, now=105.0)
    assert model.speed is not None and model.speed > 3
    assert slow == MAX and fast < 10 / 1.0  # sooner than the old speed would have said


def test_a_rendering_job_is_polled_at_the_minimum_until_the_render_time_is_known() -> None:
    model = QueueModel(MIN, MAX)
    model.submitted(1, now=0.0)
    model.rendering(1, now=0.0)
    assert model.next_poll(1, now=0.0, rendering=True) == MIN


@pytest.mark.parametrize("render", [0.5, 2.0, 5.0])
def test_the_render_estimate_settles_where_almost_every_planned_poll_finds_the_image(render: float) -> None:
    model = learned(speed=8.0, render=render * 3)  # a first guess well off
    on_time = 0
    for job in range(100, 500):
        start = job * 10.0
        model.submitted(job, now=start)
        model.rendering(job, now=start)
        wait = model.next_poll(job, now=start, rendering=True)
        if wait >= render:
            model.done(job, now=start + wait)
            on_time += job >= 400
        else:
            model.rendering(job, now=start + wait)
            model.done(job, now=start + render)
    assert model.render is not None and render <= model.render + 0.06 <= render * 1.2
    assert on_time >= 90  # of the last hundred planned polls, almost all found it done
