"""The blocked-term filter, table-driven: disguises it must see through, and words it must leave alone."""

from __future__ import annotations

import pytest

from bot.safety import find_blocked_term, normalise

TERMS = ["ass", "bad word", "kill"]


@pytest.mark.parametrize(
    "prompt",
    [
        "ass",
        "ASS",
        "what an Ass!",
        "a.s.s",
        "a-s-s",
        "a s s",
        "4ss",
        "@$$",
        "a55",
        "ÄSS",
        "àśš",
        "a\u200bss",
        "a\u200bs\u200ds",
        "ａｓｓ",  # full-width letters
        "one bad word here",
        "BAD   WORD",
        "b@d w0rd",
        "k1ll",
        "ki11",
        "k!ll",
        "(ass)",
        "ass,",
        "4.s.s",
        "a-ss",
        "killing k.i.l.l.",
    ],
)
def test_disguised_terms_are_found(prompt: str) -> None:
    assert find_blocked_term(prompt, TERMS) is not None


@pytest.mark.parametrize(
    "prompt",
    [
        "class",
        "a glass of water",
        "passage to india",
        "assassin's creed",
        "bass guitar",
        "embassy",
        "bad words",  # a different word
        "a bad day, a good word",
        "skill",
        "killer whale",  # "kill" is not "killer"
        "as",
        "a s",
        "well-known assets",
        "mass-produced",
        "",
    ],
)
def test_innocent_prompts_are_not_matched(prompt: str) -> None:
    assert find_blocked_term(prompt, TERMS) is None


def test_normalise_folds_case_accents_invisible_and_leet() -> None:
    assert normalise("Ä\u200bß1") == "assi"


def test_terms_are_normalised_too() -> None:
    assert find_blocked_term("some ass here", ["A$$"]) == "A$$"
    assert find_blocked_term("nothing here", []) is None
