"""The poll planner alone, against the simulator's queue, in virtual time: lag and result calls per job.

    python bench/planner_replay.py [--members 200] [--backlog 0] [--processes 1] [--interleave alternate|random]
                                   [--seeds 20] [--spread 0.3]

`imagine_bench.py` measures the whole bot and takes half a minute a run, and its figures move with the
machine's load. This replays only `QueueModel`, as `Lifecycle._poll` drives it (a look at `next_look`, a
result call when `worth_asking` says so, `queued`/`rendering`/`done` with what the call saw), against the
simulator's own queue (`--concurrency` renderers of `--render-seconds` each, `--backlog` other customers'
jobs ahead, the members' submits spread over `--spread` seconds; each result call takes 4 ms plus a random
`--jitter`, 10 ms on average as in imagine_bench, and its answer tells the queue at a random moment within
it). No clock is real, so a run of 200 jobs
takes a tenth of a second and the same seed gives the same figures: a planner change can be judged over
many seeds at once, before the bench confirms it.

`--processes N` gives each process its own model and its share of the jobs (taking turns, or at random,
as the members of several shards reach Pixazo); they share the one queue. Prints one JSON line: over the
seeds, the median and worst of each run's delivery lag p99 (Pixazo done to the call that sees it, ms),
the median lag p50, and the mean and worst result calls per job. The bench adds about 2 calls per job
(the submit and the image download) and a few ms of delivery to these.
"""

from __future__ import annotations

import argparse
import bisect
import heapq
import itertools
import json
import random
import statistics
import sys
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.jobs.planner import QueueModel

ROUND_TRIP = 0.004  # seconds a result call takes at least; the answer is what the queue was at some moment in it


@dataclass(frozen=True, slots=True)
class Load:
    members: int = 200
    backlog: int = 0
    concurrency: int = 8
    render_seconds: float = 1.0
    spread: float = 0.3
    processes: int = 1
    interleave: str = "alternate"
    poll_min: float = 0.5
    poll_max: float = 30.0  # the bot's own default (POLL_MAX_SECONDS), as imagine_bench runs it
    jitter: float = 0.01  # mean seconds a call takes beyond ROUND_TRIP (imagine_bench's backlog run: p50 9 ms)


@dataclass(slots=True)
class _Queue:
    """The simulator's schedule: each job starts when a renderer is free, in the order they arrived."""

    load: Load
    free: list[float] = field(default_factory=list)
    starts: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.free = [0.0] * self.load.concurrency
        for _ in range(self.load.backlog):
            self.add(0.0)

    def add(self, now: float) -> tuple[int, float]:
        start = max(now, heapq.heappop(self.free))
        heapq.heappush(self.free, start + self.load.render_seconds)
        self.starts.append(start)
        return len(self.starts) - 1, start

    def position(self, index: int, now: float) -> int:
        return index - bisect.bisect_right(self.starts, now, 0, index) + 1


def replay(load: Load, seed: int) -> tuple[list[float], float]:
    """Each job's lag (seconds) and the result calls per job, for one seed."""
    rng = random.Random(seed)
    models = [QueueModel(load.poll_min, load.poll_max) for _ in range(load.processes)]
    owners = [
        rng.randrange(load.processes) if load.interleave == "random" else job % load.processes
        for job in range(load.members)
    ]
    queue = _Queue(load)
    order = itertools.count()
    events = [(t, next(order), job) for job, t in enumerate(sorted(0.02 + rng.random() * load.spread for _ in owners))]
    heapq.heapify(events)
    placed: dict[int, tuple[int, float]] = {}  # job: its place in the queue, when it starts
    rendering: set[int] = set()
    lags: list[float] = []
    calls = 0
    while events:
        now, _, job = heapq.heappop(events)
        model = models[owners[job]]
        if job not in placed:  # its submit
            placed[job] = queue.add(now)
            now += ROUND_TRIP
            model.submitted(job, now)
        elif not model.worth_asking(job, now, rendering=job in rendering):
            pass  # learnt since: not yet
        else:
            model.asked(job, now)
            calls += 1
            index, start = placed[job]
            asked, took = now, ROUND_TRIP + (rng.expovariate(1 / load.jitter) if load.jitter else 0.0)
            seen, now = now + rng.random() * took, now + took
            if seen >= start + load.render_seconds:
                model.done(job, now)
                lags.append(now - start - load.render_seconds)
                continue
            if seen >= start:
                rendering.add(job)
                model.rendering(job, now, asked=asked)
            else:
                model.queued(job, queue.position(index, seen), now, asked=asked)
        wait = max(0.001, model.next_look(job, now, rendering=job in rendering))
        heapq.heappush(events, (now + wait, next(order), job))
    return lags, calls / load.members


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def figures(load: Load, seeds: int) -> dict[str, object]:
    runs = [replay(load, seed) for seed in range(seeds)]
    p99s = [_percentile(lags, 0.99) * 1000 for lags, _ in runs]
    per_job = [calls for _, calls in runs]
    return {
        "members": load.members,
        "backlog": load.backlog,
        "processes": load.processes,
        "interleave": load.interleave,
        "seeds": seeds,
        "lag_p50_ms_median": round(statistics.median(_percentile(lags, 0.5) * 1000 for lags, _ in runs), 1),
        "lag_p99_ms_median": round(statistics.median(p99s), 1),
        "lag_p99_ms_worst": round(max(p99s), 1),
        "result_calls_per_job_mean": round(statistics.mean(per_job), 3),
        "result_calls_per_job_worst": round(max(per_job), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=200)
    parser.add_argument("--backlog", type=int, default=0, help="other customers' jobs ahead")
    parser.add_argument("--concurrency", type=int, default=8, help="jobs the simulator renders at once")
    parser.add_argument("--render-seconds", type=float, default=1.0)
    parser.add_argument("--spread", type=float, default=0.3, help="seconds over which the members' submits arrive")
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--interleave", choices=["alternate", "random"], default="alternate")
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--jitter", type=float, default=Load().jitter, help="mean seconds a call takes beyond 4 ms")
    args = parser.parse_args()
    load = Load(
        args.members,
        args.backlog,
        args.concurrency,
        args.render_seconds,
        args.spread,
        args.processes,
        args.interleave,
        jitter=args.jitter,
    )
    print(json.dumps(figures(load, args.seeds)))


if __name__ == "__main__":
    main()
