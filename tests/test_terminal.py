"""`python -m bot imagine`: the terminal command as the operator runs it, against the simulator.

It charges what it delivers, settles what an interrupted run left behind, and never touches the bot's jobs.
"""

from __future__ import annotations

import asyncio
import functools
import os
import signal
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.models import Delivery, FailureKind, Job, JobRequest, JobState, ReservationState
from bot.money import Money
from bot.simulator import BASE_PATH, Endpoint, Fault, FaultKind, Simulator, SimulatorSettings
from bot.storage import open_sqlite
from tests.conftest import TEST_KEY, Serve
from tests.harness import DISCORD_TOKEN

ROOT = Path(__file__).resolve().parent.parent
PRICE = Money(8_000)


@pytest.fixture
def sim_settings() -> SimulatorSettings:
    return SimulatorSettings(api_key=TEST_KEY, render_seconds=0.05, concurrency=4)


def environment(tmp_path: Path, sim_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "DISCORD_TOKEN": DISCORD_TOKEN,
        "PIXAZO_API_KEY": TEST_KEY,
        "PIXAZO_BASE_URL": sim_url,
        "DATABASE_URL": f"sqlite:///{tmp_path}/imagine.db",
        "POLL_MIN_SECONDS": "0.05",
        "POLL_MAX_SECONDS": "0.2",
    }


async def start(tmp_path: Path, sim_url: str, *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "imagine",
        *args,
        env=environment(tmp_path, sim_url),
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        # Ctrl-C is what a test sends: a run started from a background job would otherwise inherit SIGINT ignored.
        preexec_fn=functools.partial(signal.signal, signal.SIGINT, signal.SIG_DFL),
    )


async def run(tmp_path: Path, sim_url: str, *args: str) -> tuple[int, str]:
    process = await start(tmp_path, sim_url, *args)
    _, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, stderr.decode()


async def jobs_and_charged(path: Path) -> tuple[list[Job], Money, Money]:
    """Every job, the total charged, and what is still reserved."""
    storage = await open_sqlite(path)
    try:
        async with storage.transaction() as tx:
            jobs = await tx.jobs.by_state(list(JobState))
            charged = await tx.spend.total_charged()
            reservations = [await tx.spend.get(job.reservation_id) for job in jobs if job.reservation_id]
    finally:
        await storage.close()
    reserved = sum((r.amount for r in reservations if r is not None and r.state is ReservationState.RESERVED), Money(0))
    return jobs, charged, reserved


async def test_ten_terminal_runs_in_a_row_are_each_delivered_and_charged(tmp_path: Path, sim_url: str) -> None:
    for n in range(10):
        code, stderr = await run(tmp_path, sim_url, f"fox {n}", "-o", str(tmp_path / f"fox-{n}.png"))
        assert code == 0, stderr
        assert (tmp_path / f"fox-{n}.png").read_bytes().startswith(b"\x89PNG")
    jobs, charged, reserved = await jobs_and_charged(tmp_path / "imagine.db")
    assert [job.state for job in jobs] == [JobState.DELIVERED] * 10
    assert all(job.images_delivered == 1 for job in jobs)
    assert (charged, reserved) == (10 * PRICE, Money(0))


async def test_an_output_that_cannot_be_written_is_refused_before_anything_is_sent(
    tmp_path: Path, sim_url: str, simulator: Simulator
) -> None:
    (tmp_path / "a-folder.png").mkdir()
    for output in (tmp_path / "missing" / "fox.png", tmp_path / "a-folder.png"):
        code, stderr = await run(tmp_path, sim_url, "a fox", "-o", str(output))
        assert code == 1
        assert stderr.count("\n") == 1 and "Traceback" not in stderr and str(output) in stderr, stderr
    assert simulator.count(Endpoint.SUBMIT) == 0
    jobs, _, reserved = await jobs_and_charged(tmp_path / "imagine.db")
    assert (jobs, reserved) == ([], Money(0))


async def test_ctrl_c_settles_the_job_at_once_charged_when_pixazo_has_it(
    tmp_path: Path, sim_url: str, simulator: Simulator
) -> None:
    simulator.add_backlog(400)  # it waits in Pixazo's queue long enough to be interrupted there
    process = await start(tmp_path, sim_url, "a patient fox", "-o", str(tmp_path / "fox.png"))
    assert process.stderr is not None
    while b"Queued" not in await asyncio.wait_for(process.stderr.readline(), 30):
        pass
    process.send_signal(signal.SIGINT)
    _, rest = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 130, rest.decode()
    assert "stopped before it finished" in rest.decode() and "Traceback" not in rest.decode()
    (job,), charged, reserved = await jobs_and_charged(tmp_path / "imagine.db")
    assert (job.state, job.failure_kind, charged, reserved) == (JobState.FAILED, FailureKind.ABANDONED, PRICE, Money(0))


async def test_a_killed_run_is_settled_by_the_next_and_the_bots_jobs_are_left_alone(
    tmp_path: Path, serve: Serve
) -> None:
    simulator = Simulator(SimulatorSettings(api_key=TEST_KEY, render_seconds=0.05, queue_depth=400))
    sim_url = await serve(simulator.app) + BASE_PATH
    path = tmp_path / "imagine.db"
    storage = await open_sqlite(path)
    now = datetime.now(UTC)
    async with storage.transaction() as tx:  # one of the Discord bot's jobs, queued at Pixazo
        reservation = await tx.spend.reserve(
            guild_id=9,
            member_id=9,
            day=now.date().isoformat(),
            utc_day=now.date().isoformat(),
            unit_price=PRICE,
            images=1,
            now=now,
        )
        bots = await tx.jobs.insert(
            JobRequest(9, 9, 9, "the bot's fox", "square", "square_1_1"),
            reservation=reservation,
            delivery=Delivery(),
            now=now,
        )
        bots = await tx.jobs.update(bots.id, now, state=JobState.QUEUED, request_id="elsewhere")  # type: ignore[assignment]
    await storage.close()

    process = await start(tmp_path, sim_url, "a doomed fox", "-o", str(tmp_path / "doomed.png"))
    assert process.stderr is not None
    while b"Queued" not in await asyncio.wait_for(process.stderr.readline(), 30):
        pass
    process.kill()
    await process.wait()
    simulator.clear_faults()
    simulator.jobs.clear()

    fast = Simulator(SimulatorSettings(api_key=TEST_KEY, render_seconds=0.05))
    code, stderr = await run(tmp_path, await serve(fast.app) + BASE_PATH, "a lucky fox", "-o", str(tmp_path / "ok.png"))
    assert code == 0, stderr
    jobs, charged, reserved = await jobs_and_charged(path)
    by_prompt = {job.request.prompt: job for job in jobs}
    assert (by_prompt["a doomed fox"].state, by_prompt["a doomed fox"].failure_kind) == (
        JobState.FAILED,
        FailureKind.ABANDONED,
    )
    assert by_prompt["a lucky fox"].state is JobState.DELIVERED
    assert by_prompt["the bot's fox"] == bots  # untouched
    assert charged == 2 * PRICE and reserved == PRICE  # the doomed one was at Pixazo: charged; the bot's stays
    asked = [r.body.get("request_id") for r in fast.requests if isinstance(r.body, dict)]
    assert "elsewhere" not in asked  # the bot's job was never polled by the terminal


async def run_on_a_terminal(tmp_path: Path, sim_url: str, *args: str, env: dict[str, str]) -> tuple[int, str]:
    """Run `imagine` with stderr on a pseudo-terminal, as an operator's shell would; return what it showed."""
    import pty

    controller, terminal = pty.openpty()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "imagine", *args,
        env=environment(tmp_path, sim_url) | env, cwd=tmp_path, stderr=terminal, stdout=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    os.close(terminal)
    shown = bytearray()

    def read_all() -> None:
        while True:
            try:
                chunk = os.read(controller, 4096)
            except OSError:  # the process has gone and closed its end
                return
            if not chunk:
                return
            shown.extend(chunk)

    await asyncio.gather(asyncio.to_thread(read_all), process.wait())
    os.close(controller)
    assert process.returncode is not None
    return process.returncode, shown.decode()


async def test_on_a_terminal_progress_is_one_line_that_rewrites_itself(
    tmp_path: Path, sim_url: str, simulator: Simulator
) -> None:
    simulator.add_backlog(8)
    code, shown = await run_on_a_terminal(tmp_path, sim_url, "a fox", "-o", "fox.png", env={"LOG_LEVEL": ""})
    assert code == 0, shown
    lines = shown.replace("\r\n", "\n").split("\n")
    assert [line for line in lines if line.strip()] == [lines[0]], shown  # one line, rewritten with \r
    assert lines[0].count("\r\x1b[K") >= 3 and "Queued" in lines[0] and "Saved fox.png" in lines[0]


async def test_the_env_example_leaves_the_terminal_command_quiet(tmp_path: Path, sim_url: str) -> None:
    (tmp_path / ".env").write_text((ROOT / ".env.example").read_text())  # the quick start's cp .env.example .env
    env = {key: value for key, value in environment(tmp_path, sim_url).items() if key != "LOG_LEVEL"}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "imagine", "a fox", "-o", "fox.png",
        env=env, cwd=tmp_path, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, stderr.decode()
    assert "INFO" not in stderr.decode() and "Saved fox.png" in stderr.decode()


async def test_on_a_terminal_a_warning_starts_a_line_of_its_own(
    tmp_path: Path, sim_url: str, simulator: Simulator
) -> None:
    simulator.add_backlog(4)
    simulator.inject(Endpoint.RESULT, Fault(FaultKind.STATUS, status=500))  # retried, with a warning
    code, shown = await run_on_a_terminal(tmp_path, sim_url, "a fox", "-o", "fox.png", env={"LOG_LEVEL": ""})
    assert code == 0, shown
    (warning,) = [line for line in shown.replace("\r\n", "\n").split("\n") if "WARNING" in line]
    assert "Sending" not in warning and "Queued" not in warning, shown  # not glued to the progress line
