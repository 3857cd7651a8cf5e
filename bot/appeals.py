"""Appeals: a blocked member asks the moderators to review their block, once per block; a moderator lifts or
keeps it. The member's next refusal says where the appeal stands."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bot.clock import Clock
from bot.errors import BotError, NotAllowedError
from bot.models import Appeal, AppealState, Block
from bot.storage import Storage

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class AppealDecision:
    """What a moderator's press did: `appeal` is None when the appeal had been decided already."""

    appeal: Appeal | None
    current: Appeal
    block: Block


class Appeals:
    def __init__(self, storage: Storage, clock: Clock) -> None:
        self._storage = storage
        self._clock = clock

    async def ask(self, block_id: int, member_id: int) -> tuple[Appeal, Block]:
        """Record the blocked member's appeal against a block in force (or give back the one whose card was never
        posted, to post it now), or raise why not."""
        now = self._clock()
        async with self._storage.transaction() as tx:
            block = await tx.moderation.block(block_id)
            if block is None or block.member_id != member_id:
                raise NotAllowedError("Only the blocked member can ask for a review of their block.")
            if block.lifted_at is not None or (block.until is not None and block.until <= now):
                raise BotError("That block has ended; you may generate images again.")
            appeal = await tx.appeals.add(block.id, block.guild_id, member_id, now)
            if appeal is None:  # asked before: again only if its card never reached the moderators
                appeal = await tx.appeals.get(block.id)
                if appeal is None or appeal.decided_at is not None or appeal.card_message_id is not None:
                    raise BotError("You already asked for a review of this block; the moderators have it.")
        log.info("member %s appealed block %s in server %s", member_id, block_id, block.guild_id)
        return appeal, block

    async def decide(self, block_id: int, *, lift: bool, moderator_id: int, guild_id: int) -> AppealDecision:
        """A moderator's decision, pressed in server `guild_id`, on an appeal: lifting it lifts the member's blocks
        in force."""
        now = self._clock()
        state = AppealState.LIFTED if lift else AppealState.KEPT
        async with self._storage.transaction() as tx:
            asked = await tx.appeals.get(block_id)
            if asked is not None and asked.guild_id != guild_id:
                raise NotAllowedError("That appeal is not from this server, so it cannot be decided here.")
            decided = await tx.appeals.decide(block_id, state, moderator_id, now)
            if decided is not None and lift:
                await tx.moderation.lift_blocks(decided.guild_id, decided.member_id, moderator_id=moderator_id, now=now)
            current = decided or await tx.appeals.get(block_id)
            block = await tx.moderation.block(block_id)
        if current is None or block is None:
            raise BotError("That appeal no longer exists.")
        return AppealDecision(decided, current, block)

    async def set_card(self, block_id: int, channel_id: int, message_id: int) -> None:
        async with self._storage.transaction() as tx:
            await tx.appeals.set_card(block_id, channel_id, message_id)
