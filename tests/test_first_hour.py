"""The operator's first hour: every start-up failure is one readable line and a non-zero exit, never a traceback.

Each case runs the real command as its own process, the way an operator would, and checks what they see:
the exit code, one line on stderr naming the problem, and the database file as it was.
"""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
from pathlib import Path

import pytest

from bot.storage import Storage
from tests.test_operations import base_env, run_bot


def assert_one_line(result: subprocess.CompletedProcess[str], *words: str) -> str:
    """The process failed with exactly one line on stderr that holds every one of `words`."""
    assert result.returncode not in (0, None), result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def quiet_env(tmp_path: Path, **settings: str) -> dict[str, str]:
    """The test settings with logs at WARNING, so whatever stderr holds is the failure itself."""
    return base_env(tmp_path) | {"LOG_LEVEL": "WARNING"} | settings


# --- the database -----------------------------------------------------------------------------------


def test_a_database_url_naming_a_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "imagine.db").mkdir()
    result = run_bot(env=quiet_env(tmp_path, DATABASE_URL="sqlite:///imagine.db"), cwd=tmp_path)
    assert_one_line(result, "imagine.db", "folder", "DATABASE_URL")
    assert not any((tmp_path / "imagine.db").iterdir())


@pytest.mark.parametrize("content", [b"hello, I am a shopping list\n", b"\x00" * 4096])
def test_a_file_that_is_not_sqlite_is_refused_and_left_as_it_was(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "notes.db"
    path.write_bytes(content)
    result = run_bot(env=quiet_env(tmp_path, DATABASE_URL="sqlite:///notes.db"), cwd=tmp_path)
    assert_one_line(result, "notes.db is not an imagine-bot database", "point DATABASE_URL at another file")
    assert path.read_bytes() == content
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.db"]


def test_another_programs_sqlite_database_is_refused_and_left_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE recipes (name TEXT)")
    conn.close()
    before = path.read_bytes()
    result = run_bot(env=quiet_env(tmp_path, DATABASE_URL="sqlite:///other.db"), cwd=tmp_path)
    assert_one_line(result, "other.db is not an imagine-bot database")
    assert path.read_bytes() == before


async def test_a_database_from_a_newer_version_is_refused_and_left_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "imagine.db"
    await (await Storage.open(path)).close()
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA user_version = 999")
    conn.close()
    before = path.read_bytes()
    result = await asyncio.to_thread(
        run_bot, env=quiet_env(tmp_path, DATABASE_URL="sqlite:///imagine.db"), cwd=tmp_path
    )
    assert_one_line(result, "newer", "999")
    assert path.read_bytes() == before


def test_a_missing_folder_is_refused_rather_than_starting_an_empty_ledger_elsewhere(tmp_path: Path) -> None:
    result = run_bot(env=quiet_env(tmp_path, DATABASE_URL="sqlite:///dta/imagine.db"), cwd=tmp_path)
    assert_one_line(result, "dta", "does not exist", "DATABASE_URL")
    assert not (tmp_path / "dta").exists()


def test_the_default_data_folder_that_cannot_be_created_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "data").write_text("a file where the folder should be")
    env = quiet_env(tmp_path)
    del env["DATABASE_URL"]
    result = run_bot(env=env, cwd=tmp_path)
    assert_one_line(result, "data", "DATABASE_URL")
    assert (tmp_path / "data").read_text() == "a file where the folder should be"


def test_check_reports_an_unusable_database_in_its_table(tmp_path: Path) -> None:
    (tmp_path / "notes.db").write_bytes(b"not a database")
    result = run_bot("check", env=quiet_env(tmp_path, DATABASE_URL="sqlite:///notes.db"), cwd=tmp_path)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert "is not an imagine-bot database" in result.stdout
    assert (tmp_path / "notes.db").read_bytes() == b"not a database"
