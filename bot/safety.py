"""The servers' own prompt filter: blocked terms found through disguises, in every script.

Both the prompt and the terms are normalised the same way: case folded, invisible characters removed,
accents and vowel marks dropped where they are optional (Latin, Greek, Cyrillic, Hebrew, Arabic), letters
that look Latin read as Latin (a Cyrillic "а" in "аss"), common leetspeak read as letters, and letters that
look alike (i, l, 1, |) folded together.

Scripts that put spaces between words are matched word by word, so "class" does not match "ass";
letters split by dots or spaces ("a.s.s", "a s s") are read as the word they spell. Scripts that do not
(Chinese, Japanese, Korean, Thai and their neighbours, and emoji) are matched as a run of characters
inside the prompt, whatever spaces or punctuation are put between them.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

_LEET = str.maketrans(
    {
        "4": "a",
        "@": "a",
        "8": "b",
        "(": "c",
        "3": "e",
        "6": "g",
        "9": "g",
        "1": "i",
        "!": "i",
        "|": "i",
        "l": "i",
        "0": "o",
        "5": "s",
        "$": "s",
        "7": "t",
        "+": "t",
        "2": "z",
    }
)
# Cyrillic and Greek letters that look like Latin ones (after case folding), read as those.
_LOOK_ALIKES = str.maketrans(
    {
        "а": "a",
        "в": "b",
        "е": "e",
        "ё": "e",
        "к": "k",
        "м": "m",
        "н": "h",
        "о": "o",
        "р": "p",
        "с": "c",
        "т": "t",
        "у": "y",
        "х": "x",
        "і": "i",
        "ј": "j",
        "ѕ": "s",
        "α": "a",
        "β": "b",
        "ε": "e",
        "η": "n",
        "ι": "i",
        "κ": "k",
        "ν": "v",
        "ο": "o",
        "ρ": "p",
        "τ": "t",
        "υ": "u",
        "χ": "x",
    }
)
# Where accents and vowel marks are optional, so "àśš" is "ass" and "كَلْب" is "كلب".
_FOLDED_MARKS = (
    (0x0000, 0x058F),  # Latin, Greek, Cyrillic, Armenian
    (0x0590, 0x06FF),  # Hebrew, Arabic
    (0x0750, 0x077F),
    (0x08A0, 0x08FF),
    (0x1C80, 0x1C8F),
    (0x1E00, 0x1FFF),  # Latin and Greek extended
    (0x2C60, 0x2C7F),
    (0x2DE0, 0x2DFF),
    (0xA640, 0xA69F),
    (0xA720, 0xA7FF),
    (0xFB1D, 0xFDFF),
    (0xFE70, 0xFEFF),
)
# Scripts written without spaces between words, and emoji: matched as runs of characters.
_UNSPACED = (
    (0x0E00, 0x0EFF),  # Thai, Lao
    (0x1000, 0x109F),  # Myanmar
    (0x1100, 0x11FF),  # Hangul jamo
    (0x1780, 0x17FF),  # Khmer
    (0x2600, 0x27BF),  # symbols and dingbats that are emoji
    (0x2E80, 0x9FFF),  # CJK radicals, kana, CJK ideographs
    (0xA960, 0xA97F),
    (0xAC00, 0xD7FF),  # Hangul syllables
    (0xF900, 0xFAFF),
    (0xFF66, 0xFF9F),
    (0x1F000, 0x1FAFF),  # emoji
    (0x20000, 0x3FFFF),  # more CJK ideographs
)
_DROPPED = frozenset("\u0640")  # Arabic tatweel only stretches a word
_SKIN_TONES = range(0x1F3FB, 0x1F400)
_TOKEN = re.compile(r"\S+")
_EDGES = re.compile(r"^[^\w]+|[^\w]+$")


def normalise(text: str) -> str:
    """Folded text without invisible characters, optional marks or leetspeak; other characters kept."""
    return _plain(text).translate(_LEET)


def words(text: str, *, trim_punctuation: bool = False, join_pieces: bool = False) -> list[str]:
    """The words of a text after `normalise`, with spelled-out words ("a.s.s", "a s s") joined.

    With `trim_punctuation`, symbols at the edges of a word are read as punctuation ("ass!",
    "(ass)") rather than as leetspeak ("@$$"). With `join_pieces`, a word broken up by symbols
    is read whole ("ban.a.n.a"). Characters of unspaced scripts separate words here.
    """
    found: list[str] = []
    letters_run: list[str] = []
    for token in _TOKEN.findall(_plain(text)):
        if trim_punctuation:
            token = _EDGES.sub("", token)
        parts = _letter_runs(token.translate(_LEET))
        if len(parts) > 1 and (join_pieces or all(len(part) == 1 for part in parts)):
            parts = ["".join(parts)]  # a.s.s
        if len(parts) == 1 and len(parts[0]) == 1:
            letters_run.append(parts[0])  # a s s: single letters in a row
            continue
        found.extend(_flush(letters_run))
        found.extend(parts)
    found.extend(_flush(letters_run))
    return found


def find_blocked_term(prompt: str, terms: Iterable[str]) -> str | None:
    """The first blocked term the prompt contains (as whole words, or as a run in unspaced scripts), or None."""
    readings: list[str] | None = None
    squashed: str | None = None
    for term in terms:
        plain_term = _plain(term)
        if any(_unspaced(char) for char in plain_term):
            squashed = _squash(prompt) if squashed is None else squashed
            needle = _squash(term)
            if needle and needle in squashed:
                return term
            continue
        if readings is None:
            readings = [
                f" {' '.join(words(prompt, trim_punctuation=trim, join_pieces=join))} "
                for trim, join in ((False, False), (True, False), (True, True))
            ]
        term_words = words(term)
        needle = f" {' '.join(term_words)} "
        if term_words and any(needle in reading for reading in readings):
            return term
    return None


def _plain(text: str) -> str:
    """Case folded, without invisible characters, skin tones or the marks that are optional in their script."""
    kept: list[str] = []
    base = 0
    for char in unicodedata.normalize("NFKD", text):
        code = ord(char)
        category = unicodedata.category(char)
        if category == "Cf" or char in _DROPPED or code in _SKIN_TONES or 0xFE00 <= code <= 0xFE0F:
            continue
        if category.startswith("M"):
            if _within(base, _FOLDED_MARKS) or 0xE0100 <= code <= 0xE01EF:
                continue
        else:
            base = code
        kept.append(char)
    return unicodedata.normalize("NFC", "".join(kept)).casefold().translate(_LOOK_ALIKES)


def _letter_runs(text: str) -> list[str]:
    """Runs of letters (with their marks) of scripts that space their words."""
    runs: list[str] = []
    current: list[str] = []
    for char in text:
        if unicodedata.category(char)[0] in "LM" and not _unspaced(char):
            current.append(char)
        elif current:
            runs.append("".join(current))
            current = []
    if current:
        runs.append("".join(current))
    return runs


def _squash(text: str) -> str:
    """The folded text with white space, punctuation and plain symbols left out, for unspaced matching."""
    return "".join(char for char in normalise(text) if _unspaced(char) or unicodedata.category(char)[0] in "LMN")


def _unspaced(char: str) -> bool:
    return _within(ord(char), _UNSPACED)


def _within(code: int, ranges: tuple[tuple[int, int], ...]) -> bool:
    return any(low <= code <= high for low, high in ranges)


def _flush(run: list[str]) -> list[str]:
    if not run:
        return []
    letters = list(run)
    run.clear()
    return ["".join(letters)] if len(letters) > 1 else letters
