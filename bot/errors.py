"""The exception hierarchy.

`BotError` and its subclasses are expected refusals: their text is one complete sentence that is
safe to show the member. `PixazoError` and its subclasses are upstream failures: never shown raw;
the command tree's error translator turns them into a sentence. `ConfigError` is for the operator.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.models import Appeal, Block, SafetyReport
    from bot.money import Money  # only for types: money imports this module, never the other way round


def discord_time(moment: datetime, style: str = "R") -> str:
    """A Discord timestamp (``<t:1700000000:R>``); clients show it in the reader's own time zone."""
    return f"<t:{int(moment.timestamp())}:{style}>"


class ConfigError(Exception):
    """One or more settings are missing or invalid. The text names each variable, never a secret value."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("Invalid configuration: " + "; ".join(problems) + ".")


class StartupError(Exception):
    """The process cannot start or go on: one line for the operator naming the problem and what to do.

    Its text never holds a secret: it is printed as it is.
    """


class LeaseLostError(Exception):
    """This process no longer holds the job (its lease ran out while it was paused or cut off, and another
    process took the job, or ended it): this process must leave the job alone."""

    def __init__(self, job_id: int, holder: str | None) -> None:
        self.job_id = job_id
        self.holder = holder
        super().__init__(f"job {job_id} is held by {holder or 'nobody'} now")


# --- refusals the member may read ---------------------------------------------------------------


class BotError(Exception):
    """An expected refusal whose text is a complete sentence safe to show the member."""


class InvalidAmountError(BotError):
    """A dollar amount could not be read."""


class InvalidRequestError(BotError):
    """A prompt or option the bot cannot accept."""


class BudgetExceededError(BotError):
    """A budget refused a reservation. `scope` is ``member``, ``server`` or ``operator``."""

    def __init__(self, scope: str, used: Money, limit: Money, cost: Money, resets_at: datetime) -> None:
        self.scope = scope
        self.used = used
        self.limit = limit
        self.cost = cost
        self.resets_at = resets_at
        super().__init__(self._sentence())

    @property
    def left(self) -> Money:
        return self.limit.remaining_after(self.used)

    def _sentence(self) -> str:
        resets = discord_time(self.resets_at)
        if self.scope == "member":
            if not self.limit:
                return f"Image generation is not enabled for you in this server; the day resets {resets}."
            return (
                f"This would cost {self.cost} and you have {self.left} left of your {self.limit} today "
                f"({self.used} used); it resets {resets}."
            )
        if self.scope == "server":
            return (
                f"This server has used {self.used} of its {self.limit} for today, so {self.cost} more does not fit; "
                f"it resets {resets}."
            )
        return f"The bot has reached its daily image budget across all servers; try again {resets}."


class MemberBlockedError(BotError):
    """The member is blocked. Where the server has a moderator channel to take it, the refusal offers them to ask
    for a review: until they have, or again while their appeal's card never reached the moderators."""

    def __init__(self, block: Block, appeal: Appeal | None = None, *, reviewable: bool = True) -> None:
        self.block = block
        self.until = block.until
        self.reason = block.reason
        self.appeal = appeal
        unsent = appeal is not None and appeal.decided_at is None and appeal.card_message_id is None
        self.appealable = reviewable and (appeal is None or unsent)
        when = f"until {discord_time(block.until, 'f')}" if block.until else "permanently"
        text = f"You are blocked from generating images in this server {when}."
        if appeal is None:
            text += " You can ask the moderators for a review." if reviewable else ""
        elif appeal.decided_at is not None:
            text += f" A moderator reviewed it {discord_time(appeal.decided_at)} and kept the block."
        elif self.appealable:
            text += (
                f" You asked for a review {discord_time(appeal.created_at)}, but it has not reached the moderators"
                " yet; you can send it again."
            )
        else:
            text += f" You asked for a review {discord_time(appeal.created_at)}; it is waiting for the moderators."
        super().__init__(text)


class ServerPausedError(BotError):
    def __init__(self) -> None:
        super().__init__("Image generation is paused in this server by its admins.")


class ChannelNotAllowedError(BotError):
    def __init__(self) -> None:
        super().__init__("/imagine cannot be used in this channel; ask an admin where it is allowed.")


class TooManyJobsError(BotError):
    def __init__(self, limit: int) -> None:
        super().__init__(f"You already have {limit} images in progress or waiting; try again when one finishes.")


class ServiceUnavailableError(BotError):
    def __init__(self) -> None:
        super().__init__("The image service is having trouble; try again in a few minutes.")


class NotAllowedError(BotError):
    """The caller lacks the permission a command or button needs."""


# --- upstream failures --------------------------------------------------------------------------


class PixazoError(Exception):
    """The Pixazo API failed or answered something the client could not use.

    `detail` is a short excerpt of what the API said, already cleaned of anything secret.
    """

    def __init__(self, message: str, *, status: int | None = None, detail: str = "") -> None:
        self.status = status
        self.detail = detail
        text = message if status is None else f"{message} (HTTP {status})"
        super().__init__(f"{text}: {detail}" if detail else text)


class PixazoInvalidRequestError(PixazoError):
    """400: the API refused the parameters."""


class PixazoAuthError(PixazoError):
    """401/403: the key is missing, wrong, or not subscribed to this API."""


class PixazoBalanceError(PixazoError):
    """402: the operator's prepaid balance is exhausted."""


class PixazoNotFoundError(PixazoError):
    """404: unknown endpoint or request id."""


class PixazoRateLimitedError(PixazoError):
    """429: too many requests; `retry_after` is the wait the API asked for, in seconds, if it said."""

    def __init__(self, message: str, *, status: int | None = 429, detail: str = "", retry_after: float | None) -> None:
        self.retry_after = retry_after
        super().__init__(message, status=status, detail=detail)


class PixazoTransientError(PixazoError):
    """5xx, a timeout or a connection failure: worth trying again later.

    `request_may_have_arrived` is true when the request left this process and no answer came back
    (a read timeout, a connection dropped mid-request): a submit may then have created a job.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        detail: str = "",
        request_may_have_arrived: bool = False,
    ) -> None:
        self.request_may_have_arrived = request_may_have_arrived
        super().__init__(message, status=status, detail=detail)


class PixazoBadResponseError(PixazoError):
    """The API answered, but with a body that does not have the documented shape."""


class PixazoImageError(PixazoError):
    """An image download was refused: not an image, or larger than allowed."""


class PixazoImageTooLargeError(PixazoImageError):
    def __init__(self, message: str, *, size: int | None, limit: int) -> None:
        self.size = size
        self.limit = limit
        super().__init__(message)


class PromptBlockedError(BotError):
    """The server's own filter refused the prompt; `report` is the safety report it queued."""

    def __init__(self, report: SafetyReport, auto_block: Block | None) -> None:
        self.report = report
        self.auto_block = auto_block
        text = "Your prompt contains a term this server does not allow; nothing was generated or charged."
        if auto_block is not None and auto_block.until is not None:
            text += f" After repeated refusals you are blocked here until {discord_time(auto_block.until, 'f')}."
        super().__init__(text)
