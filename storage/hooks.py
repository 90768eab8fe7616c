"""Telling hooks of something: each called in turn, a coroutine's result awaited, a failing hook logged
(the others are still told, and the caller goes on). The store's commit listeners and the collectors'
run-finished hooks are told this way."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import TypeVar

T = TypeVar("T")


async def tell(hooks: Iterable[Callable[[T], Awaitable[None] | None]], arg: T, log: logging.Logger, what: str) -> None:
    """Call each of ``hooks`` (a copy of it: a hook may remove itself) with ``arg``; a failure is logged
    as ``what`` failed."""
    for hook in list(hooks):
        try:
            result = hook(arg)
            if asyncio.iscoroutine(result):
                await result
        except Exception:
            log.exception("%s failed", what)
