"""Checking what a member typed before anything is spent: the prompt and the options of `/imagine`."""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping

from bot.errors import InvalidRequestError
from bot.pixazo.wire import MAX_IMAGES

MAX_PROMPT_CHARS = 1500
MAX_SEED = 2**31 - 1
_ZERO_WIDTH_JOINER = "\u200d"  # kept between visible characters: emoji sequences are built with it
# Letters and marks that show nothing: fillers some scripts have, a blank braille cell, a combining joiner.
_INVISIBLE = frozenset("\u115f\u1160\u3164\uffa0\u2800\u034f\u17b4\u17b5")


def clean_prompt(text: str) -> str:
    """The prompt without control or invisible characters and with tidy white space; refused if unusable."""
    kept = []
    for char in text:
        category = unicodedata.category(char)
        if char in "\n\t":
            kept.append(" " if char == "\t" else char)
        elif char in _INVISIBLE or (category.startswith("C") and char != _ZERO_WIDTH_JOINER):
            continue  # control, format (zero-width and direction marks), private use, unassigned, fillers
        else:
            kept.append(char)
    lines = [" ".join(line.split()).strip(_ZERO_WIDTH_JOINER + " ") for line in "".join(kept).splitlines()]
    prompt = "\n".join(line for line in lines if line).strip()
    if not any(_visible(char) for char in prompt):
        raise InvalidRequestError("Your prompt is empty; describe the image you want.")
    if len(prompt) > MAX_PROMPT_CHARS:
        raise InvalidRequestError(f"Your prompt is {len(prompt):,} characters long; the limit is {MAX_PROMPT_CHARS:,}.")
    return prompt


def _visible(char: str) -> bool:
    """A letter, digit, punctuation mark or symbol: something that shows on its own."""
    return unicodedata.category(char)[0] in "LNPS"


def check_options(size: str, seed: int | None, count: int, sizes: Mapping[str, str]) -> str:
    """Check the options and return the API's `image_size` for the chosen size."""
    image_size = check_size(size, sizes)
    if seed is not None and not 0 <= seed <= MAX_SEED:
        raise InvalidRequestError(f"The seed must be a whole number from 0 to {MAX_SEED:,}.")
    check_count(count)
    return image_size


def check_size(size: str, sizes: Mapping[str, str]) -> str:
    """The API's `image_size` for one of the sizes /imagine offers, or why the size is not one."""
    image_size = sizes.get(size)
    if image_size is None:
        raise InvalidRequestError(f"“{size[:40]}” is not a size; choose one of {', '.join(sizes)}.")
    return image_size


def check_count(count: int) -> None:
    if not 1 <= count <= MAX_IMAGES:
        raise InvalidRequestError(f"You can ask for 1 to {MAX_IMAGES} images at a time.")
