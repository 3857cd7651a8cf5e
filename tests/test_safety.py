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


# --- every script ---------------------------------------------------------------------------------

SCRIPT_TERMS = ["сука", "кот", "βλάκας", "γάτα", "كلب", "זונה", "רע", "傻逼", "バカ", "개새끼", "ควาย", "🍆", "👍"]


@pytest.mark.parametrize(
    ("prompt", "term"),
    [
        ("ты СУКА!", "сука"),  # Cyrillic, any case, with punctuation
        ("с.у.к.а", "сука"),
        ("су́ка", "сука"),  # a stress mark
        ("а cat named кот", "кот"),
        ("ΒΛΑΚΑΣ", "βλάκας"),  # Greek capitals, with the final sigma folded
        ("ένας βλακας εδώ", "βλάκας"),  # without its accent
        ("انت كلب", "كلب"),  # Arabic
        ("انت كَلْب", "كلب"),  # with its vowel marks
        ("انت كـلـب", "كلب"),  # stretched with tatweel
        ("את זונה", "זונה"),  # Hebrew
        ("את זוֹנָה", "זונה"),  # with its vowel points
        ("你是傻逼吗", "傻逼"),  # Chinese has no spaces: inside a longer run
        ("傻 逼", "傻逼"),
        ("傻.逼", "傻逼"),
        ("お前はバカだ", "バカ"),  # Japanese
        ("ﾊﾞｶ", "バカ"),  # half-width katakana
        ("이 개새끼야", "개새끼"),  # Korean, with a particle attached
        ("แกมันควาย", "ควาย"),  # Thai
        ("a 🍆 please", "🍆"),  # emoji
        ("🍆🍆🍆", "🍆"),
        ("🍆\ufe0f", "🍆"),  # with a variation selector
        ("👍🏽", "👍"),  # with a skin tone
        ("ass\u200b", "ass"),
        ("аss", "ass"),  # a Cyrillic а disguising a Latin word
        ("\u0391SS", "ass"),  # a Greek capital alpha, likewise
        ("我喜欢ass很多", "ass"),  # a Latin word inside Chinese text
    ],
)
def test_terms_in_every_script_are_found_through_their_disguises(prompt: str, term: str) -> None:
    assert find_blocked_term(prompt, [*TERMS, *SCRIPT_TERMS]) == term


@pytest.mark.parametrize(
    "prompt",
    [
        "котлета на ужин",  # Cyrillic: "кот" is not "котлета"
        "ένα γατάκι",  # Greek: "γάτα" is not "γατάκι"
        "قلب",  # Arabic: a different first letter
        "كلبنا",  # Arabic: whole words in a script with spaces
        "ערב רעב",  # Hebrew: "רע" is not "רעב"
        "一个傻瓜",  # Chinese: shares a character, not the term
        "逼近",
        "バナナ",  # Japanese
        "ハカセ",  # the voicing mark matters in kana
        "새끼 고양이",  # Korean: a kitten, without the term
        "ความสุข",  # Thai: shares letters, not the term
        "🍑",  # a different emoji
        "a glass of 日本酒",
    ],
)
def test_words_in_every_script_that_only_look_like_a_term_are_not_matched(prompt: str) -> None:
    assert find_blocked_term(prompt, [*TERMS, *SCRIPT_TERMS]) is None
