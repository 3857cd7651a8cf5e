"""The Discord-free services one process shares, built in `__main__` and handed to whoever needs them."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.ledger import Ledger
from bot.metrics import Metrics
from bot.moderation import Moderation
from bot.pixazo import PixazoClient
from bot.storage import Storage


@dataclass(frozen=True, slots=True)
class Services:
    storage: Storage
    ledger: Ledger
    pixazo: PixazoClient
    moderation: Moderation
    metrics: Metrics = field(default_factory=Metrics)
