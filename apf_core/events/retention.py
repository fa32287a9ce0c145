"""Retention: coalesced telemetry expires, other events are kept.

``printer.status`` and ``job.progress`` (and any type sent through
``emit_coalesced``) older than ``APF_EVENT_RETENTION_HOURS`` (default 24) are
deleted, and so are finished webhook deliveries older than
``APF_WEBHOOK_DELIVERY_RETENTION_DAYS`` (default 7). The newest event is never
deleted: SQLite hands out ``max(id) + 1``, so removing it could reuse an id.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, func, select

from ..aio import cancel_and_wait
from ..storage.db import Database
from ..storage.tables.spine import events
from ..storage.tables.webhooks import webhook_deliveries
from ..timeutil import utcnow
from .settings import EventSettings

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Purged:
    events: int
    deliveries: int


async def purge(db: Database, settings: EventSettings, telemetry_types: Iterable[str]) -> Purged:
    now = utcnow()
    types = sorted(set(telemetry_types))
    async with db.begin() as conn:
        newest = await conn.scalar(select(func.max(events.c.id)))
        removed_events = 0
        if newest is not None and types:
            result = await conn.execute(
                delete(events).where(
                    events.c.type.in_(types),
                    events.c.created_at < now - timedelta(hours=settings.retention_hours),
                    events.c.id < newest,
                )
            )
            removed_events = int(result.rowcount or 0)
        result = await conn.execute(
            delete(webhook_deliveries).where(
                webhook_deliveries.c.status.in_(("delivered", "failed")),
                webhook_deliveries.c.created_at
                < now - timedelta(days=settings.delivery_retention_days),
            )
        )
        removed_deliveries = int(result.rowcount or 0)
    if removed_events or removed_deliveries:
        _LOGGER.info(
            "retention removed %d telemetry events and %d webhook deliveries",
            removed_events,
            removed_deliveries,
        )
    return Purged(removed_events, removed_deliveries)


class RetentionTask:
    def __init__(self, db: Database, settings: EventSettings, telemetry_types: set[str]) -> None:
        self.db = db
        self.settings = settings
        self.telemetry_types = telemetry_types
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="apf-event-retention")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None

    async def _run(self) -> None:
        while True:
            try:
                await purge(self.db, self.settings, self.telemetry_types)
            except asyncio.CancelledError:
                raise
            except Exception:
                _LOGGER.exception("event retention failed; will retry")
            await asyncio.sleep(self.settings.retention_interval_seconds)
