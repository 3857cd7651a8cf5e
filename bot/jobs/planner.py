"""When to ask Pixazo about a job again: when the answer is likely to have changed.

`QueueModel` learns from what the polls see, across every job of this process: how fast Pixazo's queue
moves (positions per second) and how long a render takes. Pixazo's queue is first in, first out, so one
job's place also tells where the others are: a job submitted three after one seen at place 40 is about
at 43, less what the queue has moved since, until its own poll says better.

`next_poll` plans each job's next result call for when it should be done, within `POLL_MIN_SECONDS` ..
`POLL_MAX_SECONDS`; until the model has seen enough it asks at the minimum interval, and a queue seen
standing still is asked at the maximum. Nothing assumes one place a second.

The render time is tracked as a quantile rather than an average: a poll at a job's predicted end that
finds it done pulls the estimate down a little, one that finds it still rendering pushes it up more, so
about one poll in twenty comes early and the rest land just after the image exists. (An average of
"first seen done" times would include the bot's own lateness and creep upwards.)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

_SPEED_MEMORY = 10.0  # seconds: older observations of the queue's speed fade over about this long
_ON_TIME = 0.95  # the share of polls at a job's predicted end that should find it done
_MARGIN = 0.05  # seconds added to a prediction: a poll a hair late beats one a hair early


@dataclass(frozen=True, slots=True)
class _Sighting:
    at: float
    position: int
    sequence: int


@dataclass(frozen=True, slots=True)
class _Plan:
    at: float
    at_prediction: bool  # planned for the predicted end (not held back by the minimum or maximum)


class QueueModel:
    def __init__(self, poll_min: float, poll_max: float) -> None:
        self.poll_min = poll_min
        self.poll_max = poll_max
        self.speed: float | None = None  # positions per second; 0 when the queue was seen standing still
        self.render: float | None = None  # seconds from a job's start to its images
        self._sequence: dict[int, int] = {}  # the order jobs reached Pixazo in
        self._next = 0
        self._own: dict[int, _Sighting] = {}  # each job's last place, as its own poll saw it
        self._anchor: _Sighting | None = None  # the latest place any job was seen at
        self._sent: dict[int, float] = {}  # when each job reached Pixazo: it cannot have started before
        self._started: dict[int, float] = {}
        self._plans: dict[int, _Plan] = {}

    # --- what happened --------------------------------------------------------------------------

    def submitted(self, job_id: int, now: float) -> None:
        self._sequence[job_id] = self._next
        self._next += 1
        self._sent[job_id] = now

    def queued(self, job_id: int, position: int, now: float) -> None:
        last = self._own.get(job_id)
        if last is not None and now > last.at and position <= last.position:
            self._learn_speed((last.position - position) / (now - last.at), now - last.at)
        sighting = _Sighting(now, position, self._sequence.get(job_id, -1))
        self._own[job_id] = sighting
        if sighting.sequence >= 0:
            self._anchor = sighting
        self._judge(job_id, done=False, started=False)

    def rendering(self, job_id: int, now: float) -> None:
        self._started.setdefault(job_id, self._start_estimate(job_id, now))
        self._judge(job_id, done=False, started=True)

    def done(self, job_id: int, now: float) -> None:
        if self.render is None:
            started = self._started.get(job_id, self._start_estimate(job_id, now))
            if started < now:
                self.render = now - started  # a first guess, from above; the quantile brings it down
        self._judge(job_id, done=True, started=True)
        self.forget(job_id)

    def forget(self, job_id: int) -> None:
        for table in (self._sequence, self._sent, self._own, self._started, self._plans):
            table.pop(job_id, None)

    # --- what to expect -------------------------------------------------------------------------

    def next_poll(self, job_id: int, now: float, *, rendering: bool = False) -> float:
        """Seconds until the job's next result call, within the minimum and maximum intervals."""
        end = self.expected_end(job_id, now, rendering=rendering)
        if end is None:
            wait = self.poll_max if self.speed == 0 and not rendering else self.poll_min
            self._plans[job_id] = _Plan(now + wait, at_prediction=False)
            return wait
        wanted = end - now + _MARGIN
        wait = min(self.poll_max, max(self.poll_min, wanted))
        self._plans[job_id] = _Plan(now + wait, at_prediction=wait == wanted)
        return wait

    def expected_end(self, job_id: int, now: float, *, rendering: bool = False) -> float | None:
        """When the job's images should exist, or None while the model has not seen enough to say."""
        if self.render is None:
            return None
        if rendering or job_id in self._started:
            return self._started.get(job_id, now) + self.render
        to_start = self.expected_start(job_id, now)
        return None if to_start is None else now + to_start + self.render

    def expected_start(self, job_id: int, now: float) -> float | None:
        """Seconds until the job should start rendering (0 if it should have), if the model can tell."""
        position = self._position(job_id, now)
        if position is None or not self.speed:
            return None
        return max(0.0, position / self.speed)

    def _position(self, job_id: int, now: float) -> float | None:
        """The job's place now: from its own last sighting, else from the latest sighting of any job."""
        own = self._own.get(job_id)
        sequence = self._sequence.get(job_id)
        if own is not None:
            reference, place = own, own.position
        elif self._anchor is not None and sequence is not None:
            reference, place = self._anchor, self._anchor.position + (sequence - self._anchor.sequence)
        else:
            return None
        return place - (self.speed or 0.0) * (now - reference.at)

    # --- learning -------------------------------------------------------------------------------

    def _learn_speed(self, sample: float, span: float) -> None:
        weight = 1 - math.exp(-span / _SPEED_MEMORY)
        self.speed = sample if self.speed is None else self.speed + weight * (sample - self.speed)

    def _start_estimate(self, job_id: int, now: float) -> float:
        position = self._position(job_id, now)
        if position is None or not self.speed or position >= 0:
            return now
        return max(self._sent.get(job_id, now), now + position / self.speed)  # it started that long ago

    def _judge(self, job_id: int, *, done: bool, started: bool) -> None:
        """Compare a poll planned for a job's predicted end with what it found; move the render estimate."""
        plan = self._plans.pop(job_id, None)
        if plan is None or not plan.at_prediction or self.render is None or not started:
            return  # not a test of the render time (a job still queued means the queue's speed was off)
        step = max(0.01, self.render * 0.2)
        if done:
            self.render = max(0.05, self.render - step * (1 - _ON_TIME))
        else:
            self.render += step * _ON_TIME
