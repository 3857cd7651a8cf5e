"""Property-based tests: whatever comes in, the core answers with a value or its own error, never a crash."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.errors import InvalidAmountError, InvalidRequestError, PixazoError
from bot.models import Delivery, FailureKind, Job, JobRequest, JobState, Usage
from bot.money import Money
from bot.pixazo import DownloadedImage
from bot.pixazo.parsing import parse_status, parse_submit
from bot.progress import Progress, Stage
from bot.prompts import MAX_PROMPT_CHARS, check_options, clean_prompt
from bot.safety import find_blocked_term
from cogs.imagine.embeds import failure_embed, progress_embed, result_embed
from cogs.moderation.cards import card_embed

EXAMPLES = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SIZES = {"square": "square_1_1", "wide": "landscape_16_9"}
NOW = datetime(2026, 11, 26, tzinfo=UTC)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=20,
)
status_like = st.fixed_dictionaries(
    {
        "status": st.sampled_from(
            [
                "IN_QUEUE",
                "QUEUED",
                "IN_PROGRESS",
                "PROCESSING",
                "COMPLETED",
                "FAILED",
                "ERROR",
                "completed",
                "",
                "WEIRD",
            ]
        )
    },
    optional={
        "queue_position": json_values,
        "images": json_values,
        "output": json_values,
        "error": json_values,
        "request_id": json_values,
    },
)


@EXAMPLES
@given(st.one_of(json_values, status_like))
def test_any_status_body_parses_or_raises_pixazo_error(body: object) -> None:
    try:
        status = parse_status(body)
    except PixazoError as exc:
        assert len(str(exc)) < 400  # an excerpt, not the whole body
        return
    assert all(image.url.startswith(("http://", "https://")) for image in status.images)


@EXAMPLES
@given(json_values)
def test_any_submit_body_parses_or_raises_pixazo_error(body: object) -> None:
    try:
        result = parse_submit(body)
    except PixazoError:
        return
    assert result.request_id.strip()


@EXAMPLES
@given(st.text())
def test_any_text_is_a_clean_prompt_or_a_clear_refusal(text: str) -> None:
    try:
        prompt = clean_prompt(text)
    except InvalidRequestError as exc:
        assert str(exc).endswith(".")
        return
    assert 1 <= len(prompt) <= MAX_PROMPT_CHARS
    assert prompt == prompt.strip()
    assert not any(ch in prompt for ch in "\x00\r\x1b\u200b\u202e")


@EXAMPLES
@given(st.text(max_size=20), st.one_of(st.none(), st.integers()), st.integers())
def test_any_options_are_checked_or_refused(size: str, seed: int | None, count: int) -> None:
    try:
        assert check_options(size, seed, count, SIZES) in SIZES.values()
    except InvalidRequestError as exc:
        assert str(exc).endswith(".")


@EXAMPLES
@given(st.one_of(st.text(max_size=40), st.text(alphabet="0123456789.$", min_size=15, max_size=6000)))
def test_any_amount_text_is_money_or_a_clear_refusal(text: str) -> None:
    try:
        amount = Money.parse(text)
    except InvalidAmountError as exc:
        assert str(exc).endswith(".")
        return
    assert amount.micros >= 0


@EXAMPLES
@given(st.integers(min_value=0, max_value=10**15))
def test_money_round_trips_through_its_csv_form(micros: int) -> None:
    assert Money.parse(Money(micros).dollars()) == Money(micros)
    assert str(Money(micros)).startswith("$")


def job_with(prompt: str, count: int = 4) -> Job:
    request = JobRequest(1, 2, 3, prompt, "square", "square_1_1", count=count, seed=2**31 - 1)
    return Job(
        id=10**12,
        request=request,
        state=JobState.DELIVERED,
        reservation_id=1,
        unit_price=Money(8_000),
        delivery=Delivery(),
        created_at=NOW,
        updated_at=NOW,
        failure_kind=FailureKind.SAFETY,
        failure_reason="x" * 500,
    )


def within_limits(embed_dict: dict[str, object], total: int) -> None:
    assert len(str(embed_dict.get("title", ""))) <= 256
    assert len(str(embed_dict.get("description", ""))) <= 4096
    for item in embed_dict.get("fields", []):  # type: ignore[attr-defined]
        assert len(item["name"]) <= 256 and len(item["value"]) <= 1024
    assert len(embed_dict.get("fields", [])) <= 25  # type: ignore[arg-type]
    assert total <= 6000


prompts = st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=1500).filter(lambda s: s.strip())


@EXAMPLES
@given(prompts, st.sampled_from(list(Stage)), st.one_of(st.none(), st.integers(0, 10**6)))
def test_embeds_never_exceed_discord_limits(prompt: str, stage: Stage, position: int | None) -> None:
    job = job_with(prompt)
    usage = Usage("2026-11-26", Money(10**9), Money(10**9), Money(10**12), images=10**6, resets_at=NOW)
    image = DownloadedImage(b"\x89PNG", "image/png", "https://example.invalid/" + "a" * 500)
    embeds = [
        progress_embed(job, Progress(stage, position=position, moved=position, starts_in=position)),
        result_embed(job, [image] * 2, usage, linked=[image.url] * 2),
        failure_embed(job, safety=True),
        failure_embed(job, safety=False),
    ]
    for embed in embeds:
        within_limits(embed.to_dict(), len(embed))  # type: ignore[arg-type]


@EXAMPLES
@given(prompts)
def test_review_cards_never_exceed_discord_limits(prompt: str) -> None:
    from bot.models import ReportSource, ReportState, SafetyReport

    report = SafetyReport(
        id=1,
        guild_id=1,
        channel_id=2,
        member_id=3,
        job_id=4,
        prompt=prompt,
        reason="r" * 2000,
        source=ReportSource.SAFETY,
        state=ReportState.OPEN,
        created_at=NOW,
        reporter_id=5,
    )
    embed = card_embed(report, failures_this_week=10**6, block=None)
    within_limits(embed.to_dict(), len(embed))  # type: ignore[arg-type]


# Alphabets of scripts that space their words, and of scripts (and emoji) that do not.
SPACED_ALPHABETS = [
    "abcdefghijklmnopqrstuvwxyz",
    "абвгдежзийклмнопрстуфхцчшщыэюя",
    "αβγδεζηθικλμνξοπρστυφχψω",
    "ابتثجحخدذرزسشصضطظعغفقكلمنهوي",
    "אבגדהוזחטיכלמנסעפצקרשת",
]
UNSPACED_ALPHABETS = [
    "的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年得就那要下以生会自着去之过家学对可她里",
    "あいうえおかきくけこさしすせそたちつてとなにぬねのはひふへほまみむめもやゆよらりるれろわをん",
    "アイウエオカキクケコサシスセソタチツテトナニヌネノハヒフヘホマミムメモヤユヨラリルレロワヲン",
    "가나다라마바사아자차카타파하강남달람맘밤삼앙장창",
    "กขคงจฉชซญดตถทนบปผพฟภมยรลวศสหอฮ",
    "🍆🍑🔥💀👍🐍🦊🌶🍌💩",
]
SPACED_TERMS = st.sampled_from(SPACED_ALPHABETS).flatmap(lambda a: st.text(alphabet=a, min_size=3, max_size=12))
UNSPACED_TERMS = st.sampled_from(UNSPACED_ALPHABETS).flatmap(lambda a: st.text(alphabet=a, min_size=1, max_size=4))


@EXAMPLES
@given(SPACED_TERMS, st.text(max_size=60), st.text(max_size=60))
def test_a_blocked_word_is_found_wherever_it_stands_alone(term: str, before: str, after: str) -> None:
    assert find_blocked_term(f"{before} {term.upper()} {after}", [term]) == term


@EXAMPLES
@given(UNSPACED_TERMS, st.text(max_size=60), st.text(max_size=60), st.sampled_from(["", " ", ".", "\u200b"]))
def test_a_blocked_run_in_an_unspaced_script_is_found_anywhere(term: str, before: str, after: str, gap: str) -> None:
    disguised = gap.join(term)
    assert find_blocked_term(f"{before} {disguised} {after}", [term]) == term


@EXAMPLES
@given(SPACED_TERMS, SPACED_TERMS)
def test_a_spaced_word_never_matches_inside_a_longer_word(term: str, longer: str) -> None:
    assert find_blocked_term(f"{term}{longer} {longer}{term}", [term]) is None


@EXAMPLES
@given(st.text(max_size=200), st.lists(st.text(max_size=30), max_size=5))
def test_the_filter_never_crashes(prompt: str, terms: list[str]) -> None:
    found = find_blocked_term(prompt, terms)
    assert found is None or found in terms


@pytest.mark.parametrize("body", ['{"status": "COMPLETED", "images": [{"url": "https://x/y.png", "width": "9"}]}'])
def test_lenient_fields_are_ignored_not_fatal(body: str) -> None:
    assert parse_status(json.loads(body)).images[0].width is None
