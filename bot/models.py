"""Frozen dataclasses and enums shared by the layers. Rows and JSON become these at the edges."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from bot.money import Money

# --- jobs ---------------------------------------------------------------------------------------


class JobState(StrEnum):
    """The lifecycle in DESIGN.md. `waiting` is the bot's own queue, before a reservation is used."""

    RESERVED = "reserved"
    SUBMITTING = "submitting"
    SUBMITTED = "submitted"
    QUEUED = "queued"
    RUNNING = "running"
    DELIVERING = "delivering"
    DELIVERED = "delivered"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def final(self) -> bool:
        return self in (JobState.DELIVERED, JobState.FAILED, JobState.CANCELLED)


class JobOrigin(StrEnum):
    """Which sink made a job: a process resumes only the jobs of its own sink."""

    DISCORD = "discord"
    TERMINAL = "terminal"


class FailureKind(StrEnum):
    SAFETY = "safety"  # the API's safety check refused the prompt
    UPSTREAM = "upstream"  # Pixazo failed (an HTTP error, a system error, no images)
    BALANCE = "balance"  # the operator's Pixazo balance is exhausted
    BUSY = "busy"  # Pixazo kept rate limiting
    INTERRUPTED = "interrupted"  # a submit whose answer never came: maybe billed, never resent
    TIMEOUT = "timeout"  # Pixazo took longer than the job's render deadline
    WAITED = "waited"  # it waited in the bot's own queue longer than allowed, and was never sent
    ABANDONED = "abandoned"  # its run stopped before the end (a terminal run's Ctrl-C): charged if sent
    DELIVERY = "delivery"  # the image could not be fetched or posted


class ReservationState(StrEnum):
    RESERVED = "reserved"
    CHARGED = "charged"
    RELEASED = "released"


@dataclass(frozen=True, slots=True)
class Reservation:
    """Money set aside for one job, counted against the day it was made on."""

    id: int
    guild_id: int
    member_id: int
    day: str  # the server's calendar day, ISO format
    unit_price: Money
    images: int
    state: ReservationState

    @property
    def amount(self) -> Money:
        return self.unit_price * self.images


FORGOTTEN_PROMPT = ""  # what a job's prompt becomes when its member asks to be forgotten


@dataclass(frozen=True, slots=True)
class JobRequest:
    """What a member asked for: the prompt and options of one `/imagine` (or a reroll)."""

    guild_id: int
    channel_id: int
    member_id: int
    prompt: str
    size: str  # the member's choice, e.g. "square"
    image_size: str  # what that choice asks the API for, e.g. "square_1_1"
    count: int = 1
    seed: int | None = None
    output_format: str = "png"
    parent_id: int | None = None  # the job this one rerolls
    role_ids: tuple[int, ...] = ()  # the member's roles when they asked: their budget depends on them
    member_name: str | None = None  # how the member was shown when they asked, for spend reports
    style: str | None = None  # the server's style that wrapped the member's words, by its name
    member_prompt: str | None = None  # the member's own words when a style wrapped them; `prompt` is what was sent

    @property
    def own_prompt(self) -> str:
        """What the member typed, before any style: what Vary offers to edit."""
        return self.member_prompt if self.member_prompt is not None else self.prompt

    @property
    def forgotten(self) -> bool:
        """Its member asked to be forgotten: the prompt was erased (a real prompt is never empty)."""
        return self.prompt == FORGOTTEN_PROMPT


@dataclass(frozen=True, slots=True)
class Delivery:
    """Where progress and the result go: the interaction's reply while its token lives, then the channel."""

    application_id: int | None = None
    interaction_token: str | None = field(default=None, repr=False)
    token_expires_at: datetime | None = None
    message_id: int | None = None  # the public reply, once known
    channel_message_id: int | None = None  # the bot's own message, once the reply cannot carry the job
    attachment_limit: int | None = None  # bytes per file the interaction may attach
    interaction_id: int | None = None  # the interaction recorded while it was being deferred


@dataclass(frozen=True, slots=True)
class PendingInteraction:
    """An acknowledged interaction that has no job yet: answered at the next start if it never gets one."""

    id: int
    application_id: int
    token: str = field(repr=False)
    guild_id: int
    channel_id: int
    member_id: int
    expires_at: datetime
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Job:
    id: int
    request: JobRequest
    state: JobState
    reservation_id: int | None
    unit_price: Money  # what each image costs this job: its reservation's price, whatever today's is
    delivery: Delivery
    created_at: datetime
    updated_at: datetime
    queue_position: int | None = None
    request_id: str | None = None
    polling_url: str | None = None
    images_delivered: int = 0
    failure_kind: FailureKind | None = None
    failure_reason: str | None = None
    finished_at: datetime | None = None
    notified: bool = False  # the member was told how it ended
    origin: JobOrigin = JobOrigin.DISCORD
    sent_at: datetime | None = None  # when it left the bot's own queue for Pixazo: its render deadline runs from here
    images_posting: int | None = None  # set before the result is posted: how many images it carries

    @property
    def cost(self) -> Money:
        """What the job reserved: its price for every image asked for."""
        return self.unit_price * self.request.count

    @property
    def guild_id(self) -> int:
        return self.request.guild_id

    @property
    def member_id(self) -> int:
        return self.request.member_id


# --- servers, budgets and moderation ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GuildSettings:
    guild_id: int
    member_daily_limit: Money | None = None  # None falls back to the operator default
    guild_daily_limit: Money | None = None
    timezone: str = "UTC"
    mod_channel_id: int | None = None
    paused: bool = False
    safety_charged: bool = False
    member_max_jobs: int | None = None


@dataclass(frozen=True, slots=True)
class Style:
    """A server's named prompt template: `template` holds ``{prompt}`` once, where the member's words go."""

    guild_id: int
    name: str
    template: str


@dataclass(frozen=True, slots=True)
class MemberPreferences:
    """A member's own defaults for /imagine in one server; None where they chose none."""

    size: str | None = None
    count: int | None = None

    @property
    def empty(self) -> bool:
        return self.size is None and self.count is None


class OverrideKind(StrEnum):
    ROLE = "role"
    MEMBER = "member"


@dataclass(frozen=True, slots=True)
class BudgetOverride:
    guild_id: int
    kind: OverrideKind
    target_id: int
    daily_limit: Money


@dataclass(frozen=True, slots=True)
class Block:
    id: int
    guild_id: int
    member_id: int
    until: datetime | None  # None: permanent
    reason: str | None
    moderator_id: int | None  # None: blocked automatically
    created_at: datetime
    lifted_at: datetime | None = None
    lifted_by: int | None = None


class ReportSource(StrEnum):
    SAFETY = "safety"  # the API's safety check
    BLOCKED_TERM = "blocked_term"  # the server's own prompt filter
    MEMBER = "member"  # somebody pressed Report


class ReportState(StrEnum):
    OPEN = "open"
    DISMISSED = "dismissed"
    ACTIONED = "actioned"


@dataclass(frozen=True, slots=True)
class SafetyReport:
    id: int
    guild_id: int
    channel_id: int
    member_id: int
    job_id: int | None
    prompt: str | None  # None once the member asked to be forgotten
    reason: str
    source: ReportSource
    state: ReportState
    created_at: datetime
    reporter_id: int | None = None
    moderator_id: int | None = None
    decision: str | None = None
    decided_at: datetime | None = None
    card_channel_id: int | None = None
    card_message_id: int | None = None


class AppealState(StrEnum):
    OPEN = "open"
    LIFTED = "lifted"
    KEPT = "kept"


@dataclass(frozen=True, slots=True)
class Appeal:
    """A blocked member's request for a review of their block: one per block."""

    block_id: int
    guild_id: int
    member_id: int
    state: AppealState
    created_at: datetime
    moderator_id: int | None = None
    decided_at: datetime | None = None
    card_channel_id: int | None = None
    card_message_id: int | None = None


@dataclass(frozen=True, slots=True)
class Forgotten:
    """What `/forget` erased and what it kept, counted."""

    jobs: int  # jobs whose prompt was erased (their cost stays)
    reports: int  # decided reports whose prompt was erased
    names: int  # name rows erased (for spend reports)
    preferences: int  # the member's own /imagine defaults erased (0 or 1)
    open_reports: int  # reports still open: they keep their prompt until a moderator decides
    spend_rows: int  # ledger rows kept, without prompts: today's budgets and the totals need them
    blocks: int  # blocks kept


@dataclass(frozen=True, slots=True)
class Usage:
    """A member's day so far."""

    day: str
    spent: Money
    reserved: Money
    limit: Money
    images: int
    resets_at: datetime

    @property
    def left(self) -> Money:
        return self.limit.remaining_after(self.spent + self.reserved)


@dataclass(frozen=True, slots=True)
class GuildUsage:
    """A server's day so far; `limit` is None when the server has no daily budget."""

    day: str
    spent: Money
    reserved: Money
    images: int
    limit: Money | None
    resets_at: datetime


@dataclass(frozen=True, slots=True)
class SpendRow:
    day: str
    member_id: int
    images: int
    spent: Money


@dataclass(frozen=True, slots=True)
class SpendReport:
    guild_id: int
    first_day: str
    last_day: str
    rows: tuple[SpendRow, ...]  # one per member per day, oldest first
    names: dict[int, str] = field(default_factory=dict)  # the names members had when they last asked

    @property
    def total_spent(self) -> Money:
        return sum((row.spent for row in self.rows), Money.zero())

    @property
    def total_images(self) -> int:
        return sum(row.images for row in self.rows)

    def by_member(self) -> list[tuple[int, Money, int]]:
        """(member_id, spent, images), the biggest spender first."""
        totals: dict[int, tuple[Money, int]] = {}
        for row in self.rows:
            spent, images = totals.get(row.member_id, (Money.zero(), 0))
            totals[row.member_id] = (spent + row.spent, images + row.images)
        by_id = sorted((m, s, i) for m, (s, i) in totals.items())
        return sorted(by_id, key=lambda t: t[1], reverse=True)

    def by_day(self) -> list[tuple[str, Money]]:
        totals: dict[str, Money] = {}
        for row in self.rows:
            totals[row.day] = totals.get(row.day, Money.zero()) + row.spent
        return sorted(totals.items())
