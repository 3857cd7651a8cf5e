"""Whether Pixazo's queue moves in steps, and when the next one comes.

A queue whose renderers all took their jobs at one moment (a backlog queued at once, a render time that
does not vary) moves in steps: every renderer finishes together, the first `size` waiting jobs start
together, and nothing moves until the next step one render later. A straight line through such a queue
(`QueueModel`'s places per second) puts the last job of a step most of a render after the moment it
really starts, and a poll planned from it comes that much after the job is done.

`QueueSteps` learns when the steps come from the polls. Two sightings less than a period apart either saw
the queue move (a step fell between them) or did not (none did), and each rules out some periods and
phases; what no recent sighting rules out is when the steps fall. Periods are tried around the first
guess (a step's places over the speed), a fiftieth apart, each at forty phases. The latest phase that
fits is taken, so a poll planned from it errs late by at most the spread of what is left.

It also keeps score of how well the steps and the straight line each foretold the places the polls saw,
and is used only while it foretells them better: a queue whose renderers finish at their own moments does
not move in steps, and the line stays.
"""

from __future__ import annotations

import math

_BINS = 40  # phases tried: a fortieth of a period apart
_PERIODS = tuple(1.0 + 0.02 * k for k in range(-15, 16))  # periods tried, as multiples of the first guess
_EDGE = 3  # periods this near either end of those tried, best fitting, start the trial again around it
_MEMORY = 0.9  # weight left to older sightings at each new one, in each phase's count of what ruled it out
_BETTER = 0.5  # the steps are used while their running error is less than this share of the line's
_SCORE = 0.2  # weight of the newest error in each way's running score
_EVIDENCE = 6  # sightings that said something of the steps before they are used at all


class QueueSteps:
    def __init__(self) -> None:
        self.size = 0  # places a step moves the queue
        self.period: float | None = None  # seconds between steps, as the recent sightings fit best
        self._phase = 0.0  # the latest moment, counted from the clock's zero, within a period that steps fall at
        self._guess: float | None = None  # the first guess at the period, that the periods tried multiply
        self._against = [[0.0] * _BINS for _ in _PERIODS]  # how strongly recent sightings ruled out each
        self._evidence = 0
        self._line_error = 0.0  # running mean of how many places off each way foretold a sighting
        self._step_error = math.inf

    @property
    def used(self) -> bool:
        """Whether the steps foretell the queue better than a straight line does."""
        return (
            self.period is not None
            and self.size > 1
            and self._evidence >= _EVIDENCE
            and self._step_error < _BETTER * self._line_error
        )

    def seen(self, place_then: int, seen_then: float, position: int, now: float, speed: float | None) -> None:
        """A sighting of the queue: a place known at one moment, and the place seen now."""
        if not speed or now <= seen_then:
            return
        line = place_then - speed * (now - seen_then)
        self._line_error += _SCORE * (abs(line - position) - self._line_error)
        if self.period is not None and self._evidence >= _EVIDENCE:
            error = abs(place_then - self.size * self._steps_between(seen_then, now) - position)
            first = math.isinf(self._step_error)
            self._step_error = error if first else self._step_error + _SCORE * (error - self._step_error)
        moved = place_then - position
        if moved > 0 and self._guess is None:
            self._guess = moved / speed
        if self._guess is None or now - seen_then >= self._guess * _PERIODS[0]:
            return
        if moved > 0:
            self.size = max(self.size, moved)
        self._evidence += 1
        self._rule_out(seen_then, now, stepped=moved > 0)

    def _rule_out(self, start: float, end: float, *, stepped: bool) -> None:
        assert self._guess is not None
        best: tuple[float, int, int] | None = None  # (how strongly ruled out, how far off the middle, row)
        middle = len(_PERIODS) // 2
        for row, scale in enumerate(_PERIODS):
            period = self._guess * scale
            against = self._against[row]
            for index in range(_BINS):
                phase = (index + 1) * period / _BINS
                between = math.floor((end - phase) / period) - math.floor((start - phase) / period)
                against[index] = against[index] * _MEMORY + ((between > 0) != stepped)
            fit = (round(min(against), 6), abs(row - middle), row)
            best = fit if best is None else min(best, fit)
        assert best is not None
        _, _, row = best
        if min(row, len(_PERIODS) - 1 - row) < _EDGE:  # the period lies beyond the ones tried: try around it
            self.period = self._guess = self._guess * _PERIODS[row]
            self._against = [[0.0] * _BINS for _ in _PERIODS]
            self._evidence = 0  # not used again until sightings have ruled out phases at the new periods
            return
        self.period = period = self._guess * _PERIODS[row]
        against = self._against[row]
        least = min(against)
        fits = [against[index] <= least + 0.5 for index in range(_BINS)]
        # The latest of the arc that fits: a fitting phase whose next one does not (the arc may wrap round).
        ends = [index for index in range(_BINS) if fits[index] and not fits[(index + 1) % _BINS]] or [_BINS - 1]
        self._phase = (ends[-1] + 1) * period / _BINS

    def _steps_between(self, start: float, end: float) -> int:
        assert self.period is not None
        return math.floor((end - self._phase) / self.period) - math.floor((start - self._phase) / self.period)

    def start(self, place: int, seen_at: float) -> float:
        """When a job seen at `place` at `seen_at` starts: the step that brings it to the front."""
        assert self.period is not None
        first = self._phase + (math.floor((seen_at - self._phase) / self.period) + 1) * self.period
        return first + (math.ceil(place / self.size) - 1) * self.period
