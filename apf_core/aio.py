"""Small asyncio helpers shared by drivers and background workers."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Any

#: how often :func:`cancel_and_wait` checks that a cancellation request has not been lost
RECHECK_SECONDS = 0.1


async def cancel_and_wait(*tasks: asyncio.Future[Any] | None) -> None:
    """Cancel ``tasks`` (``None`` entries are skipped) and wait until each has finished.

    Their own cancellation is swallowed; a cancellation of the caller is not. The first
    exception a task raised while stopping propagates, once all have finished.

    A library can lose a cancellation request: aiohttp's request timeout turns a cancel that
    races it into ``TimeoutError`` (aio-libs/aiohttp#5979), and a driver's loop retries
    after that. A task still running with no cancellation pending is cancelled again; one
    that is still cleaning up after its cancellation is left to finish."""
    live = [task for task in tasks if task is not None]
    for task in live:
        task.cancel()
    pending = {task for task in live if not task.done()}
    while pending:
        _done, pending = await asyncio.wait(pending, timeout=RECHECK_SECONDS)
        for task in pending:
            if isinstance(task, asyncio.Task) and not task.cancelling():
                task.cancel()
    errors = [task.exception() for task in live if not task.cancelled()]
    for error in errors:
        if error is not None:
            raise error


class SingleFlight[K: Hashable, V]:
    """Concurrent callers of :meth:`run` with the same key share one call of ``load``.

    A hot read that has just been invalidated is then loaded once, not once per waiting
    request. Key by whatever makes a result current (e.g. the cache version it was read at)."""

    def __init__(self) -> None:
        self._pending: dict[K, asyncio.Future[V]] = {}

    async def run(self, key: K, load: Callable[[], Awaitable[V]]) -> V:
        pending = self._pending.get(key)
        if pending is None:
            pending = asyncio.ensure_future(load())
            self._pending[key] = pending
            pending.add_done_callback(lambda _: self._pending.pop(key, None))
        # a caller that is cancelled does not cancel the load the others wait for
        return await asyncio.shield(pending)
