"""Checking prompts before anything is spent: what is kept, what is refused as empty."""

from __future__ import annotations

import pytest

from bot.errors import InvalidRequestError
from bot.prompts import clean_prompt

EMPTY = "Your prompt is empty; describe the image you want."


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   \n\t ",
        "\u200d",  # a zero-width joiner alone
        "\u200d\u200d\u200d \u200d",
        "\u200b\u200c\u200d\ufeff\u2060",  # zero-width space, non-joiner, joiner, BOM, word joiner
        "\u3164\u3164",  # Hangul fillers: letters that show nothing
        "\u2800 \u115f\u1160\uffa0",  # a blank braille pattern and more fillers
        "\u034f\u180e",  # a combining grapheme joiner and the Mongolian vowel separator
        "\x00\x01\u202e",
    ],
)
def test_a_prompt_with_nothing_visible_is_refused_as_empty(text: str) -> None:
    with pytest.raises(InvalidRequestError, match=EMPTY):
        clean_prompt(text)


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("a family: 👨\u200d👩\u200d👧", "a family: 👨\u200d👩\u200d👧"),  # the joiner that builds the emoji stays
        ("\u200da fox\u200d", "a fox"),  # joiners at the edges join nothing
        ("🦊", "🦊"),
        ("a\u200bfox", "afox"),
        ("  two\n\n lines  ", "two\nlines"),
    ],
)
def test_visible_text_is_kept_with_its_joiners(text: str, kept: str) -> None:
    assert clean_prompt(text) == kept
