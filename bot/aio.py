"""Asyncio helpers the core shares."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")


async def to_the_end(work: Awaitable[T]) -> T:
    """Await `work` until it is done even if the caller is cancelled meanwhile, then let the cancellation go on.

    For the few steps that must not be cut in half: settling money for a submit that may have reached Pixazo,
    or rolling back a transaction whose statement is still running in aiosqlite's thread.
    """
    task = asyncio.ensure_future(work)
    cancelled = False
    while not task.done():
        try:
            await asyncio.wait([task])
        except asyncio.CancelledError:
            cancelled = True
    result = task.result()
    if cancelled:
        raise asyncio.CancelledError
    return result
