"""Reading the outbox by id (event log, WebSocket replay, webhook fan-out)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain.events import Event
from ..storage.tables.spine import events
from .patterns import TypeFilter


async def max_event_id(conn: AsyncConnection) -> int:
    return int(await conn.scalar(select(func.max(events.c.id))) or 0)


async def fetch_events(
    conn: AsyncConnection,
    *,
    after: int,
    limit: int,
    types: TypeFilter | None = None,
    upto: int | None = None,
) -> list[Event]:
    """Events with ``after < id (<= upto)`` in id order, optionally filtered by type."""
    query = select(events).where(events.c.id > after).order_by(events.c.id).limit(limit)
    if upto is not None:
        query = query.where(events.c.id <= upto)
    if types is not None and not types.all:
        query = query.where(types.clause(events.c.type))
    rows = (await conn.execute(query)).all()
    return [
        Event(id=int(r.id), type=r.type, time=r.created_at, data=_payload(r.payload)) for r in rows
    ]


def _payload(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {"value": value}
