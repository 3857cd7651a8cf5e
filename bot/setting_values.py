"""What a setting's value must look like: each parser takes the raw text and returns the value, or raises
`ValueError` with the end of a sentence that starts with the variable's name ("… must be a whole number")."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

import yarl

from bot.errors import InvalidAmountError
from bot.money import Money


def http_url(raw: str) -> str:
    url = yarl.URL(raw)
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError("must be an http:// or https:// URL")
    return raw.rstrip("/")


def url_without_credentials(raw: str) -> str:
    if yarl.URL(raw).user is not None:
        raise ValueError("must not hold a user name or password (discord.py sends the token in its own header)")
    return http_url(raw)


def ws_url(raw: str) -> str:
    url = yarl.URL(raw)
    if url.scheme not in ("ws", "wss") or not url.host:
        raise ValueError("must be a ws:// or wss:// URL")
    return raw


def host(raw: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9.:\[\]-]+", raw):
        raise ValueError("must be an address to listen on, such as 127.0.0.1 or 0.0.0.0")
    return raw


def money(raw: str) -> Money:
    try:
        return Money.parse(raw)
    except InvalidAmountError as exc:
        raise ValueError(f"must be a dollar amount such as 0.08: {str(exc).rstrip('.')}") from None


def positive_money(raw: str) -> Money:
    amount = money(raw)
    if not amount:
        raise ValueError("must be more than zero")
    return amount


def log_level(raw: str) -> str:
    level = raw.upper()
    if level not in logging.getLevelNamesMapping():
        raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
    return level


def choice(*options: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        if raw.lower() not in options:
            raise ValueError("must be one of " + ", ".join(options))
        return raw.lower()

    return parse


def int_between(low: int, high: int) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise ValueError("must be a whole number") from None
        if not low <= value <= high:
            raise ValueError(f"must be between {low} and {high}")
        return value

    return parse


def number_between(low: float, high: float) -> Callable[[str], float]:
    def parse(raw: str) -> float:
        try:
            value = float(raw)
        except ValueError:
            raise ValueError("must be a number") from None
        if not low <= value <= high:
            raise ValueError(f"must be between {low:g} and {high:g}")
        return value

    return parse


def id_ranges(raw: str) -> tuple[int, ...]:
    """``0-3,8``: ids and inclusive ranges of them, each once, in order."""
    ids: list[int] = []
    for part in raw.split(","):
        first, dash, last = part.strip().partition("-")
        try:
            low, high = int(first), int(last if dash else first)
        except ValueError:
            raise ValueError("must be ids and ranges of them, like 0-3,8") from None
        if low < 0 or high < low:
            raise ValueError(f"has a range that runs backwards or below 0: {part.strip()}")
        ids.extend(range(low, high + 1))
    if len(set(ids)) != len(ids):
        raise ValueError("names a shard twice")
    return tuple(sorted(ids))
