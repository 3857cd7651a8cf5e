"""When to ask Pixazo about a job again: when the answer is likely to have changed.

`QueueModel` learns from what the polls see, across every job of this process: how fast Pixazo's queue
moves (positions per second, pooled over every job's polls) and how long a render takes. Pixazo's queue is
first in, first out, so one job's place also tells where the others are: a job submitted three after one
seen at place 40 is about at 43, less what the queue has moved since, until its own poll says better. Other
jobs reach Pixazo between ours (other processes', other customers'), so "three after" is three times the
spacing: how many places apart two of our jobs sent one after the other are, learnt from pairs of jobs
seen at about the same moment.

`next_poll` plans each job's next result call for just after it should be done, within `POLL_MIN_SECONDS`
.. `POLL_MAX_SECONDS`; until the model has seen enough it asks when the job should start, or at the
minimum interval; a job that is rendering past its estimate is asked at the minimum interval; a queue seen
standing still is asked at the maximum. Nothing assumes one place a second.

The model must keep seeing the queue to stay right, yet a job polled only when it should be done is seen
done and teaches nothing about the queue. So every eighth job sent is a watcher: over the last stretch
before it should start (the time the queue takes to move four places) it is asked every few places' worth
of movement, so one watcher or another is always near the front, keeping the speed and the latest sighting
fresh for everyone behind at the cost of two or three calls a watcher. A watcher that comes late finds the
queue further on than thought, and the speed is corrected by it. Watchers trust the speed to say when they
near the front, so the first waiting job is also asked whenever the queue has gone unseen for a few seconds
(`_until_stale`): a speed learnt too slow cannot then put every call after its job's start. And a plan made
long in advance is looked at again (for free, no call) at half its wait, so a job placed by an early,
rougher model is asked when the newer one says, not when the old one did.

How long a render takes is `RenderTimes`' part (bot/jobs/renders.py). A queue whose renderers all finish
together moves in steps, not along a line: `QueueSteps` (bot/jobs/steps.py) learns when they come, and places
a job by them while they foretell the polls clearly better than the speed does.

While the speed is known but not yet trusted (seen over less than a few seconds), a probe far from the front
samples the queue at the spread untaught gaps rather than the minimum: asking it every few hundred
milliseconds would cost calls and teach nothing the others do not.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

from bot.jobs.renders import RenderTimes
from bot.jobs.steps import QueueSteps

_SPEED_WINDOW = 15.0  # seconds: the queue's speed is what the polls saw it move over about this long
_SPEED_EVIDENCE = 1.0  # seconds of watching, summed over jobs, before a speed is believed
_SPEED_EXTENT = 3.0  # seconds from the first sighting it comes from before a probe trusts the speed to wait
_EARLY = 0.2  # of the render time (at most half a poll): a planned poll comes this much before the expected
# end (the estimate errs long, see `render`; a poll that finds it rendering costs a call, a late one the member's time)
_MARGIN = 0.05  # seconds added to every planned moment: a poll a hair late beats one a hair early
_ON_TIME = 0.01  # seconds: a look this near its planned call makes it
_PROBES = 16  # jobs that ask at the minimum interval while the model knows nothing: some render (teaching
# the render time), and with as many renderers as that, the rest wait (teaching the speed)
_UNTAUGHT_GAP = 2.0  # seconds, on average, between the calls of the other jobs meanwhile
_GOLDEN = 0.6180339887  # spreads the jobs' untaught gaps evenly over 0.5..1.5 times the average
_WATCH_EVERY = 8  # every this many jobs sent, one watches the front of the queue
_WATCH_PLACES = 4.0  # a watcher watches over this many places, asked each time the queue should move them
_LOOK_AGAIN = 1.0  # seconds: a plan longer than this is looked at again at half its wait
_FRESH = 3.0  # seconds: while jobs wait, the queue is seen at least this often, by the first of them
_SPACING_SAMPLES = 31  # the spacing is the median of this many recent pairs of sightings
_SPACING_PAIR = 0.1  # seconds: two sightings this close together see the queue in one state


@dataclass(frozen=True, slots=True)
class _Sighting:
    at: float  # when the answer came
    position: int
    sequence: int
    asked: float  # when the call was sent: the answer tells the queue at some moment between the two


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
        self._due: dict[int, float] = {}  # the earliest moment each job was expected to have started by
        self._moves: deque[tuple[float, int, float]] = deque()  # (when, places moved, over how long)
        self._renders = RenderTimes(poll_min)
        self._steps = QueueSteps()
        self._spacings: deque[tuple[int, int]] = deque(maxlen=_SPACING_SAMPLES)  # (places apart, jobs sent between)
        self.spacing = 1.0  # places between two of this process's jobs sent one after the other
        self._probes: set[int] = set()
        self._asked: dict[int, float] = {}  # when each job's result was last asked for

    @property
    def render(self) -> float | None:
        """Seconds from a job's start to its images, from the recent, closely bracketed renders."""
        return self._renders.estimate

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
        if not rendering and self._until_stale(job_id, now) == 0.0:
            return True
        end = self.expected_end(job_id, now, rendering=rendering)
        if end is not None and end - self._early() + _MARGIN <= now + _ON_TIME:
            return True  # the moment `next_poll` planned for its end has come
        if not rendering and self._watching(job_id, now):
            return now - self._asked.get(job_id, -math.inf) >= self._watch_gap() - _MARGIN
        if not rendering and self._sampling(job_id, now):
            return self._untaught_wait(job_id, now) <= 0.0
        if end is not None:
            return False
        if rendering:
            return True  # no render time known yet: the minimum interval was planned
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

    def queued(self, job_id: int, position: int, now: float, *, asked: float | None = None) -> None:
        """The job seen waiting at `position` by a call answered `now` (sent at `asked`, if not at once)."""
        asked = now if asked is None else asked
        self._learn_spacing(job_id, position, now)
        if (last := self._reference(job_id)) is not None:
            seen, place = last
            # A place put by the spacing is a guess where other jobs fall between ours: the steps need true ones.
            if seen is self._own.get(job_id) or self.spacing == 1.0:
                self._steps.seen(place, (seen.asked, seen.at), position, (asked, now), self.speed)
            if now > seen.at and position <= place:
                self._learn_speed(place - position, now - seen.at, now)
        sighting = _Sighting(now, position, self._sequence.get(job_id, -1), asked)
        self._own[job_id] = sighting
        self._due.pop(job_id, None)  # seen waiting: what it was due by is wrong
        if sighting.sequence >= 0:
            self._anchor = sighting

    def rendering(self, job_id: int, now: float, *, asked: float | None = None) -> None:
        """The job seen rendering by a call answered `now` (sent at `asked`, if not at once)."""
        asked = now if asked is None else asked
        if job_id not in self._started:
            if (own := self._own.get(job_id)) is not None:
                self._steps.started(own.position, (own.asked, own.at), (asked, now))
            self._learn_from_overtaking(job_id, now)
            if (started := self._start_estimate(job_id, now)) is not None:
                self._started[job_id] = started
        self._renders.seen_rendering(job_id, now)

    def done(self, job_id: int, now: float) -> None:
        if job_id not in self._started:
            self._learn_from_overtaking(job_id, now)
        own = self._own.get(job_id)
        self._renders.done(job_id, now, last_waiting=None if own is None else own.at)
        self.forget(job_id)

    def forget(self, job_id: int) -> None:
        for table in (self._sequence, self._sent, self._own, self._started, self._asked, self._due):
            table.pop(job_id, None)
        self._probes.discard(job_id)
        self._renders.forget(job_id)

    # --- what to expect -------------------------------------------------------------------------

    def next_poll(self, job_id: int, now: float, *, rendering: bool = False) -> float:
        """Seconds until the job's next result call, within the minimum and maximum intervals."""
        end = self.expected_end(job_id, now, rendering=rendering)
        floor = self.poll_min
        if end is not None:
            wanted = end - now - self._early() + _MARGIN
            # The minimum interval is between calls: a look (no call) that finds the end near plans the call for
            # it, not a whole interval after the look.
            floor = max(_ON_TIME, self.poll_min - (now - self._asked.get(job_id, now)))
        elif not rendering and (to_start := self.expected_start(job_id, now)) is not None:
            wanted = to_start + _MARGIN  # no render time known yet: ask when it should start
        elif self.speed == 0 and not rendering:
            wanted = self.poll_max  # the queue stands still
        elif rendering or job_id in self._probes:
            wanted = self.poll_min
        else:
            wanted = self._untaught_wait(job_id, now)
        sooner = math.inf  # a watcher's, a probe's or the first waiting job's own moment
        if not rendering and (to_watch := self._until_watching(job_id, now)) is not None:
            sooner = to_watch or self._watch_gap()
        elif not rendering and self._sampling(job_id, now):
            sooner = self._untaught_wait(job_id, now)
        if not rendering and (to_stale := self._until_stale(job_id, now)) is not None:
            sooner = min(sooner, to_stale)
        if sooner < wanted:
            wanted, floor = sooner, self.poll_min
        return min(self.poll_max, max(floor, wanted))

    def next_look(self, job_id: int, now: float, *, rendering: bool = False) -> float:
        """Seconds until the job's plan is looked at again: the planned call, or halfway to it if far off.

        A look costs no call: `worth_asking` then says whether the moment has come by what is known by then.
        """
        wait = self.next_poll(job_id, now, rendering=rendering)
        look = wait if wait <= _LOOK_AGAIN else max(_LOOK_AGAIN, wait / 2)
        return look if rendering else min(look, _FRESH)  # a waiting job may become the first, see `_until_stale`

    def _until_watching(self, job_id: int, now: float) -> float | None:
        """Seconds until a watching job's stretch begins (0: it has), or None for a job that does not watch.

        Probes watch while no render has been timed, from the start if the queue's speed is not known well
        enough to say when they reach the front; watchers once it is known at all.
        """
        if job_id in self._started:
            return None
        probe = job_id in self._probes and self.render is None
        sequence = self._sequence.get(job_id)
        watcher = sequence is not None and sequence % _WATCH_EVERY == 0 and bool(self.speed)
        if not (probe or watcher):
            return None
        if probe and not self._speed_trusted(now):
            return None if self._sampling(job_id, now) else 0.0
        to_start = self.expected_start(job_id, now)
        if to_start is None or not self.speed:
            return 0.0 if probe else None
        return max(0.0, to_start - _WATCH_PLACES / self.speed)

    def _until_stale(self, job_id: int, now: float) -> float | None:
        """Seconds until the latest sighting of the queue is too old (0: it is), for the first of this process's
        jobs still thought waiting; None for the others.

        Every plan comes from the model, and only sightings mend it. A speed learnt too slow (the first polls
        all landing between two steps of the queue) has every job asked when it should start by that speed,
        which is after it has started, or ended: seen rendering or done, none is a sighting, and the model
        never learns better. So the first waiting job is asked whenever the queue has gone unseen for a few
        seconds: one call a few seconds at most for the whole process, and its place then corrects the speed.
        """
        if self._anchor is None or job_id in self._started:
            return None
        until = self._anchor.at + _FRESH - now
        if until > self.poll_max:
            return None
        sequence = self._sequence.get(job_id)
        first = min((s for j, s in self._sequence.items() if j not in self._started), default=None)
        return max(0.0, until) if sequence is not None and sequence == first else None

    def _sampling(self, job_id: int, now: float) -> bool:
        """Whether a probe far from the front samples the queue at the untaught gaps, not at the minimum:
        the speed is known, but not yet over long enough to trust it to sleep until the front."""
        if job_id not in self._probes or self.render is not None or self._speed_trusted(now):
            return False
        to_start = self.expected_start(job_id, now)
        return to_start is not None and to_start > _SPEED_EXTENT

    def _watching(self, job_id: int, now: float) -> bool:
        return self._until_watching(job_id, now) == 0.0

    def _early(self) -> float:
        """How long before the expected end a planned poll comes: a share of the render, at most half a poll."""
        return min(_EARLY * (self.render or 0.0), self.poll_min / 2)

    def _watch_gap(self) -> float:
        return self.poll_min if not self.speed else max(self.poll_min, _WATCH_PLACES / self.speed)

    def expected_end(self, job_id: int, now: float, *, rendering: bool = False) -> float | None:
        """When the job's images should exist, or None while the model has not seen enough to say."""
        render = self.render
        if render is None:
            return None
        if job_id in self._started:
            return self._started[job_id] + render
        if rendering:
            return None  # rendering since before this process saw it (another process sent it): no telling
        until = self._until_start(job_id, now)
        if until is None:
            return None
        # In the past once its place is < 0. A job another process sent has no send time here to bound it.
        started = max(self._sent.get(job_id, -math.inf), now + until)
        if started <= now:
            # Once due, its start never moves later: each newer sighting of another job places it afresh, a few
            # places either way, and a start placed "a moment ago" at every look would never come to be asked.
            started = self._due[job_id] = min(started, self._due.get(job_id, math.inf))
        return started + render

    def expected_start(self, job_id: int, now: float) -> float | None:
        """Seconds until the job should start rendering (0 if it should have), if the model can tell."""
        until = self._until_start(job_id, now)
        return None if until is None else max(0.0, until)

    def _until_start(self, job_id: int, now: float) -> float | None:
        """Seconds until the job should start rendering (< 0: since it should have), from the latest sighting that
        places it: by the queue's steps while they foretell it better, else by its speed; None if it cannot tell."""
        if (last := self._reference(job_id)) is None or not self.speed:
            return None
        seen, place = last
        if self._steps.used:
            return self._steps.start(place, seen.at) - now
        return (place - self.speed * (now - seen.at)) / self.speed

    def _reference(self, job_id: int) -> tuple[_Sighting, int] | None:
        """The latest sighting that places the job, and its place then: its own, or any job's if that is newer
        (the queue is first in, first out, so a job seen at place 40 puts one sent three after it at 43)."""
        own, anchor = self._own.get(job_id), self._anchor
        sequence = self._sequence.get(job_id)
        if anchor is not None and sequence is not None and (own is None or anchor.at > own.at):
            return anchor, anchor.position + round(self.spacing * (sequence - anchor.sequence))
        if own is not None:
            return own, own.position
        return None

    # --- learning -------------------------------------------------------------------------------

    def _speed_trusted(self, now: float) -> bool:
        """Whether the speed was learnt over a long enough stretch that a queue moving in steps cannot fool it."""
        return bool(self._moves) and now - min(when - span for when, _, span in self._moves) >= _SPEED_EXTENT

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

    def _learn_spacing(self, job_id: int, position: int, now: float) -> None:
        """Two jobs seen at about the same moment say how many places apart jobs sent one after the other are.

        The spacing is places over jobs, summed over the pairs: a job many after its sighted neighbour is as far
        as the gaps add up to, and with others' jobs falling between ours at random most gaps are one place and a
        few are many, so a median would say one. Pairs the queue may have moved half a place between are left
        out, as a queue moving in steps would turn the guess of that movement into a spacing of its own.
        """
        anchor, sequence = self._anchor, self._sequence.get(job_id)
        if anchor is None or sequence is None or sequence == anchor.sequence:
            return
        moved = (self.speed or 0.0) * (now - anchor.at)
        if now - anchor.at > _SPACING_PAIR or moved >= 0.5:
            return
        apart = round(position + moved - anchor.position)  # as at the anchor's moment: whole places
        after = sequence - anchor.sequence
        self._spacings.append((apart if after > 0 else -apart, abs(after)))
        self.spacing = max(1.0, sum(a for a, _ in self._spacings) / sum(d for _, d in self._spacings))

    def _learn_from_overtaking(self, job_id: int, now: float) -> None:
        """A job found rendering or done where the model still had it waiting says the queue moves faster than
        thought.

        It moved at least from its place then to the front, so that is a speed sample that errs slow, never
        fast. Without it a model that is too slow could not mend: it plans every poll late, a late poll finds
        the job rendering or done, and neither is a sighting of the queue to learn its speed from.
        """
        if (last := self._reference(job_id)) is None:
            return
        seen, place = last
        until = self._until_start(job_id, now)
        if now > seen.at and (place > 0 if until is None else until > 0):
            self._learn_speed(place, now - seen.at, now)

    def _start_estimate(self, job_id: int, now: float) -> float | None:
        """When a job just seen rendering started: after it was last seen queued (or sent), as its place says.

        None for a job another process sent that was rendering when first seen here: it started at some
        unknown moment, and is asked about at the minimum interval until it is done (it is no render sample).
        """
        own = self._own.get(job_id)
        earliest = own.at if own is not None else self._sent.get(job_id)
        if earliest is None:
            return None
        if now - earliest <= 2 * self.poll_min:
            self._renders.started_between(job_id, earliest, now)
            return earliest  # closely bracketed: the earliest it can have started, as the render errs long
        until = self._until_start(job_id, now)
        if until is None:
            return (earliest + now) / 2
        return min(now, max(earliest, now + until))  # a negative place: it started that long ago
