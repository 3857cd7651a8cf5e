"""Money as whole micro-dollars (1 USD = 1,000,000), parsed and printed without floats."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.errors import InvalidAmountError

MICROS_PER_DOLLAR = 1_000_000
MAX_AMOUNT_CHARS = 20
_AMOUNT = re.compile(r"(?P<sign>-)?\$?(?P<whole>\d*)(?:\.(?P<frac>\d*))?")


@dataclass(frozen=True, order=True, slots=True)
class Money:
    """An exact amount of US dollars, held as an integer number of micro-dollars."""

    micros: int

    @classmethod
    def zero(cls) -> Money:
        return cls(0)

    @classmethod
    def parse(cls, text: str) -> Money:
        """Read a non-negative dollar amount such as ``0.008``, ``$0.05`` or ``12`` (any decimal digits, ``１２``).

        Raises `InvalidAmountError` with a sentence fit to show the person who typed it.
        """
        cleaned = text.strip()
        match = _AMOUNT.fullmatch(cleaned) if len(cleaned) <= MAX_AMOUNT_CHARS else None
        if match is None or not (match["whole"] or match["frac"]):
            raise InvalidAmountError(f"“{_excerpt(text)}” is not a dollar amount; write it like 0.05 or $1.20.")
        if match["sign"]:
            raise InvalidAmountError("Amounts cannot be negative.")
        frac = match["frac"] or ""
        if len(frac) > 6:
            raise InvalidAmountError("Amounts can have at most six decimals (a micro-dollar).")
        whole = int(match["whole"] or "0")
        if whole > 1_000_000_000:
            raise InvalidAmountError("That amount is too large.")
        return cls(whole * MICROS_PER_DOLLAR + int(frac.ljust(6, "0")))

    def __add__(self, other: Money) -> Money:
        return Money(self.micros + other.micros)

    def __sub__(self, other: Money) -> Money:
        return Money(self.micros - other.micros)

    def __mul__(self, times: int) -> Money:
        return Money(self.micros * times)

    __rmul__ = __mul__

    def __floordiv__(self, parts: int) -> Money:
        """One of `parts` equal shares, rounded down to the micro-dollar."""
        return Money(self.micros // parts)

    def __truediv__(self, other: Money) -> float:
        """What fraction of `other` this is (for drawing, never for money)."""
        return self.micros / other.micros

    def __bool__(self) -> bool:
        return self.micros != 0

    def remaining_after(self, used: Money) -> Money:
        """What is left of this amount once `used` of it is spent: never below zero."""
        return Money(max(0, self.micros - used.micros))

    def dollars(self, decimals: int = 6) -> str:
        """Plain decimal dollars with a fixed number of places, for CSV: ``0.008000``."""
        sign = "-" if self.micros < 0 else ""
        whole, frac = divmod(abs(self.micros), MICROS_PER_DOLLAR)
        digits = f"{frac:06d}"[:decimals]
        return f"{sign}{whole}.{digits}" if decimals else f"{sign}{whole}"

    def __str__(self) -> str:
        """For people: at least cents, more places only when they matter (``$0.008``, ``$1.20``)."""
        sign = "-" if self.micros < 0 else ""
        whole, frac = divmod(abs(self.micros), MICROS_PER_DOLLAR)
        digits = f"{frac:06d}".rstrip("0").ljust(2, "0")
        return f"{sign}${whole:,}.{digits}"


def _excerpt(text: str, limit: int = 20) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
