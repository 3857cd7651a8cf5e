"""How a job's message is edited: at most once a second, the result included, and the newest state wins.

The rules are `bot.pacing`'s, checked first on their own; then the presenter that applies them, driven
with bursts of states against the real discord.py HTTP client and the Discord stand-in.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools

import pytest

from bot.jobs import JobMessages
from bot.models import Job
from bot.pacing import BRIEF_HOLD, MIN_EDIT_GAP, SAME_STAGE_GAP, TYPICAL_RENDER, when_to_show
from bot.pixazo import DownloadedImage
from bot.progress import Progress, Stage
from bot.simulator import SimulatorSettings
from cogs.imagine.buttons import cancel_view, result_view
from cogs.imagine.presenter import DiscordPresenter
from tests.conftest import TEST_KEY
from tests.discord_standin import Recorded
from tests.harness import ALICE, GUILD, Harness
from tests.rows import hold_again

NOW = 1_000.0


def queued(position: int | None = None) -> Progress:
    return Progress(Stage.QUEUED, position=position)


def test_a_new_stage_is_shown_at_once_and_a_brief_one_only_if_it_lasts() -> None:
    assert when_to_show(None, -1e9, queued(), NOW) == NOW
    assert when_to_show(queued(4), NOW - 10, Progress(Stage.RENDERING, ends_in=10.0), NOW) == NOW + BRIEF_HOLD


def test_a_render_not_timed_yet_is_held_as_one_about_a_second_long() -> None:
    """Seen with a backlog of 160 ahead: the first jobs to render, before any render was timed, showed
    "Rendering" a second after it began, just as the image arrived, which then waited out the gap."""
    assert when_to_show(queued(4), NOW - 10, Progress(Stage.RENDERING), NOW) == NOW + TYPICAL_RENDER + BRIEF_HOLD


def test_no_edit_comes_within_a_second_of_the_last_whatever_it_shows() -> None:
    for new in (Progress(Stage.RENDERING), Progress(Stage.DELIVERING), queued(1)):
        due = when_to_show(queued(40), NOW - 0.2, new, NOW)
        assert due is not None and due >= NOW - 0.2 + MIN_EDIT_GAP


def test_a_place_in_the_same_stage_waits_for_a_real_move_and_five_seconds() -> None:
    assert when_to_show(queued(40), NOW - 1, queued(39), NOW) is None  # nothing learnt
    assert when_to_show(queued(40), NOW - 1, queued(30), NOW) == NOW - 1 + SAME_STAGE_GAP
    assert when_to_show(queued(5), NOW - 1, queued(3), NOW) == NOW - 1 + SAME_STAGE_GAP  # into the last three
    assert when_to_show(queued(), NOW - 1, queued(12), NOW) == NOW  # the first place it is known at


@pytest.fixture
def sim_settings() -> SimulatorSettings:
    return SimulatorSettings(api_key=TEST_KEY, render_seconds=0.2)


async def delivered_job(harness: Harness) -> tuple[Job, str]:
    """A job the runner has finished with (its token given back, which the row forgets, and held again, as if
    it were still at work), and the path its reply is edited at."""
    interaction = await harness.imagine("a lighthouse at dusk")
    job = await harness.final((await harness.job_of(interaction)).id)
    await hold_again(harness.config.database_url, job.id, harness.storage.worker_name)
    job = dataclasses.replace(job, delivery=dataclasses.replace(job.delivery, interaction_token=interaction.token))
    return job, rf"/webhooks/\d+/{interaction.token}/messages/"


def a_presenter(harness: Harness) -> DiscordPresenter:
    """A presenter of its own on the real bot, so the runner's presenter cannot add edits of its own."""
    return DiscordPresenter(
        harness.bot, JobMessages(harness.storage, harness.clock), result_view=result_view, waiting_view=cancel_view
    )


def edits_since(harness: Harness, path: str, count: int) -> list[Recorded]:
    return harness.standin.requests_to(path, "PATCH")[count:]


def titles(edits: list[Recorded]) -> list[str]:
    return [embed.get("title", "") for edit in edits for embed in (edit.json or {}).get("embeds") or []]


def assert_paced(edits: list[Recorded]) -> None:
    gaps = [b.at - a.at for a, b in itertools.pairwise(edits)]
    assert all(gap >= MIN_EDIT_GAP - 0.05 for gap in gaps), gaps  # arrival times at the stand-in: a little jitter


async def test_a_burst_of_states_makes_one_more_edit_and_it_shows_the_newest(harness: Harness) -> None:
    job, path = await delivered_job(harness)
    presenter = a_presenter(harness)
    before = len(harness.standin.requests_to(path, "PATCH"))
    await presenter.progress(job, queued(40))  # a new stage: at once
    for progress in (queued(30), queued(20), Progress(Stage.RENDERING), queued(10), Progress(Stage.DELIVERING)):
        await presenter.progress(job, progress)
    await asyncio.sleep(MIN_EDIT_GAP + BRIEF_HOLD + 0.5)
    await presenter.close()
    edits = edits_since(harness, path, before)
    assert titles(edits) == ["Queued, position 40", "Fetching your image…"]
    assert_paced(edits)


async def test_a_process_that_no_longer_holds_the_job_shows_nothing_of_it(harness: Harness) -> None:
    """Seen with a bot woken from a pause past its lease: its late progress edit covered the image another
    process had posted meanwhile."""
    job, path = await delivered_job(harness)
    await hold_again(harness.config.database_url, job.id, "elsewhere:1:alive")
    presenter = a_presenter(harness)
    before = len(harness.standin.requests_to(path, "PATCH"))
    await presenter.progress(job, queued(40))
    await presenter.close()
    assert edits_since(harness, path, before) == []


async def test_the_result_waits_its_turn_after_an_edit_and_replaces_what_was_pending(harness: Harness) -> None:
    job, path = await delivered_job(harness)
    presenter = a_presenter(harness)
    before = len(harness.standin.requests_to(path, "PATCH"))
    await presenter.progress(job, queued(40))
    await presenter.progress(job, Progress(Stage.RENDERING))  # pending, never to be shown
    image = DownloadedImage(data=harness.simulator.images_of(job.request_id or "")[0], content_type="image/png")
    await presenter.deliver(job, [image], await harness.ledger.usage(GUILD, ALICE))
    await asyncio.sleep(BRIEF_HOLD + 0.2)
    await presenter.close()
    edits = edits_since(harness, path, before)
    assert len(edits) == 2 and titles(edits)[0] == "Queued, position 40"
    assert edits[1].files  # the result, attached
    assert_paced(edits)


async def test_a_moving_queue_is_shown_at_a_second_apart_at_most_the_result_included(harness: Harness) -> None:
    harness.simulator.add_backlog(8)
    _, path = await delivered_job(harness)
    edits = harness.standin.requests_to(path, "PATCH")
    assert len(edits) >= 2
    assert_paced(edits)


def test_a_stage_the_job_should_leave_at_once_is_held_so_the_result_does_not_wait_behind_it() -> None:
    """Seen in the benchmark: "Rendering…" shown half a second before the image made the result wait out the
    one-second gap, a second of delivery lag for every such job."""
    queued = Progress(Stage.QUEUED, position=3)
    ending = Progress(Stage.RENDERING, ends_in=0.4)
    assert when_to_show(queued, 0.0, ending, now=10.0) == pytest.approx(10.0 + 0.4 + BRIEF_HOLD)
    assert when_to_show(queued, 0.0, Progress(Stage.RENDERING, ends_in=30.0), now=10.0) == 10.0 + BRIEF_HOLD
    assert when_to_show(None, 0.0, Progress(Stage.QUEUED, position=2, ends_in=0.5), now=10.0) == pytest.approx(11.5)
