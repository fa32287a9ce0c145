"""Domain events: written to the ``events`` outbox inside the causing transaction.

Services call :meth:`EventBus.emit` with the transaction's connection. The
events are inserted just before that transaction commits (a before-commit hook
of :class:`~apf_core.storage.db.Database`), so they commit or roll back with the
change that caused them; live subscribers are told only after the commit.

Ids grow in commit order, which is what ``after=<id>`` readers (the event log,
WebSocket replay, webhook fan-out) rely on:

* SQLite: write transactions are serialised in-process.
* PostgreSQL: concurrent transactions could otherwise commit ids out of order
  (id 7 visible before id 6). The insert takes ``pg_advisory_xact_lock`` first,
  so event-writing transactions take ids and commit one after the other. The
  lock is taken at the very end of the transaction (inserting events is the
  last thing it does), so it is held only for the insert and the commit and
  cannot take part in a deadlock with row locks.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from ..storage.db import Database
from ..storage.group import GroupWriter
from ..storage.tables.spine import events
from ..timeutil import iso, utcnow

_LOGGER = logging.getLogger(__name__)
COALESCE_SECONDS = 1.0
#: ``pg_advisory_xact_lock`` key that serialises event-writing transactions ("APFEVENT")
EVENT_LOCK_KEY = 0x415046_4556454E
#: telemetry types that are coalesced and expire (see apf_core.events.retention)
TELEMETRY_TYPES = frozenset({"printer.status", "job.progress"})
MAX_TYPE_LENGTH = 64
MAX_LOCAL_IDS = 100_000
#: rows per multi-row INSERT of events on SQLite (3 bound values each, far below its limit)
SQLITE_ROWS_PER_INSERT = 500
#: one event, its values bound at execution: built (and its cache key made) once, not per event
INSERT_ONE = insert(events).returning(events.c.id)
#: the same on PostgreSQL, in one round trip with the lock and the NOTIFY: the materialised
#: CTE is read before the row takes its id from the sequence
_GUARD = (
    select(
        func.pg_advisory_xact_lock(bindparam("lock_key")),
        func.pg_notify(bindparam("channel"), bindparam("origin")),
    )
    .cte("guard")
    .prefix_with("MATERIALIZED")
)
INSERT_ONE_PG = (
    insert(events)
    .from_select(
        ["type", "created_at", "payload"],
        select(
            bindparam("type", type_=events.c.type.type),
            bindparam("created_at", type_=events.c.created_at.type),
            bindparam("payload", type_=events.c.payload.type),
        ).select_from(_GUARD),
    )
    .returning(events.c.id)
)


@dataclass(frozen=True, slots=True)
class Event:
    id: int
    type: str
    time: datetime
    data: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "type": self.type, "time": iso(self.time), "data": self.data}


Subscriber = Callable[[Event], None]


@dataclass(slots=True)
class _PendingEvents:
    """The events one transaction has emitted so far; flushed before it commits."""

    bus: EventBus
    conn: AsyncConnection
    items: list[tuple[str, datetime, dict[str, Any]]] = field(default_factory=list)

    async def __call__(self) -> None:
        await self.bus._insert(self.conn, self.items)


async def _insert_sqlite(
    db: Database, conn: AsyncConnection, rows: list[dict[str, Any]]
) -> list[int]:
    """Event ids of ``rows``, in their order, in one INSERT per chunk.

    SQLAlchemy's ordered RETURNING runs one INSERT per row on SQLite (SQLite returns a
    multi-row INSERT's rows in no set order). But SQLite inserts the VALUES rows in order,
    each with an id above every id before it, so the returned ids, sorted, are the rows'.
    """
    ids: list[int] = []
    for start in range(0, len(rows), SQLITE_ROWS_PER_INSERT):
        chunk = rows[start : start + SQLITE_ROWS_PER_INSERT]
        statement = insert(events).values(chunk).returning(events.c.id)
        if start + SQLITE_ROWS_PER_INSERT >= len(rows):  # the last chunk carries the commit
            result = await db.execute_final(conn, statement)
        else:
            result = await conn.execute(statement)
        ids.extend(sorted(result.scalars()))
    return ids


class EventBus:
    """Outbox writer plus in-process fan-out to subscribers."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._subscribers: list[Subscriber] = []
        self._last_coalesced: dict[tuple[str, str], float] = {}
        self._held: dict[tuple[str, str], dict[str, Any]] = {}
        self._flushes: set[asyncio.Task[None]] = set()
        #: coalesced events share transactions (group commit)
        self._coalesced: GroupWriter[tuple[str, Any]] = GroupWriter(db, self._write_coalesced)
        #: types that went through :meth:`emit_coalesced` (they expire like telemetry)
        self.coalesced_types: set[str] = set(TELEMETRY_TYPES)
        #: this process, in the NOTIFY that tells other processes about new events
        self.origin = uuid.uuid4().hex
        self.channel = db.channel("events")
        #: ids this process wrote and its fan-out has not passed yet (see :meth:`is_remote`)
        self._local_ids: set[int] = set()

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        self._subscribers.append(subscriber)

        def unsubscribe() -> None:
            if subscriber in self._subscribers:
                self._subscribers.remove(subscriber)

        return unsubscribe

    async def emit(self, conn: AsyncConnection, type_: str, data: dict[str, Any]) -> None:
        """Store an event with the current transaction; publish it after commit."""
        if not type_ or len(type_) > MAX_TYPE_LENGTH:
            raise ValueError(f"event type must be 1..{MAX_TYPE_LENGTH} characters: {type_!r}")
        item = (type_, utcnow(), data)
        hooks = self._db.before_commit(conn)
        if hooks is None:  # not inside Database.begin(): nothing to wait for
            await self._insert(conn, [item])
            return
        pending = next((h for h in hooks if isinstance(h, _PendingEvents)), None)
        if pending is None:
            pending = _PendingEvents(self, conn)
            hooks.append(pending)
        pending.items.append(item)

    async def emit_coalesced(self, type_: str, key: str, data: dict[str, Any]) -> None:
        """High-rate telemetry (``printer.status``, ``job.progress``): at most one event
        per second per ``(type, key)``. A frame inside the window is held, and the newest
        held frame is written when the window ends, so the last state always arrives."""
        now = time.monotonic()
        slot = (type_, key)
        self.coalesced_types.add(type_)
        wait = COALESCE_SECONDS - (now - self._last_coalesced.get(slot, -1e9))
        if wait > 0:
            first_held = slot not in self._held
            self._held[slot] = data
            if first_held:
                self._schedule_flush(slot, wait)
            return
        self._held.pop(slot, None)
        self._last_coalesced[slot] = now
        if len(self._last_coalesced) > 100_000:  # keys of deleted printers/jobs
            self._last_coalesced = {
                k: v for k, v in self._last_coalesced.items() if now - v < COALESCE_SECONDS
            }
        await self._coalesced.add((type_, data))

    async def _write_coalesced(self, conn: AsyncConnection, batch: list[tuple[str, Any]]) -> None:
        for type_, data in batch:
            await self.emit(conn, type_, data)

    def _schedule_flush(self, slot: tuple[str, str], delay: float) -> None:
        async def flush() -> None:
            await asyncio.sleep(delay)
            held = self._held.pop(slot, None)
            if held is not None:
                try:
                    await self.emit_coalesced(slot[0], slot[1], held)
                except Exception:
                    _LOGGER.exception("could not write held %s event", slot[0])

        task = asyncio.get_running_loop().create_task(flush())
        self._flushes.add(task)
        task.add_done_callback(self._flushes.discard)

    async def close(self) -> None:
        """Write every held telemetry frame now (at shutdown)."""
        for task in tuple(self._flushes):
            task.cancel()
        await self._coalesced.drain()
        held, self._held = self._held, {}
        for (type_, _key), data in held.items():
            try:
                async with self._db.begin() as conn:
                    await self.emit(conn, type_, data)
            except Exception:
                _LOGGER.exception("could not write held %s event", type_)

    def is_remote(self, event_id: int) -> bool:
        """True for an event another process wrote; the fan-out asks once per event id."""
        if event_id in self._local_ids:
            self._local_ids.discard(event_id)
            return False
        return True

    def forget_before(self, event_id: int) -> None:
        """Drop remembered ids up to ``event_id`` (rolled back or already passed)."""
        self._local_ids = {i for i in self._local_ids if i > event_id}

    def publish(self, event: Event, *, skip: Subscriber | None = None) -> None:
        """Tell live subscribers (but ``skip``); a failing subscriber never blocks the others."""
        for subscriber in tuple(self._subscribers):
            if subscriber == skip:
                continue
            try:
                subscriber(event)
            except Exception:
                _LOGGER.exception("event subscriber failed for %s", event.type)

    async def _insert(
        self, conn: AsyncConnection, items: list[tuple[str, datetime, dict[str, Any]]]
    ) -> None:
        if not items:
            return
        rows = [{"type": t, "created_at": when, "payload": data} for t, when, data in items]
        if conn.dialect.name == "postgresql":
            ids = await self._insert_postgresql(conn, rows)
        elif len(rows) == 1:
            ids = [(await self._db.insert_final(conn, INSERT_ONE, rows[0]))[0]]
        else:
            ids = await _insert_sqlite(self._db, conn, rows)
        if len(self._local_ids) > MAX_LOCAL_IDS:  # ids of rolled-back transactions
            self._local_ids.clear()
        for (type_, when, data), event_id in zip(items, ids, strict=True):
            event = Event(id=int(event_id), type=type_, time=when, data=data)
            self._local_ids.add(event.id)
            self._db.after_commit(conn, lambda e=event: self.publish(e))  # type: ignore[misc]
        items.clear()

    async def _insert_postgresql(
        self, conn: AsyncConnection, rows: list[dict[str, Any]]
    ) -> list[int]:
        """Take the event lock and NOTIFY (wakes the other processes' fan-out), then insert:
        one statement for a lone event, else one multi-row insert whose ids come back in the
        order of the rows."""
        guard = {"lock_key": EVENT_LOCK_KEY, "channel": self.channel, "origin": self.origin}
        if len(rows) == 1:
            return [(await conn.execute(INSERT_ONE_PG, {**rows[0], **guard})).scalar_one()]
        await conn.execute(
            text("SELECT pg_advisory_xact_lock(:lock_key), pg_notify(:channel, :origin)"), guard
        )
        statement = insert(events).returning(events.c.id, sort_by_parameter_order=True)
        return list((await conn.execute(statement, rows)).scalars())
