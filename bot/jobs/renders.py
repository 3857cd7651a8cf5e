"""How long Pixazo takes to render a job, from the renders the polls happened to bracket closely.

A render is timed only where the polls bracket it closely: a job seen queued and then rendering, and
rendering and then done, each within a couple of minimum intervals. Each such job says the render took at
least (last seen rendering - first seen rendering) and at most (seen done - last seen not started); the
estimate is the least "at most" that nearly all of them agree with (the "at least" is rarely close, as a
render is seldom seen more than once). Middles of brackets would not do: a job that started the moment it
was sent is first seen rendering half a poll later, every such sample would be short by that much, and a
poll planned from a short estimate finds the job still rendering and costs another call. A job found done
at a planned poll says only that it was done by then, so it is not a sample: averaging such times would
add the bot's own lateness and make the estimate creep upwards. But a job last seen waiting and found done
within about a render of that says the render took at most that long, and these upper bounds, which
watchers make plenty of, pull down an estimate that polls in step with a lockstep queue timed long. A job
closely bracketed at its start is taken to have started as early as it can have, for the same reason.
"""

from __future__ import annotations

from collections import deque

_SAMPLES = 60  # the estimate comes from this many recent closely watched renders (fewer: a run of loosely
# bracketed ones late in a burst of jobs pushes out the tight ones, and the estimate jumps long)
_AGREEMENT = 0.1  # the ranges of all but this share of them agree on the lower and upper bounds


class RenderTimes:
    def __init__(self, poll_min: float) -> None:
        self._close = 2 * poll_min  # polls this far apart bracket a moment closely
        self._samples: deque[tuple[float, float]] = deque(maxlen=_SAMPLES)  # shortest, longest possible
        self._start_brackets: dict[int, tuple[float, float]] = {}  # last seen not started, first seen rendering
        self._last_rendering: dict[int, float] = {}

    @property
    def estimate(self) -> float | None:
        """Seconds from a job's start to its images, or None before any render was timed."""
        if not self._samples:
            return None
        shortest = sorted(low for low, _ in self._samples)
        longest = sorted(high for _, high in self._samples)
        index = round(_AGREEMENT * (len(self._samples) - 1))
        low, high = shortest[-1 - index], longest[index]  # at least, at most, by all but a few of them
        if low > high:  # renders vary more than the brackets: the middle of the middles
            middles = sorted((low + high) / 2 for low, high in self._samples)
            return middles[len(middles) // 2]
        return high

    def started_between(self, job_id: int, not_started: float, first_rendering: float) -> None:
        """The job's start was closely bracketed: it was not rendering at the one moment, and was at the other."""
        self._start_brackets[job_id] = (not_started, first_rendering)

    def seen_rendering(self, job_id: int, now: float) -> None:
        self._last_rendering[job_id] = now

    def done(self, job_id: int, now: float, *, last_waiting: float | None) -> None:
        """The job was seen done at `now`; `last_waiting` is when it was last seen queued, if ever."""
        bracket, last_rendering = self._start_brackets.get(job_id), self._last_rendering.get(job_id)
        if bracket is not None and last_rendering is not None and now - last_rendering <= self._close:
            not_started, first_rendering = bracket
            self._samples.append((last_rendering - first_rendering, now - not_started))
        elif (
            last_waiting is not None
            and (estimate := self.estimate) is not None
            and now - last_waiting <= estimate + self._close
        ):
            self._samples.append((0.0, now - last_waiting))  # seen waiting, then done: the render took at most that
        self.forget(job_id)

    def forget(self, job_id: int) -> None:
        self._start_brackets.pop(job_id, None)
        self._last_rendering.pop(job_id, None)
