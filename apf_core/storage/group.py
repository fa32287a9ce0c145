"""Group commit: many small writes from many tasks share one transaction.

High-rate writers (1,000 printers' coalesced telemetry events, job progress)
would otherwise cost a transaction each, and on SQLite every transaction waits
for the one in-process writer. A :class:`GroupWriter` queues items; the first
item starts a write task, and everything queued until that task holds the write
transaction goes into it. :meth:`GroupWriter.add` returns once its item is
committed and raises if that transaction failed, so callers keep the meaning
of "written when awaited".
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncConnection

from .db import Database

type Write[T] = Callable[[AsyncConnection, list[T]], Awaitable[None]]


class GroupWriter[T]:
    def __init__(self, db: Database, write: Write[T]) -> None:
        self._db = db
        self._write = write
        self._items: list[T] = []
        self._done: asyncio.Future[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def add(self, item: T) -> None:
        """Queue ``item`` for the next group transaction and wait for its commit."""
        self._items.append(item)
        done = self._done
        if done is None:
            loop = asyncio.get_running_loop()
            done = self._done = loop.create_future()
            task = loop.create_task(self._commit(done))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        await asyncio.shield(done)

    async def drain(self) -> None:
        """Wait for every group transaction under way (at shutdown)."""
        # Only unfinished tasks: a finished one stays in the set until its done-callback runs, and
        # gathering finished tasks completes without yielding to the loop, so waiting on the whole
        # set could spin forever.
        while pending := [task for task in self._tasks if not task.done()]:
            await asyncio.gather(*pending, return_exceptions=True)

    async def _commit(self, done: asyncio.Future[None]) -> None:
        try:
            async with self._db.begin() as conn:
                # taken once the transaction is ours: what queued while we waited joins
                items, self._items, self._done = self._items, [], None
                await self._write(conn, items)
        except Exception as err:
            self._forget(done)
            done.set_exception(err)
        except BaseException:
            self._forget(done)
            done.set_exception(RuntimeError("group write cancelled"))
            raise
        else:
            done.set_result(None)
        with contextlib.suppress(asyncio.CancelledError, Exception):
            done.exception()  # retrieved: no "never retrieved" warning without waiters

    def _forget(self, done: asyncio.Future[None]) -> None:
        if self._done is done:  # failed before taking its items: they fail with it
            self._items, self._done = [], None
