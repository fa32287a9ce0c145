"""Small asyncio helpers shared by drivers and background workers."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Any


async def cancel_and_wait(*tasks: asyncio.Future[Any] | None) -> None:
    """Cancel ``tasks`` (``None`` entries are skipped) and wait until each has finished.

    Their own cancellation is swallowed; a cancellation of the caller is not. An exception a
    task raised while stopping propagates."""
    live = [task for task in tasks if task is not None]
    for task in live:
        task.cancel()
    for task in live:
        try:
            await task
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise


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
