"""Domain events: written to the ``events`` outbox inside the causing transaction.

Services call :meth:`EventBus.emit` with the transaction's connection. The row
commits (or rolls back) with the change that caused it; live subscribers are
told only after the commit.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from ..storage.db import Database
from ..storage.tables.spine import events
from ..timeutil import iso, utcnow

_LOGGER = logging.getLogger(__name__)
COALESCE_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class Event:
    id: int
    type: str
    time: datetime
    data: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "type": self.type, "time": iso(self.time), "data": self.data}


Subscriber = Callable[[Event], None]


class EventBus:
    """Outbox writer plus in-process fan-out to subscribers."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._subscribers: list[Subscriber] = []
        self._last_coalesced: dict[tuple[str, str], float] = {}

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        self._subscribers.append(subscriber)
        return lambda: self._subscribers.remove(subscriber)

    async def emit(self, conn: AsyncConnection, type_: str, data: dict[str, Any]) -> None:
        """Store an event in the current transaction; publish it after commit."""
        now = utcnow()
        result = await conn.execute(
            insert(events).values(type=type_, created_at=now, payload=data).returning(events.c.id)
        )
        event = Event(id=int(result.scalar_one()), type=type_, time=now, data=data)
        self._db.after_commit(conn, lambda: self.publish(event))

    async def emit_coalesced(self, type_: str, key: str, data: dict[str, Any]) -> None:
        """High-rate telemetry (``printer.status``, ``job.progress``): at most one
        event per second per ``(type, key)``; later frames inside the window are dropped."""
        now = time.monotonic()
        slot = (type_, key)
        if now - self._last_coalesced.get(slot, -1e9) < COALESCE_SECONDS:
            return
        self._last_coalesced[slot] = now
        async with self._db.begin() as conn:
            await self.emit(conn, type_, data)

    def publish(self, event: Event) -> None:
        """Tell live subscribers; a failing subscriber never blocks the others."""
        for subscriber in tuple(self._subscribers):
            try:
                subscriber(event)
            except Exception:
                _LOGGER.exception("event subscriber failed for %s", event.type)
