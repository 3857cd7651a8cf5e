"""The Discord side of a job: its reply edited as it moves, then the result or the reason it failed.

`DiscordPresenter` is the `JobSink` the runner reports to. It edits the interaction's reply while
the token lives and a message of the bot's own in the channel after that, at the pace `bot.pacing` sets
(at most once a second, the result included, and only when the member learns something); a newer state
replaces one waiting to be shown, and an older stage never overwrites a newer one.

Every message it posts for a job is recorded on the job's row the moment Discord returns it, and a
result never arrives as a new message: a placeholder is posted (and recorded) first, then edited into
the result. An edit can be repeated safely, so a restart that cannot tell whether a result arrived puts
it in the same message again instead of beside it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, cast

import discord

from bot.jobs import DeliveryError, JobMessages
from bot.models import FailureKind, Job, PendingInteraction, Usage
from bot.moderation import Failure
from bot.pacing import MIN_EDIT_GAP, when_to_show
from bot.pixazo import DownloadedImage
from bot.progress import Progress, Stage, failure_sentence
from cogs.imagine.embeds import failure_embed, file_name, progress_embed, result_embed
from cogs.imagine.render import Render, Screen, images_shown

if TYPE_CHECKING:
    from bot.bot import ImagineBot

log = logging.getLogger(__name__)

_STAGE_ORDER = [Stage.WAITING, Stage.SUBMITTING, Stage.QUEUED, Stage.RENDERING, Stage.DELIVERING]
_REQUEST_LIMIT = 24 * 1024 * 1024  # a little under Discord's 25 MiB per request, for the form's own bytes
_DEFAULT_FILE_LIMIT = 10 * 1024 * 1024
_TOKEN_SAFETY = timedelta(seconds=5)
# Discord's alias for an interaction's first reply: discord.py formats a message id into the URL, so the alias
# stands in where it asks for an int.
ORIGINAL = cast(int, "@original")
NEVER_STARTED = "The bot restarted before your request started; nothing was charged. Please try again."


class DiscordPresenter:
    def __init__(
        self,
        bot: ImagineBot,
        messages: JobMessages,
        *,
        result_view: Callable[..., discord.ui.View],
        waiting_view: Callable[[int], discord.ui.View],
    ) -> None:
        self._bot = bot
        self._messages = messages
        self._result_view = result_view
        self._waiting_view = waiting_view  # the Cancel button, while the job waits in the bot's own queue
        self._screens: dict[int, Screen] = {}
        self._moved: dict[int, int] = {}  # job id → its channel message, once recorded on the job's row

    async def close(self) -> None:
        timers = [screen.timer for screen in self._screens.values() if screen.timer is not None]
        for timer in timers:
            timer.cancel()
        await asyncio.gather(*timers, return_exceptions=True)

    # --- JobSink --------------------------------------------------------------------------------

    async def progress(self, job: Job, progress: Progress) -> None:
        screen = self._screens.setdefault(job.id, Screen())
        rank = _STAGE_ORDER.index(progress.stage)
        if rank < screen.rank:
            return  # an older stage arriving late
        screen.rank = rank
        now = asyncio.get_running_loop().time()
        due = when_to_show(screen.shown, screen.edited_at, progress, now)
        if screen.timer is not None:
            screen.timer.cancel()  # the newer state replaces whatever was waiting to be shown
            screen.timer = None
        screen.pending = (job, progress) if due is not None else None
        if due is None:
            return
        screen.due = due
        if due <= now:
            await self._flush(job.id)
        else:
            screen.timer = asyncio.create_task(self._flush_later(job.id, due - now))

    async def hand_off(self, job: Job) -> int | None:
        screen = self._screens.setdefault(job.id, Screen())
        async with screen.lock:
            progress = screen.pending[1] if screen.pending else screen.shown or Progress(Stage.QUEUED)
            view = self._waiting_view(job.id) if progress.stage is Stage.WAITING else None  # Cancel moves with it
            render = Render(embeds=[progress_embed(job, progress)], view=view)
            try:
                message = await self._post_recorded(job, render)
            except discord.HTTPException as exc:
                raise DeliveryError(f"could not post in the channel: {exc}") from exc
            original = self._original(job)
            if original is not None:
                try:
                    await original.edit(
                        content=f"Still working on it; updates continue in {message.jump_url}", embeds=[], view=None
                    )
                except discord.HTTPException as exc:
                    log.info("job %s: the old reply could not point to the new message: %s", job.id, exc)
            screen.shown = progress
            screen.edited_at = asyncio.get_running_loop().time()
            return message.id

    async def stop_showing(self, job_id: int) -> None:
        """Show nothing more of a job's progress (it was cancelled), once an edit under way has been made."""
        screen = self._take_screen(job_id)
        async with screen.lock:
            return

    async def deliver(self, job: Job, images: Sequence[DownloadedImage], usage: Usage) -> None:
        screen = self._take_screen(job.id)
        async with screen.lock:
            file_limit = min(job.delivery.attachment_limit or _DEFAULT_FILE_LIMIT, _REQUEST_LIMIT)
            attached: list[DownloadedImage] = []
            linked: list[str] = []
            total = 0
            for image in images:
                if len(image.data) > file_limit or total + len(image.data) > _REQUEST_LIMIT:
                    linked.append(image.url)
                else:
                    attached.append(image)
                    total += len(image.data)
            render = Render(
                content=f"<@{job.member_id}>",
                embeds=[result_embed(job, attached, usage, linked=linked)],
                files=[(file_name(job, index, image), image.data) for index, image in enumerate(attached, start=1)],
                view=self._result_view(job.id, smaller=bool(linked)),
                mentions=discord.AllowedMentions(everyone=False, roles=False, users=[discord.Object(job.member_id)]),
            )
            await self._wait_turn(screen)
            await self._show(job, render)

    async def delivered_images(self, job: Job) -> int | None:
        """Images of this job the member can see, read from the messages on the job's row and nowhere else.

        None when a message on record could not be read (no Read Message History, say): it cannot be told.
        """
        unreadable = False
        for message_id in (job.delivery.channel_message_id, job.delivery.message_id):
            if message_id is None:
                continue
            try:
                message = await self._read(job, message_id)
            except discord.NotFound:
                continue
            except discord.HTTPException as exc:
                log.info("job %s: message %s could not be read back: %s", job.id, message_id, exc)
                unreadable = True
                continue
            if shown := images_shown(job, message):
                return shown
        return None if unreadable else 0

    async def fail(self, job: Job, *, charged: bool, usage: Usage) -> None:
        screen = self._take_screen(job.id)
        async with screen.lock:
            sentence = failure_sentence(job.failure_kind, job.failure_reason, charged=charged)
            safety = job.failure_kind is FailureKind.SAFETY
            await self._wait_turn(screen)
            if self._token_usable(job):
                if safety:
                    await self._show(job, Render(embeds=[failure_embed(job, safety=True)]))
                else:
                    await self._withdraw(job)
                try:
                    await self._webhook(job).send(sentence, ephemeral=True)
                    return
                except discord.HTTPException as exc:
                    log.info("job %s: no private follow-up possible (%s); saying it in public", job.id, exc)
            embed = failure_embed(job, safety=safety)
            embed.set_footer(text=sentence)
            await self._show(job, Render(content=f"<@{job.member_id}>", embeds=[embed]))

    async def reported(self, failure: Failure) -> None:
        self._bot.dispatch("safety_report", failure.report, failure.auto_block)

    async def never_started(self, pending: PendingInteraction) -> None:
        if pending.expires_at - _TOKEN_SAFETY <= datetime.now(UTC):
            raise DeliveryError("the interaction token has expired")
        webhook = self._interaction_webhook(pending.application_id, pending.token)
        try:
            try:
                await webhook.delete_message(ORIGINAL)
            except discord.HTTPException:
                await webhook.edit_message(ORIGINAL, content="This request could not go ahead.")
            await webhook.send(NEVER_STARTED, ephemeral=True)
        except discord.HTTPException as exc:
            raise DeliveryError(str(exc)) from exc

    # --- showing --------------------------------------------------------------------------------

    async def _flush_later(self, job_id: int, wait: float) -> None:
        await asyncio.sleep(wait)
        screen = self._screens.get(job_id)
        if screen is not None:
            screen.timer = None
            await self._flush(job_id)

    async def _flush(self, job_id: int) -> None:
        screen = self._screens.get(job_id)
        if screen is None:
            return
        async with screen.lock:
            if screen.pending is None or self._screens.get(job_id) is not screen:
                return
            job, progress = screen.pending
            now = asyncio.get_running_loop().time()
            if when_to_show(screen.shown, screen.edited_at, progress, now) is None:
                screen.pending = None  # an edit since (a hand-off) already shows as much
                return
            # The time set when it arrived, kept: asking again would hold a brief stage by another second
            # each time, and it would never be shown.
            due = max(screen.due, screen.edited_at + MIN_EDIT_GAP)
            if due > now:
                screen.timer = asyncio.create_task(self._flush_later(job_id, due - now))
                return
            screen.pending = None
            if not await self._messages.still_held(job.id):
                log.info("job %s: progress not shown: this process no longer holds the job", job.id)
                return
            screen.edited_at = now  # taken before the edit, so no other edit can start within the gap
            view = self._waiting_view(job.id) if progress.stage is Stage.WAITING else None  # nothing sent yet
            try:
                await self._show(job, Render(embeds=[progress_embed(job, progress)], view=view))
            except DeliveryError as exc:
                log.info("job %s: progress not shown: %s", job.id, exc)
            screen.shown = progress

    async def _wait_turn(self, screen: Screen) -> None:
        """Hold the final edit until a second after the last one: the result keeps the pace too."""
        wait = screen.edited_at + MIN_EDIT_GAP - asyncio.get_running_loop().time()
        if wait > 0:
            await asyncio.sleep(wait)
        screen.edited_at = asyncio.get_running_loop().time()

    def _take_screen(self, job_id: int) -> Screen:
        """The job's screen, detached: nothing queued for it will be shown any more."""
        screen = self._screens.pop(job_id, None) or Screen()
        if screen.timer is not None:
            screen.timer.cancel()
        screen.pending = None
        return screen

    async def _show(self, job: Job, render: Render) -> None:
        """Put `render` on the job's message: the reply while the token lives, else the bot's own message."""
        try:
            channel_message = self._moved.get(job.id) or job.delivery.channel_message_id
            if channel_message is not None:
                try:
                    await self._channel(job).get_partial_message(channel_message).edit(**render.as_edit())
                    return
                except discord.NotFound:
                    log.info("job %s: its message was deleted; posting a new one", job.id)
            elif self._token_usable(job):
                try:
                    await self._webhook(job).edit_message(self._reply_id(job), **render.as_edit())
                    return
                except discord.HTTPException as exc:
                    if exc.status >= 500 or exc.status == 429 or exc.code == 40005:
                        raise
                    log.info("job %s: the reply cannot be edited (%s); posting a new message", job.id, exc)
            await self._post_recorded(job, render)
        except discord.HTTPException as exc:
            raise DeliveryError(str(exc)) from exc
        finally:
            if render.view is not None:
                render.view.stop()  # the buttons are dynamic items: no need to keep the view in memory

    async def _post_recorded(self, job: Job, render: Render) -> discord.Message:
        """Post a new message for the job and record it before anything else; a result goes in by an edit."""
        result = bool(render.files or render.view)
        first = Render(embeds=[progress_embed(job, Progress(Stage.DELIVERING))]) if result else render
        message = await self._channel(job).send(**first.as_send())
        await self._messages.record(job.id, message.id)
        self._moved[job.id] = message.id
        if result:
            await message.edit(**render.as_edit())
        return message

    async def _read(self, job: Job, message_id: int) -> discord.Message:
        """One of the job's messages as Discord has it: the reply through its token while that lives."""
        if message_id == job.delivery.message_id and self._token_usable(job):
            return await self._webhook(job).fetch_message(message_id)
        return await self._channel(job).fetch_message(message_id)

    async def _withdraw(self, job: Job) -> None:
        """Remove the public reply of a job that failed for reasons that are the member's business only."""
        try:
            await self._webhook(job).delete_message(self._reply_id(job))
        except discord.HTTPException as exc:
            log.info("job %s: the public reply could not be removed: %s", job.id, exc)

    def _original(self, job: Job) -> discord.PartialMessage | None:
        if job.delivery.message_id is None:
            return None
        return self._channel(job).get_partial_message(job.delivery.message_id)

    def _channel(self, job: Job) -> discord.PartialMessageable:
        return self._bot.get_partial_messageable(job.request.channel_id, guild_id=job.guild_id)

    def _webhook(self, job: Job) -> discord.Webhook:
        delivery = job.delivery
        assert delivery.application_id is not None
        assert delivery.interaction_token is not None
        return self._interaction_webhook(delivery.application_id, delivery.interaction_token)

    def _interaction_webhook(self, application_id: int, token: str) -> discord.Webhook:
        webhook = discord.Webhook.partial(application_id, token, client=self._bot)
        webhook.type = discord.WebhookType.application  # an interaction's webhook: it may send ephemeral messages
        return webhook

    def _reply_id(self, job: Job) -> int:
        return job.delivery.message_id or ORIGINAL

    def _token_usable(self, job: Job) -> bool:
        delivery = job.delivery
        return (
            delivery.interaction_token is not None
            and delivery.application_id is not None
            and delivery.token_expires_at is not None
            and delivery.token_expires_at - _TOKEN_SAFETY > datetime.now(UTC)
        )
