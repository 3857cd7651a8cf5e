"""The servers' own prompt filter: blocked terms matched on word boundaries, through disguises.

Both the prompt and the terms are normalised the same way: accents dropped, case folded,
invisible characters removed, common leetspeak read as letters, and letters that look alike
(i, l, 1, |) folded together. Words are then compared whole, so "class" does not match "ass";
letters split by dots or spaces ("a.s.s", "a s s") are read as the word they spell.
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
_WORD_CHARACTERS = re.compile(r"[a-z]+")
_TOKEN = re.compile(r"\S+")
_EDGES = re.compile(r"^[^\w]+|[^\w]+$")


def normalise(text: str) -> str:
    """Lower-case letters without accents, invisible characters or leetspeak; other characters kept."""
    return _plain(text).translate(_LEET)


def words(text: str, *, trim_punctuation: bool = False, join_pieces: bool = False) -> list[str]:
    """The words of a text after `normalise`, with spelled-out words ("a.s.s", "a s s") joined.

    With `trim_punctuation`, symbols at the edges of a word are read as punctuation ("ass!",
    "(ass)") rather than as leetspeak ("@$$"). With `join_pieces`, a word broken up by symbols
    is read whole ("ban.a.n.a").
    """
    found: list[str] = []
    letters_run: list[str] = []
    for token in _TOKEN.findall(_plain(text)):
        if trim_punctuation:
            token = _EDGES.sub("", token)
        parts = _WORD_CHARACTERS.findall(token.translate(_LEET))
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
    """The first blocked term the prompt contains as whole words, or None."""
    readings = [
        f" {' '.join(words(prompt, trim_punctuation=trim, join_pieces=join))} "
        for trim, join in ((False, False), (True, False), (True, True))
    ]
    for term in terms:
        term_words = words(term)
        needle = f" {' '.join(term_words)} "
        if term_words and any(needle in reading for reading in readings):
            return term
    return None


def _plain(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    kept = "".join(ch for ch in decomposed if not unicodedata.combining(ch) and unicodedata.category(ch) != "Cf")
    return kept.casefold()


def _flush(run: list[str]) -> list[str]:
    if not run:
        return []
    letters = list(run)
    run.clear()
    return ["".join(letters)] if len(letters) > 1 else letters
