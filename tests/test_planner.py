"""The poll planner: when the next result call for a job happens, from what the polls have seen."""

from __future__ import annotations

import pytest

from bot.jobs.planner import QueueModel
from tests.planner_models import MAX, MIN, watch_renders


def learned(speed: float, render: float) -> QueueModel:
    """A model that has watched one job move at `speed` places a second, and renders take `render` seconds."""
    model = QueueModel(MIN, MAX)
    model.submitted(1, now=0.0)
    model.queued(1, 40, now=0.0)
    model.queued(1, 40 - int(speed * 5), now=5.0)
    return watch_renders(model, render)


def test_until_the_queue_has_been_seen_to_move_it_polls_at_the_minimum() -> None:
    model = QueueModel(MIN, MAX)
    model.submitted(7, now=0.0)
    assert model.next_poll(7, now=0.0) == MIN
    model.queued(7, 100, now=0.5)
    assert model.next_poll(7, now=0.5) == MIN  # one sighting: no speed yet, and nothing assumes one a second


def test_a_fast_queue_is_polled_when_the_job_should_be_done_not_once_a_place() -> None:
    model = learned(speed=8.0, render=1.0)
    model.submitted(2, now=100.0)
    model.queued(2, 80, now=100.0)
    wait = model.next_poll(2, now=100.0)
    assert wait == pytest.approx(80 / 8 + 1.0, abs=0.5)  # about 11 s, where one-place-a-second would say 80
    model.submitted(3, now=0.0)
    model.queued(3, 2, now=100.0)
    assert model.next_poll(3, now=100.0) == pytest.approx(2 / 8 + 1.0, abs=0.5)


def test_a_job_nobody_polled_yet_is_placed_by_the_ones_that_were() -> None:
    model = learned(speed=8.0, render=1.0)
    model.submitted(100, now=0.0)  # so that none of the jobs below is a watcher (every eighth sent)
    model.submitted(2, now=0.0)
    model.queued(2, 40, now=100.0)
    for job in (3, 4, 5):
        model.submitted(job, now=0.0)
    assert model.next_look(5, now=100.0) < model.next_poll(5, now=100.0)  # far off: looked at again first
    assert model.expected_start(5, now=100.0) == pytest.approx(43 / 8)  # three behind a job seen at place 40
    assert model.next_poll(5, now=100.0) == pytest.approx(43 / 8 + 1.0, abs=0.5)


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


@pytest.mark.parametrize("render", [0.7, 2.0, 5.0])
def test_the_render_time_is_learnt_from_closely_watched_renders_and_plans_the_next_poll(render: float) -> None:
    model = QueueModel(MIN, MAX)
    for job in range(20):  # jobs watched at the minimum interval, as while the model is learning
        start = job * 10.0 + 0.123
        model.submitted(job, now=job * 10.0)
        t = job * 10.0 + MIN
        while t < start + render:
            model.rendering(job, now=t) if t >= start else model.queued(job, 1, now=t)
            t += MIN
        model.done(job, now=t)
    assert model.render == pytest.approx(render, abs=MIN)
    model.submitted(99, now=1000.0)
    model.rendering(99, now=1000.0)
    wait = model.next_poll(99, now=1000.0, rendering=True)
    assert model.render is not None
    assert render <= wait + MIN and wait <= model.render * 1.2 + 0.1 + MIN  # about when it should be done


def test_a_job_the_model_never_saw_is_worth_asking_about_at_once() -> None:
    model = learned(speed=8.0, render=1.0)
    assert model.worth_asking(42, now=500.0)  # resumed after a restart: nothing known, so ask
    model.asked(42, now=500.0)
    assert not model.worth_asking(42, now=500.5)  # then not again until the model learns or time passes
    assert model.worth_asking(42, now=503.0)


def test_a_job_sent_by_another_process_is_asked_about_once_it_should_be_done() -> None:
    """Seen in the scale-out crash test: jobs taken over from a killed process were never asked about again.
    With no send time of its own, such a job was taken to start "now" at every look, so its end stayed a
    render away for ever."""
    model = learned(speed=8.0, render=1.0)
    model.asked(42, now=500.0)  # taken over: its first call finds it at place 2
    model.queued(42, 2, now=500.0)
    now, asks = 500.0, 0
    while now < 510.0 and not asks:
        now += model.next_look(42, now=now)
        asks += model.worth_asking(42, now=now)
    assert asks and now <= 500.0 + 2 / 8 + 1.0 + MIN  # when it should be done, as for a job it sent itself
    assert model.expected_end(42, now=now) == pytest.approx(500.0 + 2 / 8 + 1.0, abs=MIN)


def test_a_look_that_finds_the_end_near_waits_for_it_instead_of_asking_at_once() -> None:
    """Seen in planner_replay: a far plan is looked at again halfway, and a look that found the end less than the
    minimum interval away asked at once, up to 0.7 s before the job could be done, and cost a call that found
    it rendering. The minimum interval is between calls: the look plans the call for the end."""
    model = learned(speed=8.0, render=1.0)
    model.submitted(100, now=0.0)  # so that job 2 is no watcher (every eighth sent) nor the first waiting
    model.submitted(2, now=0.0)
    model.asked(2, now=100.0)
    model.queued(2, 40, now=100.0)
    end = model.expected_end(2, now=100.0)
    assert end is not None and end == pytest.approx(100.0 + 40 / 8 + 1.0, abs=0.3)
    now, looks = 100.0, 0
    while not model.worth_asking(2, now=now):
        now += model.next_look(2, now=now)
        looks += 1
    assert looks <= 8  # a few looks, no spinning
    assert end - 0.25 <= now <= end + 0.1  # at most the planned share of a render early, never a poll early


def test_a_probe_keeps_watching_a_long_queue_until_a_render_has_been_timed() -> None:
    """Seen with a backlog of 160 ahead (a regression seen in the benchmark): the probes learnt a speed from
    half a second of a queue that moves in steps, slept until that wrong start, and nobody polled for 90 s."""
    model = QueueModel(MIN, MAX)
    model.submitted(1, now=0.0)
    model.queued(1, 160, now=0.5)
    model.queued(1, 160, now=1.0)
    model.queued(1, 152, now=1.5)  # one step of eight in a second: it looks like 8 places in 1 s of watching
    assert model.render is None
    wait = model.next_poll(1, now=1.5)
    assert wait < 3.0  # it keeps asking: at a gap of its own while the speed is this young
    assert model.worth_asking(1, now=1.5 + wait)


def test_probes_far_from_the_front_sample_the_queue_at_spread_gaps_until_its_speed_is_trusted() -> None:
    """Seen with a backlog of 160 ahead: sixteen probes asked every half second for the three seconds it
    takes to trust the speed, six calls each, half a call per job of the whole run."""
    model = QueueModel(MIN, MAX)
    probes = range(1, 17)
    for job in probes:
        model.submitted(job, now=0.0)
    for job in probes:
        model.queued(job, 160 + job, now=0.5)
    for job in probes:
        model.queued(job, 152 + job, now=1.5)
    waits = {round(model.next_poll(job, now=1.5), 2) for job in probes}
    assert min(waits) > MIN - 0.5 and len(waits) > 8  # spread over many moments, not all at the minimum
    assert sum(1 for wait in waits if wait > MIN) >= 8
    for job in probes:
        model.queued(job, 136 + job, now=3.5)
    assert all(model.next_poll(job, now=3.5) > 10.0 for job in probes[1:])  # trusted: asleep until the front
    assert model.next_poll(probes[0], now=3.5) == pytest.approx(3.0)  # but for the first, which keeps seeing the queue


def test_untaught_jobs_spread_their_calls_so_a_stepping_queue_is_sampled_at_many_moments() -> None:
    model = QueueModel(MIN, MAX)
    for job in range(1, 40):
        model.submitted(job, now=0.0)  # the first sixteen are probes; the others wait gaps of their own
    gaps = {round(model.next_poll(job, now=0.0), 2) for job in range(17, 40)}
    assert len(gaps) > 10
    assert min(gaps) >= 1.0 and max(gaps) <= 3.0


def test_the_speed_is_learnt_from_different_jobs_seen_once_each() -> None:
    """Most jobs are asked once, when they should be done: the queue's speed must come from many jobs'
    single sightings, placed by the order they were sent in, not only from one job seen twice."""
    model = QueueModel(MIN, MAX)
    model.submitted(1, now=0.0)
    model.submitted(2, now=0.0)
    model.queued(1, 40, now=1.0)
    model.queued(2, 33, now=2.0)  # one behind job 1, so it was at 41 when job 1 was seen: 8 places in 1 s
    assert model.speed == pytest.approx(8.0)


def test_a_watcher_is_asked_near_the_front_so_the_model_keeps_seeing_the_queue() -> None:
    model = learned(speed=8.0, render=1.0)
    jobs = range(100, 140)
    for job in jobs:
        model.submitted(job, now=100.0)
    model.queued(jobs[0], 10, now=100.0)
    planned = {job: model.next_poll(job, now=100.0) for job in jobs}
    starts = {job: model.expected_start(job, now=100.0) or 0.0 for job in jobs}
    watchers = [job for job in jobs if planned[job] < starts[job]]
    assert 3 <= len(watchers) <= 6  # every eighth
    for job in watchers:
        assert planned[job] == pytest.approx(max(MIN, starts[job] - 4 / 8), abs=0.06)
    assert sum(1 for job in jobs if planned[job] >= 1.0) >= len(jobs) - 6  # the rest wait for their moment


def test_renders_that_start_the_moment_they_are_sent_are_not_timed_short() -> None:
    """Seen in the benchmark: the first jobs start as they are sent and are first seen rendering half a poll
    later; timed from the middle of that, every render looked 0.45 s short of 1 s, so the planned polls came
    early, found the jobs rendering and cost a second call each."""
    model = QueueModel(MIN, MAX)
    render = 1.0
    for job in range(20):
        sent = job * 10.0
        model.submitted(job, now=sent)
        t = sent + MIN + 0.1
        while t < sent + render:
            model.rendering(job, now=t)
            t += MIN
        model.done(job, now=t)
    assert model.render is not None
    assert render - 0.05 <= model.render <= render + MIN


def test_a_render_timed_long_by_polls_in_step_with_the_queue_is_corrected_by_the_watchers() -> None:
    """Seen with a backlog of 160 ahead: renders start in steps a second apart, and the probes, asked every
    half second in step with them, each bounded a 1 s render by 1.5 s; the watchers that came after, seen
    waiting and then rendering but asked next when done, timed nothing, and every job was asked half a
    second late for the rest of the run."""
    model = QueueModel(MIN, MAX)
    model.submitted(100, now=-30.0)
    model.queued(100, 200, now=-30.0)
    model.queued(100, 40, now=-10.0)  # 8 places a second
    for job in range(1, 9):  # in step: waiting 0.42 s before its start, done seen 0.1 s after its end
        start = float(job)
        model.submitted(job, now=start - 5.0)
        model.queued(job, 1, now=start - 0.42)
        model.rendering(job, now=start + 0.08)
        model.rendering(job, now=start + 0.58)
        model.done(job, now=start + 1.1)
    assert model.render == pytest.approx(1.52)
    for job in range(10, 30):  # watchers, seen waiting at moments that fall differently against the steps
        start = float(job)
        waiting = start - 0.05 - 0.4 * ((job * 0.618) % 1.0)
        model.submitted(job, now=start - 5.0)
        model.queued(job, 1, now=waiting)
        seen = waiting + MIN
        model.rendering(job, now=seen)
        asked = seen + model.next_poll(job, now=seen, rendering=True)
        while asked < start + 1.0:  # still rendering
            model.rendering(job, now=asked)
            asked += model.next_poll(job, now=asked, rendering=True)
        model.done(job, now=asked)
    assert model.render is not None and model.render < 1.4  # from 1.52, and the probes are not asked again


def test_a_late_run_of_loosely_timed_renders_does_not_push_out_the_tight_ones() -> None:
    """Seen in the benchmark's last seconds: the jobs still waiting are seen at place 1 and then done a poll and
    a half later, so thirty loose "at most 1.5 s" bounds in a row pushed every tight one out of the window and
    the estimate jumped from 1.0 s to 1.5 s, planning the last batches' polls half a second late."""
    model = QueueModel(MIN, MAX)
    model.submitted(100, now=-30.0)
    model.queued(100, 200, now=-30.0)
    model.queued(100, 40, now=-10.0)  # 8 places a second
    render = 1.0
    for job in range(1, 31):  # closely watched: waiting just before the start, done just after the end
        start = float(job)
        model.submitted(job, now=start - 5.0)
        model.queued(job, 1, now=start - 0.01)
        model.rendering(job, now=start + 0.49)
        model.done(job, now=start + render + 0.01)
    assert model.render == pytest.approx(render, abs=0.05)
    for job in range(31, 61):  # seen waiting, then done a poll and a half later
        start = float(job)
        model.submitted(job, now=start - 5.0)
        model.queued(job, 1, now=start - 0.49)
        model.done(job, now=start + render + 0.01)
    assert model.render == pytest.approx(render, abs=0.05)


@pytest.mark.parametrize("found", ["rendering", "done"])
def test_a_queue_faster_than_the_model_thinks_is_learnt_from_jobs_found_started_before_their_time(found: str) -> None:
    """Seen in the offline replay of the benchmark with a watcher every 12th job: the speed was learnt 16%
    slow, every poll was planned late, a late poll finds a job rendering or done, which is no sighting of the
    queue, so the speed never mended and the last jobs were asked 4.5 s after their images existed."""
    model = QueueModel(MIN, MAX)
    for job in range(100, 131):
        model.submitted(job, now=95.0)
    model.queued(100, 21, now=95.0)
    model.queued(100, 1, now=100.0)  # seen moving 4 places a second, by a poll in step with a stepping queue
    assert model.speed == pytest.approx(4.0)
    for job in range(101, 131):  # the queue really moves 8 places a second
        getattr(model, found)(job, now=100.0 + (job - 100) / 8 + 0.1)
    assert model.speed is not None and model.speed > 6.0


def test_a_job_found_rendering_when_taken_over_is_asked_about_at_once() -> None:
    """Seen in the scale-out crash test too: a job taken over while Pixazo rendered it has no start the model
    saw, and was taken to start "now" at every look."""
    model = learned(speed=8.0, render=1.0)
    assert model.worth_asking(42, now=500.0, rendering=True)
    assert model.next_poll(42, now=500.0, rendering=True) == MIN
    model.rendering(42, now=500.1)
    assert model.worth_asking(42, now=500.6, rendering=True)  # its start is unknown: asked until it is done
    assert model.next_poll(42, now=500.1, rendering=True) == MIN
    before = model.render
    model.done(42, now=500.6)
    assert model.render == before  # and it teaches nothing about how long renders take


def test_a_queue_shared_with_others_places_each_job_by_how_far_apart_its_neighbours_are_seen() -> None:
    """Seen in the benchmark of two processes: each one's jobs reach Pixazo between the other's (as they do
    between other customers'), so the job sent ten after one seen at place 40 is at 60, not 50. Placed as if
    nothing came between, every job was expected too soon, and the speed learnt from them was wrong."""
    model = QueueModel(MIN, MAX)
    for job in range(100):
        model.submitted(job, now=0.0)  # job k is at place 2k - 8t: the others' jobs sit between ours

    def place(job: int, t: float) -> int:
        return round(2 * job - 8 * t)

    for step in range(10):  # every half second, the polls of a few jobs, each a moment after the other
        t = 0.5 * step
        for n, job in enumerate((21 + 2 * step, 40 + step, 61 + step)):
            model.queued(job, place(job, t + 0.01 * n), now=t + 0.01 * n)
    assert model.speed == pytest.approx(8.0, rel=0.15)
    assert model.expected_start(90, now=5.0) == pytest.approx(place(90, 5.0) / 8, rel=0.15)  # never polled


def test_neighbours_seen_irregularly_apart_place_a_far_job_by_their_mean_spacing_not_the_typical_one() -> None:
    """Seen in the replay of two processes whose jobs reach Pixazo in random turns: most of one process's
    neighbours are one place apart and a few are many apart, so the median spacing was 1 where the mean is 2.
    A job twenty after one seen at place 40 was placed at 60 instead of 80, the speed learnt from such places
    was eight times too slow, and the last jobs were asked 35 s after their images existed."""
    model = QueueModel(MIN, MAX)
    for job in range(40):
        model.submitted(job, now=0.0)
    place = 30
    for job, gap in zip(range(11), [0, 1, 1, 1, 3, 4, 1, 1, 1, 3, 4], strict=True):
        place += gap
        model.queued(job, place, now=0.0)  # ten pairs seen at one moment: 20 places apart over 10 jobs
    assert model.spacing == pytest.approx(2.0)
    model.queued(0, 18, now=1.5)  # eight places a second
    assert model.speed == pytest.approx(8.0, rel=0.02)
    assert model.expected_start(30, now=1.5) == pytest.approx((18 + 2 * 30) / 8, rel=0.05)


def test_a_speed_learnt_too_slow_is_mended_by_the_first_waiting_job_asked_once_the_queue_goes_unseen() -> None:
    """Seen in the backlog bench, one run in three: the first polls all fell between two steps of the queue,
    the speed came out at two thirds of the truth, every job was asked when that speed said it would start, and
    every call found it already done. None was a sighting, so the model never mended: the run's images were
    noticed 10 s late on average."""
    model = learned(speed=4.0, render=1.0)  # the queue really moves 8 places a second
    model.forget(1)
    model.submitted(6, now=100.0)
    model.submitted(7, now=100.0)
    model.queued(6, 60, now=100.0)
    model.queued(7, 61, now=100.0)
    assert model.next_poll(6, now=100.0) == pytest.approx(3.0)  # not 60 / 4 + 1 = 16 s
    assert model.next_look(7, now=100.0) <= 3.0
    assert model.worth_asking(6, now=103.0)
    assert not model.worth_asking(7, now=103.0)  # one call for the whole process, by the first job
    model.asked(6, now=103.0)
    model.queued(6, 36, now=103.0)
    assert model.speed == pytest.approx(8.0)
    assert model.next_poll(7, now=103.0) == pytest.approx(37 / 8 + 1.0, abs=0.5)


def test_a_job_due_to_have_started_is_not_placed_later_by_each_newer_sighting_of_another() -> None:
    """Seen in the benchmark of two processes: each look placed a job afresh from the latest sighting of
    another job, a few places either way, so a job that should have started was thought to have started a
    moment ago at every look; it was never worth asking, and was first asked 5 s after its images existed."""
    model = learned(speed=8.0, render=1.0)
    for job in range(200, 212):
        model.submitted(job, now=99.0)
    model.queued(200, 20, now=99.0)
    model.queued(200, 12, now=100.0)  # 8 places a second: job 210, ten after, is at 22 and due to start at 102.75
    render = model.render or 0.0
    assert model.expected_end(210, now=103.0) == pytest.approx(102.75 + render)
    model.queued(211, 1, now=103.0)  # placed by this one it is at 0 now, as if it had only just started
    assert model.expected_end(210, now=103.0) == pytest.approx(102.75 + render)
