"""Whether Pixazo's queue moves in steps, and when the next one comes.

A queue whose renderers all took their jobs at one moment (a backlog queued at once, a render time that
does not vary) moves in steps: every renderer finishes together, the first `size` waiting jobs start
together, and nothing moves until the next step one render later. A straight line through such a queue
(`QueueModel`'s places per second) puts the last job of a step most of a render after the moment it
really starts, and a poll planned from it comes that much after the job is done.

`QueueSteps` learns when the steps come from the polls. Two sightings say how many steps fell between the
moments their answers tell, and each call's answer tells the queue at some moment between its send and its
answer: so at least the steps from the first's answer to the second's send fell, and at most those from the
first's send to the second's answer. A job seen waiting and then rendering says the steps that brought it
to the front fell between its two calls: the watchers at the front bracket steps most closely. Each pair
rules out the periods and phases that disagree; what no recent sighting rules out is when the steps fall.
Periods are tried around the first guess (a step's places over the speed), a fiftieth apart, each at forty
phases; of the periods that fit, the one that fits most loosely is taken (a wrong period narrows the phases
that fit, step after step). The latest phase that fits is taken, so a poll planned from it errs late by at
most the spread of what is left. Older sightings weigh less at each new one and at each period since the
last: a period a little off drifts from the truth.

It also keeps score of how well the steps and the straight line each foretold the places the polls saw,
and is used only while it foretells them better and the phases that fit span at most a third of a period:
a queue whose renderers finish at their own moments does not move in steps, and the line stays.
"""

from __future__ import annotations

import math
import sys
from collections import deque

_BINS = 40  # phases tried: a fortieth of a period apart
_ROWS = 31  # periods tried, evenly spread around the centre of the trial
_EDGE = 3  # periods this near either end of those tried, best fitting, start the trial again around it
_SPACING = 0.02  # periods tried this share of the centre apart
_WINDOWS = 40  # sightings kept to try new periods with: the oldest of them weighs _MEMORY ** 40 (1.5 %)
_MEMORY = 0.9  # weight left to older sightings at each new one, in each phase's count of what ruled it out
_BETTER = 0.5  # the steps are used while their running error is less than this share of the line's
_SCORE = 0.2  # weight of the newest error in each way's running score
_ARC = 0.35  # and while what the sightings leave of when they fall is at most this share of a period
_EVIDENCE = 6  # sightings that said something of the steps before they are used at all

Call = tuple[float, float]  # a result call: when it was sent, when its answer came
# Two calls' sends and answers, and the fewest and most steps that fell between the moments they tell.
_Window = tuple[float, float, float, float, int, int]


class QueueSteps:
    def __init__(self) -> None:
        self.size = 0  # places a step moves the queue
        self.period: float | None = None  # seconds between steps, as the recent sightings fit best
        self._phase = 0.0  # the latest moment, counted from the clock's zero, within a period that steps fall at
        self._centre: float | None = None  # the period the trial is centred on: at first a guess from the speed
        self._windows: deque[_Window] = deque(maxlen=_WINDOWS)
        self._against: list[list[float]] = []  # per period tried and phase, how strongly sightings ruled it out
        self._evidence = 0
        self._arc = 1.0  # the share of a period the steps may fall in, by what the sightings left
        self._line_error = 0.0  # running mean of how many places off each way foretold a sighting
        self._step_error = math.inf

    @property
    def used(self) -> bool:
        """Whether the steps foretell the queue better than a straight line does."""
        return (
            self.period is not None
            and self.size > 1
            and self._evidence >= _EVIDENCE
            and self._arc <= _ARC
            and self._step_error < _BETTER * self._line_error
        )

    def seen(self, place_then: int, then: Call, position: int, now: Call, speed: float | None) -> None:
        """A sighting of the queue: a place known from one call, and the place another call sees now.

        Each call is (sent, answered): its answer tells the queue at some moment between the two.
        """
        (then_sent, then_answered), (sent, answered) = then, now
        if not speed or answered <= then_answered:
            return
        line = place_then - speed * (answered - then_answered)
        self._line_error += _SCORE * (abs(line - position) - self._line_error)
        moved = place_then - position
        moved_steps = moved / self.size if self.size else 0.0
        if self.period is not None and self._evidence >= _EVIDENCE:
            # As many places off as the steps the model puts between the two calls are from those seen.
            surely, maybe = _steps_between(self._phase, self.period, (then_sent, then_answered), (sent, answered))
            error = self.size * max(0, surely - moved_steps, moved_steps - maybe)
            first = math.isinf(self._step_error)
            self._step_error = error if first else self._step_error + _SCORE * (error - self._step_error)
        if moved > 0 and self._centre is None:
            self._centre = moved / speed
            self._against = [[0.0] * _BINS for _ in range(_ROWS)]
        if self._centre is None or moved < 0:
            return
        if answered - then_sent < min(self._periods()):  # at most one step between: it moves a step's places
            self.size = max(self.size, moved)
        if self.size == 0 or moved % self.size:
            return  # not a whole number of steps: nothing to say of when they fall
        self._add((then_sent, then_answered, sent, answered, moved // self.size, moved // self.size))

    def started(self, place_then: int, then: Call, now: Call) -> None:
        """A job seen at `place_then` by one call, and rendering by the next: the steps that brought it to the front
        fell between them (and perhaps more)."""
        if self._centre is None or not self.size or now[1] <= then[1]:
            return
        self._add((*then, *now, math.ceil(place_then / self.size), sys.maxsize))

    def _add(self, window: _Window) -> None:
        self._evidence += 1
        self._apply(window)
        self._fit()

    def _apply(self, window: _Window) -> None:
        """Keep a sighting, and count it against the phases of every period tried that it rules out."""
        memory = self._memory(window[3])
        self._windows.append(window)
        for period, against in zip(self._periods(), self._against, strict=True):
            _rule_out(period, against, window, memory=memory)

    def _periods(self) -> list[float]:
        assert self._centre is not None
        return [self._centre * (1 + _SPACING * (row - _ROWS // 2)) for row in range(_ROWS)]

    def _fit(self) -> None:
        """Take the period and phase the recent sightings fit best; when that period lies at the edge of those
        tried, try the periods again around it, with the sightings kept."""
        row = self._best()
        if min(row, _ROWS - 1 - row) < _EDGE:
            self._centre = self._periods()[row]
            self._against = [[0.0] * _BINS for _ in range(_ROWS)]
            windows, self._windows = self._windows, deque(maxlen=_WINDOWS)
            for window in windows:
                self._apply(window)
            row = self._best()
        self._take(row)

    def _best(self) -> int:
        """The period tried that the sightings rule out least; of those that tie, the one they fit most loosely
        (each wrong period narrows the phases that fit until none does), then the nearest the centre."""
        middle = _ROWS // 2

        def fit(row: int) -> tuple[float, int, int]:
            against = self._against[row]
            least = min(against)
            return round(least, 6), -sum(count <= least + 0.5 for count in against), abs(row - middle)

        return min(range(_ROWS), key=fit)

    def _memory(self, end: float) -> float:
        """The weight left to what ruled phases out before a sighting ending at `end`: a sighting's worth, or a
        period's worth for every period since the last one, whichever is less (a phase fitted many steps ago
        drifts by the period's error at each)."""
        assert self._centre is not None
        if not self._windows:
            return _MEMORY
        return float(_MEMORY ** max(1.0, (end - self._windows[-1][3]) / self._centre))

    def _take(self, row: int) -> None:
        self.period = period = self._periods()[row]
        against = self._against[row]
        least = min(against)
        fits = [against[index] <= least + 0.5 for index in range(_BINS)]
        # The latest of the arc that fits: a fitting phase whose next one does not (the arc may wrap round).
        ends = [index for index in range(_BINS) if fits[index] and not fits[(index + 1) % _BINS]] or [_BINS - 1]
        self._phase = (ends[-1] + 1) * period / _BINS
        # How much of a period the steps may fall in: all of it while two arcs fit (a sighting can tell neither).
        self._arc = sum(fits) / _BINS if len(ends) == 1 else 1.0

    def start(self, place: int, seen_at: float) -> float:
        """When a job seen at `place` at `seen_at` starts: the step that brings it to the front."""
        assert self.period is not None
        first = self._phase + (math.floor((seen_at - self._phase) / self.period) + 1) * self.period
        return first + (math.ceil(place / self.size) - 1) * self.period


def _rule_out(period: float, against: list[float], window: _Window, *, memory: float) -> None:
    """Count against each phase of `period` whether its steps between two calls could not be as many as seen."""
    then_sent, then_answered, sent, answered, fewest, most = window
    then, now = (then_sent, then_answered), (sent, answered)
    for index in range(_BINS):
        surely, maybe = _steps_between((index + 1) * period / _BINS, period, then, now)
        against[index] = against[index] * memory + (surely > most or maybe < fewest)


def _steps_between(phase: float, period: float, then: Call, now: Call) -> tuple[int, int]:
    """The fewest and most steps at `phase` of `period` between the moments two calls' answers tell: those from
    the first's answer to the second's send, and those from the first's send to the second's answer."""
    (then_sent, then_answered), (sent, answered) = then, now
    surely = math.floor((sent - phase) / period) - math.floor((then_answered - phase) / period)
    maybe = math.floor((answered - phase) / period) - math.floor((then_sent - phase) / period)
    return max(0, surely), maybe
