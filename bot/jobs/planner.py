"""When to ask Pixazo about a job again: when the answer is likely to have changed.

`QueueModel` learns from what the polls see, across every job of this process: how fast Pixazo's queue
moves (positions per second, pooled over every job's polls) and how long a render takes. Pixazo's queue is
first in, first out, so one job's place also tells where the others are: a job submitted three after one
seen at place 40 is about at 43, less what the queue has moved since, until its own poll says better.

`next_poll` plans each job's next result call for just after it should be done, within `POLL_MIN_SECONDS`
.. `POLL_MAX_SECONDS`; until the model has seen enough it asks when the job should start, or at the
minimum interval; a job that is rendering past its estimate is asked at the minimum interval; a queue seen
standing still is asked at the maximum. Nothing assumes one place a second.

A render is timed only where the polls bracket it closely: a job seen queued and then rendering, or
rendering and then done, within a couple of minimum intervals; the middle of each bracket is the best
guess of the moment. A job found done at a planned poll says only that it was done by then, so it is not
a sample: averaging such times would add the bot's own lateness and make the estimate creep upwards.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

_SPEED_WINDOW = 15.0  # seconds: the queue's speed is what the polls saw it move over about this long
_SPEED_EVIDENCE = 1.0  # seconds of watching, summed over jobs, before a speed is believed
_RENDER_SAMPLES = 30  # the render estimate is the median of this many recent brackets
_SLACK = 0.15  # of the render time: a planned poll waits this much past the expected end, and
_MARGIN = 0.05  # this many seconds more: a poll a hair late beats one a hair early
_PROBES = 8  # jobs that ask at the minimum interval while the model knows nothing, to teach it
_UNTAUGHT_GAP = 2.0  # seconds, on average, between the calls of the other jobs meanwhile
_GOLDEN = 0.6180339887  # spreads the jobs' untaught gaps evenly over 0.5..1.5 times the average


@dataclass(frozen=True, slots=True)
class _Sighting:
    at: float
    position: int
    sequence: int


class QueueModel:
    def __init__(self, poll_min: float, poll_max: float) -> None:
        self.poll_min = poll_min
        self.poll_max = poll_max
        self.speed: float | None = None  # positions per second; 0 when the queue was seen standing still
        self._sequence: dict[int, int] = {}  # the order jobs reached Pixazo in
        self._next = 0
        self._sent: dict[int, float] = {}  # when each job reached Pixazo: it cannot have started before
        self._own: dict[int, _Sighting] = {}  # each job's last place, as its own poll saw it
        self._anchor: _Sighting | None = None  # the latest place any job was seen at
        self._started: dict[int, float] = {}  # when each job seen rendering started, as well as can be told
        self._timed: set[int] = set()  # jobs whose start the polls bracket closely enough to time a render
        self._seen_rendering: dict[int, float] = {}  # when each job was last seen rendering
        self._moves: deque[tuple[float, int, float]] = deque()  # (when, places moved, over how long)
        self._renders: deque[float] = deque(maxlen=_RENDER_SAMPLES)
        self._probes: set[int] = set()
        self._asked: dict[int, float] = {}  # when each job's result was last asked for

    @property
    def render(self) -> float | None:
        """Seconds from a job's start to its images: the median of the recent, closely bracketed renders."""
        if not self._renders:
            return None
        ordered = sorted(self._renders)
        return ordered[len(ordered) // 2]

    # --- what happened --------------------------------------------------------------------------

    def submitted(self, job_id: int, now: float) -> None:
        self._sequence[job_id] = self._next
        self._next += 1
        self._sent[job_id] = now
        self._asked[job_id] = now
        if len(self._probes) < _PROBES and self.render is None:
            self._probes.add(job_id)

    def asked(self, job_id: int, now: float) -> None:
        self._asked[job_id] = now

    def worth_asking(self, job_id: int, now: float, *, rendering: bool = False) -> bool:
        """Whether a job whose planned moment has come should really be asked about now.

        The plan may have been made when the model knew nothing: if it has learnt enough since to say the
        job is not done yet, the call would teach nothing, and the job waits for its new moment instead.
        """
        end = self.expected_end(job_id, now, rendering=rendering)
        if end is not None:
            return end + _SLACK * (self.render or 0.0) <= now + self.poll_min
        if job_id in self._probes:
            return True
        if not rendering and (to_start := self.expected_start(job_id, now)) is not None:
            return to_start <= self.poll_min
        return self._untaught_wait(job_id, now) <= 0.0

    def _untaught_wait(self, job_id: int, now: float) -> float:
        """Seconds until a job the model cannot place yet should be asked about (0: a resumed job, at once).

        Each job waits a gap of its own, so their polls sample the queue at different moments: a queue that
        moves in steps (every renderer finishing at once) seen by every job at the same two moments would
        look slower or faster than it is, and every plan made from it would drift by the same error.
        """
        last = self._asked.get(job_id)
        if last is None:
            return 0.0
        gap = min(_UNTAUGHT_GAP, self.poll_max) * (0.5 + (job_id * _GOLDEN) % 1.0)
        return last + gap - now

    def queued(self, job_id: int, position: int, now: float) -> None:
        last = self._own.get(job_id)
        if last is not None and now > last.at and position <= last.position:
            self._learn_speed(last.position - position, now - last.at, now)
        sighting = _Sighting(now, position, self._sequence.get(job_id, -1))
        self._own[job_id] = sighting
        if sighting.sequence >= 0:
            self._anchor = sighting

    def rendering(self, job_id: int, now: float) -> None:
        if job_id not in self._started:
            self._started[job_id] = self._start_estimate(job_id, now)
        self._seen_rendering[job_id] = now

    def done(self, job_id: int, now: float) -> None:
        started, last_rendering = self._started.get(job_id), self._seen_rendering.get(job_id)
        closely = job_id in self._timed and last_rendering is not None and now - last_rendering <= 2 * self.poll_min
        if started is not None and last_rendering is not None and closely:
            self._renders.append(max(0.0, (last_rendering + now) / 2 - started))
        self.forget(job_id)

    def forget(self, job_id: int) -> None:
        for table in (self._sequence, self._sent, self._own, self._started, self._seen_rendering, self._asked):
            table.pop(job_id, None)
        self._probes.discard(job_id)
        self._timed.discard(job_id)

    # --- what to expect -------------------------------------------------------------------------

    def next_poll(self, job_id: int, now: float, *, rendering: bool = False) -> float:
        """Seconds until the job's next result call, within the minimum and maximum intervals."""
        end = self.expected_end(job_id, now, rendering=rendering)
        if job_id in self._probes and self.render is None:
            wanted = self.poll_min  # teaching: a model that has seen too little must not put every poll off
        elif end is not None:
            render = self.render or 0.0
            wanted = end - now + _SLACK * render + _MARGIN
        elif not rendering and (to_start := self.expected_start(job_id, now)) is not None:
            wanted = to_start + _MARGIN  # no render time known yet: ask when it should start
        elif self.speed == 0 and not rendering:
            wanted = self.poll_max  # the queue stands still
        elif rendering or job_id in self._probes:
            wanted = self.poll_min
        else:
            wanted = self._untaught_wait(job_id, now)
        return min(self.poll_max, max(self.poll_min, wanted))

    def expected_end(self, job_id: int, now: float, *, rendering: bool = False) -> float | None:
        """When the job's images should exist, or None while the model has not seen enough to say."""
        render = self.render
        if render is None:
            return None
        if rendering or job_id in self._started:
            return self._started.get(job_id, now) + render
        position = self._position(job_id, now)
        if position is None or not self.speed:
            return None
        started = max(self._sent.get(job_id, now), now + position / self.speed)  # in the past once its place is < 0
        return started + render

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

    def _learn_speed(self, moved: int, span: float, now: float) -> None:
        """Pool what every job's polls saw over the last few seconds: places moved over time watched.

        Polls of many jobs at one moment each see the queue move in steps; pooled, the steps average out.
        """
        self._moves.append((now, moved, span))
        while self._moves and self._moves[0][0] < now - _SPEED_WINDOW:
            self._moves.popleft()
        watched = sum(span for _, _, span in self._moves)
        if watched >= _SPEED_EVIDENCE:
            self.speed = sum(moved for _, moved, _ in self._moves) / watched

    def _start_estimate(self, job_id: int, now: float) -> float:
        """When a job just seen rendering started: after it was last seen queued (or sent), as its place says."""
        own = self._own.get(job_id)
        earliest = own.at if own is not None else self._sent.get(job_id, now)
        if now - earliest <= 2 * self.poll_min:
            self._timed.add(job_id)
            return (earliest + now) / 2  # closely bracketed: the middle is the best guess
        position = self._position(job_id, now)
        if position is None or not self.speed:
            return (earliest + now) / 2
        return min(now, max(earliest, now + position / self.speed))  # a negative place: it started that long ago
