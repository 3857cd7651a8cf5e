"""What start-up refuses before it touches anything, each as one line for the operator (`StartupError`)."""

from __future__ import annotations

import errno
from pathlib import Path

from bot.errors import StartupError

DEFAULT_DATABASE_FOLDER = Path("data")


def check_database_folder(database: Path) -> None:
    """Only the default ``data/`` folder is created: any other folder that is missing is more likely a typo
    than a wish for a new, empty ledger."""
    folder = database.parent
    if folder == DEFAULT_DATABASE_FOLDER or folder.is_dir():
        return
    raise StartupError(
        f"the folder {folder} in DATABASE_URL does not exist: create it, or fix DATABASE_URL "
        f"(only the default {DEFAULT_DATABASE_FOLDER}/ is created by the bot)."
    )


def port_problem(setting: str, port: int, exc: OSError) -> StartupError:
    """The line for a port the process could not listen on."""
    if exc.errno == errno.EADDRINUSE:
        return StartupError(
            f"port {port} ({setting}) is already in use, perhaps by another imagine-bot: "
            f"stop that, or choose another {setting}."
        )
    return StartupError(f"cannot listen on port {port} ({setting}): {exc.strerror or exc}.")
