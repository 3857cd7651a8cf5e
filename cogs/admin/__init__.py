"""Server admins' commands: /budget (budgets and spend reports) and /settings."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cogs.admin.budget import Budget
from cogs.admin.settings import Settings

if TYPE_CHECKING:
    from bot.bot import ImagineBot


async def setup(bot: ImagineBot) -> None:
    await bot.add_cog(Budget(bot))
    await bot.add_cog(Settings(bot))
