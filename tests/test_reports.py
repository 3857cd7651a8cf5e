"""The spend report's CSV: the documented columns, exact dollars, and cells a spreadsheet cannot run."""

from __future__ import annotations

import csv
import io

import pytest

from bot.models import SpendReport, SpendRow
from bot.money import Money
from bot.reports import spend_csv

ROWS = (SpendRow("2026-11-26", 42, 2, Money(16_000)),)


def report(name: str) -> SpendReport:
    return SpendReport(1, "2026-11-26", "2026-11-26", ROWS, {42: name})


def rows(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode(), newline="")))


def test_the_csv_has_the_documented_columns_and_exact_dollars() -> None:
    assert rows(spend_csv(report("Ada"))) == [
        ["date", "member_id", "member_name", "images", "spent_usd"],
        ["2026-11-26", "42", "Ada", "2", "0.016000"],
    ]


@pytest.mark.parametrize(
    "name",
    ['=HYPERLINK("http://x")', "+1+1", "-2+3", "@SUM(A1)", "\tTab", "\rReturn", "=cmd|' /C calc'!A0"],
)
def test_a_name_a_spreadsheet_would_run_as_a_formula_is_written_as_text(name: str) -> None:
    (_, row) = rows(spend_csv(report(name)))
    assert row[2] == "'" + name


@pytest.mark.parametrize("name", ["Ada", "Ada = Bob", "a-b", "日本", ""])
def test_ordinary_names_are_written_as_they_are(name: str) -> None:
    (_, row) = rows(spend_csv(report(name)))
    assert row[2] == name
