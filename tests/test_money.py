from __future__ import annotations

import pytest

from bot.errors import InvalidAmountError
from bot.money import Money


@pytest.mark.parametrize(
    ("text", "micros"),
    [
        ("0.008", 8_000),
        ("$0.05", 50_000),
        ("0.05", 50_000),
        ("1", 1_000_000),
        ("12.00", 12_000_000),
        (" 1.2 ", 1_200_000),
        (".5", 500_000),
        ("3.", 3_000_000),
        ("0.000001", 1),
        ("0", 0),
        ("0.1", 100_000),  # a float would make this 0.1000000000000000055…
        ("１０", 10_000_000),  # any Unicode decimal digits, read exactly
        ("٠٫٥".replace("٫", "."), 500_000),
        ("  $000999999999.000001  ", 999_999_999_000_001),  # twenty characters once trimmed: still read
    ],
)
def test_parse_reads_dollars_exactly(text: str, micros: int) -> None:
    assert Money.parse(text) == Money(micros)


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("0.0000001", "six decimals"),
        ("-1", "negative"),
        ("-$0.05", "negative"),
        ("abc", "not a dollar amount"),
        ("", "not a dollar amount"),
        ("$", "not a dollar amount"),
        ("1e3", "not a dollar amount"),
        ("1.2.3", "not a dollar amount"),
        ("nan", "not a dollar amount"),
        ("1,5", "not a dollar amount"),  # a decimal comma must not become fifteen dollars
        ("1" * 5000, "not a dollar amount"),  # more digits than Python will turn into a number
        ("0." + "0" * 19, "not a dollar amount"),  # over twenty characters
    ],
)
def test_parse_refuses_with_a_clear_reason(text: str, complaint: str) -> None:
    with pytest.raises(InvalidAmountError, match=complaint):
        Money.parse(text)


@pytest.mark.parametrize(
    ("micros", "shown"),
    [
        (8_000, "$0.008"),
        (80_000, "$0.08"),
        (1_200_000, "$1.20"),
        (12_000_000, "$12.00"),
        (0, "$0.00"),
        (1, "$0.000001"),
        (32_000, "$0.032"),
        (1_234_567_890_000, "$1,234,567.89"),
        (-50_000, "-$0.05"),
    ],
)
def test_str_shows_dollars_for_people(micros: int, shown: str) -> None:
    assert str(Money(micros)) == shown


def test_dollars_gives_fixed_places_for_csv() -> None:
    assert Money(8_000).dollars() == "0.008000"
    assert Money(12_000_000).dollars(2) == "12.00"


def test_arithmetic_stays_exact() -> None:
    price = Money.parse("0.008")
    assert price * 4 == Money(32_000)
    assert 3 * price == Money(24_000)
    assert sum((price for _ in range(10)), Money.zero()) == Money.parse("0.08")
    assert price - Money(10_000) == Money(-2_000)
