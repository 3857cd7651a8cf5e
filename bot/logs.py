"""Log set-up helpers that need no Discord: a JSON formatter and a filter that blanks secrets."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable
from datetime import UTC, datetime

# Interaction tokens ride in webhook and callback URLs that discord.py logs at DEBUG.
_TOKEN_IN_URL = re.compile(r"(/(?:webhooks|interactions)/\d+/)[A-Za-z0-9._-]{20,}")


class RedactSecrets(logging.Filter):
    """Replace every known secret, and interaction tokens in URLs, with asterisks."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self._secrets = [secret for secret in secrets if secret]

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = self.clean(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and record.exc_info[1] is not None:
            text = self.clean(str(record.exc_info[1]))
            if text != str(record.exc_info[1]):
                record.exc_text = self.clean(logging.Formatter().formatException(record.exc_info))
        return True

    def clean(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "********")
        return _TOKEN_IN_URL.sub(r"\1********", text)


class JsonFormatter(logging.Formatter):
    """One JSON object per line, for log collectors."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = record.exc_text or self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)
