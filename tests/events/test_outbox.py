"""The outbox itself: commit-ordered ids under concurrency, retention, coalescing."""

from __future__ import annotations

import asyncio
import random
from datetime import timedelta

from sqlalchemy import insert, select, update

from apf_core.domain.events import SQLITE_ROWS_PER_INSERT, Event, EventBus
from apf_core.events.retention import purge
from apf_core.events.settings import EventSettings
from apf_core.events.store import fetch_events, max_event_id
from apf_core.storage.db import Database
from apf_core.storage.tables.spine import events, server_settings
from apf_core.timeutil import utcnow


async def test_readers_after_an_id_never_miss_a_concurrent_event(database: Database) -> None:
    """Many transactions emit and then keep working for a random while before they commit.
    A reader that polls ``after=<last id seen>`` must still see every event: ids become
    visible in id order (PostgreSQL: advisory lock; SQLite: serialised writers)."""
    await database.migrate()
    bus = EventBus(database)
    writers = 20  # below the pool size, so the reader is never starved of a connection
    done = asyncio.Event()
    seen: list[int] = []

    async def writer(n: int) -> None:
        await asyncio.sleep(random.uniform(0, 0.05))
        async with database.begin() as conn:
            await bus.emit(conn, "test.concurrent", {"n": n})
            # more work in the same transaction after the emit (e.g. other rows)
            await conn.execute(insert(server_settings).values(key=f"k{n}", value=n))
            await asyncio.sleep(random.uniform(0, 0.05))
            await conn.execute(
                update(server_settings).where(server_settings.c.key == f"k{n}").values(value=-n)
            )

    async def reader() -> None:
        last = 0
        while True:
            finished = done.is_set()
            async with database.read() as conn:
                batch = await fetch_events(conn, after=last, limit=1000)
            for event in batch:
                assert event.id > last
                seen.append(event.id)
                last = event.id
            if finished and not batch:
                return
            await asyncio.sleep(0.001)

    reading = asyncio.create_task(reader())
    await asyncio.gather(*(writer(n) for n in range(writers)))
    done.set()
    await reading
    async with database.read() as conn:
        stored = [int(r.id) for r in await conn.execute(select(events.c.id).order_by(events.c.id))]
    assert len(stored) == writers
    assert seen == stored


async def test_events_commit_with_their_transaction_and_publish_after(database: Database) -> None:
    await database.migrate()
    bus = EventBus(database)
    published: list[Event] = []
    unsubscribe = bus.subscribe(published.append)
    async with database.begin() as conn:
        await bus.emit(conn, "test.a", {"x": 1})
        await bus.emit(conn, "test.b", {"x": 2})
        assert published == []  # nothing before the commit
        async with database.read() as other:
            assert await max_event_id(other) == 0  # not even stored yet
    assert [e.type for e in published] == ["test.a", "test.b"]
    assert published[1].id == published[0].id + 1
    unsubscribe()
    unsubscribe()  # twice is harmless
    async with database.begin() as conn:
        await bus.emit(conn, "test.c", {})
    assert len(published) == 2


async def test_a_large_transaction_gets_each_event_its_own_id_in_emit_order(
    database: Database,
) -> None:
    """A group commit of many events (more than one multi-row INSERT on SQLite): the id
    each event is published with is the id of its own stored row, ascending in emit order."""
    await database.migrate()
    bus = EventBus(database)
    published: list[Event] = []
    bus.subscribe(published.append)
    async with database.begin() as conn:  # an earlier event, so ids do not start at 1
        await bus.emit(conn, "test.first", {})
    count = SQLITE_ROWS_PER_INSERT * 2 + 7
    sizes = random.Random(7).choices((0, 1, 40, 2000), k=count)
    async with database.begin() as conn:
        for n, size in enumerate(sizes):
            await bus.emit(conn, f"test.t{n % 3}", {"n": n, "pad": "x" * size})
    batch = published[1:]
    assert [e.data["n"] for e in batch] == list(range(count))
    assert [e.id for e in batch] == sorted(e.id for e in batch)
    async with database.read() as conn:
        stored = await fetch_events(conn, after=published[0].id, limit=count + 1)
    assert [(e.id, e.type, e.data) for e in stored] == [(e.id, e.type, e.data) for e in batch]


async def test_a_failing_subscriber_does_not_stop_the_others(database: Database) -> None:
    await database.migrate()
    bus = EventBus(database)
    got: list[str] = []

    def broken(_event: Event) -> None:
        raise RuntimeError("boom")

    bus.subscribe(broken)
    bus.subscribe(lambda e: got.append(e.type))
    async with database.begin() as conn:
        await bus.emit(conn, "test.ok", {})
    assert got == ["test.ok"]


async def test_emit_outside_a_transaction_context(database: Database) -> None:
    await database.migrate()
    bus = EventBus(database)
    async with database.engine.begin() as conn:  # not Database.begin(): written at once
        await bus.emit(conn, "test.direct", {"a": 1})
    async with database.read() as conn:
        (event,) = await fetch_events(conn, after=0, limit=10)
    assert event.type == "test.direct"
    assert event.data == {"a": 1}


async def test_coalesced_events_at_most_once_per_second_per_key(database: Database) -> None:
    await database.migrate()
    bus = EventBus(database)
    for i in range(5):
        await bus.emit_coalesced("printer.status", "p1", {"printer_id": "p1", "i": i})
        await bus.emit_coalesced("printer.status", "p2", {"printer_id": "p2", "i": i})
    await bus.emit_coalesced("sensor.reading", "s1", {})
    async with database.read() as conn:
        stored = await fetch_events(conn, after=0, limit=100)
    assert [(e.type, e.data.get("printer_id"), e.data.get("i")) for e in stored] == [
        ("printer.status", "p1", 0),
        ("printer.status", "p2", 0),
        ("sensor.reading", None, None),
    ]
    assert "sensor.reading" in bus.coalesced_types
    # the newest frame held back inside the window is written when the window ends
    await asyncio.sleep(1.3)
    async with database.read() as conn:
        later = await fetch_events(conn, after=stored[-1].id, limit=100)
    assert sorted((e.data["printer_id"], e.data["i"]) for e in later) == [("p1", 4), ("p2", 4)]


async def test_held_telemetry_is_written_at_shutdown(database: Database) -> None:
    await database.migrate()
    bus = EventBus(database)
    await bus.emit_coalesced("printer.status", "p1", {"printer_id": "p1", "status": "printing"})
    await bus.emit_coalesced("printer.status", "p1", {"printer_id": "p1", "status": "paused"})
    await bus.close()
    async with database.read() as conn:
        stored = await fetch_events(conn, after=0, limit=100)
    assert [e.data["status"] for e in stored] == ["printing", "paused"]


async def test_retention_deletes_old_telemetry_only_and_keeps_the_newest(
    database: Database,
) -> None:
    await database.migrate()
    old = utcnow() - timedelta(hours=30)
    recent = utcnow() - timedelta(hours=1)
    rows = [
        ("printer.status", old),
        ("job.progress", old),
        ("job.completed", old),
        ("printer.status", recent),
        ("job.started", recent),
        ("job.progress", old),
    ]
    async with database.begin() as conn:
        for type_, when in rows:
            await conn.execute(insert(events).values(type=type_, created_at=when, payload={}))
    settings = EventSettings(retention_hours=24)
    result = await purge(database, settings, {"printer.status", "job.progress"})
    async with database.read() as conn:
        left = [(e.id, e.type) for e in await fetch_events(conn, after=0, limit=100)]
    # ids 1, 2 expired; 6 is old telemetry but the newest event (its id must not be reused)
    assert left == [
        (3, "job.completed"),
        (4, "printer.status"),
        (5, "job.started"),
        (6, "job.progress"),
    ]
    assert result.events == 2
    # a shorter retention removes the recent telemetry too, but never the newest row
    await purge(database, EventSettings(retention_hours=0), {"printer.status", "job.progress"})
    async with database.read() as conn:
        left = [e.id for e in await fetch_events(conn, after=0, limit=100)]
    assert left == [3, 5, 6]
    async with database.begin() as conn:
        await EventBus(database).emit(conn, "job.created", {})
    async with database.read() as conn:
        assert await max_event_id(conn) == 7


def test_settings_from_env(monkeypatch) -> None:
    monkeypatch.setenv("APF_EVENT_RETENTION_HOURS", "6")
    monkeypatch.setenv("APF_WEBHOOK_MAX_FAILURES", "4")
    monkeypatch.setenv("APF_WEBHOOK_ALLOW_PRIVATE", "false")
    monkeypatch.setenv("APF_WEBHOOK_BLOCKED_NETWORKS", "10.0.0.0/8, 192.168.5.0/24")
    settings = EventSettings.from_env()
    assert settings.retention_hours == 6
    assert settings.webhook_max_failures == 4
    assert settings.webhook_allow_private is False
    assert settings.webhook_blocked_networks == ("10.0.0.0/8", "192.168.5.0/24")
