"""Spend reports as files: a CSV of spend per member per day, and a bar chart of spend per day."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

from PIL import Image, ImageDraw, ImageFont

from bot.models import SpendReport
from bot.money import Money

CSV_COLUMNS = ("date", "member_id", "member_name", "images", "spent_usd")
_WIDTH, _HEIGHT = 900, 420
_MARGIN_LEFT, _MARGIN_RIGHT, _MARGIN_TOP, _MARGIN_BOTTOM = 90, 30, 50, 60
_BAR = (88, 101, 242)
_INK = (35, 39, 42)
_GRID = (220, 222, 226)
_FORMULA_STARTS = frozenset("=+-@\t\r")


def spend_csv(report: SpendReport) -> bytes:
    """``date,member_id,member_name,images,spent_usd``: one row per member per day, oldest first."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")  # RFC 4180; a name with a bare \r gets quoted too
    writer.writerow(CSV_COLUMNS)
    for row in report.rows:
        name = _as_text(report.names.get(row.member_id, ""))
        writer.writerow([row.day, row.member_id, name, row.images, row.spent.dollars()])
    return out.getvalue().encode()


def _as_text(cell: str) -> str:
    """A cell a spreadsheet would read as a formula, written as text (OWASP's advice on CSV injection).

    Member names are members' own text, so one called ``=HYPERLINK(…)`` must not become a link to click.
    """
    return "'" + cell if cell[:1] in _FORMULA_STARTS else cell


def daily_totals(report: SpendReport) -> list[tuple[str, Money]]:
    """Spend per day for every day of the report, the quiet ones included."""
    spent = dict(report.by_day())
    first, last = date.fromisoformat(report.first_day), date.fromisoformat(report.last_day)
    days = [(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]
    return [(day, spent.get(day, Money.zero())) for day in days]


def spend_chart(report: SpendReport, title: str) -> bytes:
    """A PNG bar chart of spend per day."""
    days = daily_totals(report)
    image = Image.new("RGB", (_WIDTH, _HEIGHT), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=14)
    draw.text((_MARGIN_LEFT, 15), title, fill=_INK, font=ImageFont.load_default(size=18))
    top, bottom = _MARGIN_TOP, _HEIGHT - _MARGIN_BOTTOM
    left, right = _MARGIN_LEFT, _WIDTH - _MARGIN_RIGHT
    highest = max((spent for _, spent in days), default=Money.zero()) or Money.parse("0.01")
    scale_top = _nice_ceiling(highest)
    for step in range(5):
        value = scale_top * step // 4
        y = bottom - (bottom - top) * step / 4
        draw.line([(left, y), (right, y)], fill=_GRID)
        label = str(value)
        draw.text((left - 8 - draw.textlength(label, font=font), y - 8), label, fill=_INK, font=font)
    slot = (right - left) / max(1, len(days))
    label_every = max(1, len(days) // 12)
    for index, (day, spent) in enumerate(days):
        x0 = left + index * slot + slot * 0.15
        x1 = left + (index + 1) * slot - slot * 0.15
        height = (bottom - top) * (spent / scale_top)
        if spent:
            draw.rectangle([(x0, bottom - height), (x1, bottom)], fill=_BAR)
        if index % label_every == 0:
            label = day[5:]
            draw.text(((x0 + x1) / 2 - draw.textlength(label, font=font) / 2, bottom + 8), label, fill=_INK, font=font)
    draw.line([(left, bottom), (right, bottom)], fill=_INK)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def _nice_ceiling(amount: Money) -> Money:
    """A round amount at or above `amount` for the top of the scale: 1, 2 or 5 times a power of ten."""
    magnitude = Money(1)
    while magnitude * 10 <= amount:
        magnitude *= 10
    for factor in (1, 2, 5, 10):
        if magnitude * factor >= amount:
            return magnitude * factor
    return magnitude * 10
