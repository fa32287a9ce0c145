"""Group commit (apf_core/storage/group.py): many coalesced writes share transactions."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import event

from apf_core.domain.events import EventBus
from apf_core.events.store import fetch_events
from apf_core.storage.db import Database
from apf_core.storage.group import GroupWriter


async def test_coalesced_events_of_many_keys_share_few_transactions(database: Database) -> None:
    bus = EventBus(database)
    commits: list[int] = []
    event.listen(database.engine.sync_engine, "commit", lambda _conn: commits.append(1))
    await asyncio.gather(
        *(bus.emit_coalesced("printer.status", f"p{i}", {"printer_id": f"p{i}"}) for i in range(200))
    )
    async with database.read() as conn:
        stored = await fetch_events(conn, after=0, limit=500)
    assert sorted(e.data["printer_id"] for e in stored) == sorted(f"p{i}" for i in range(200))
    assert [e.id for e in stored] == sorted(e.id for e in stored)
    assert len(commits) <= 3  # one group, perhaps a straggler: not 200


async def test_a_failed_group_fails_every_waiter_and_the_next_one_works(database: Database) -> None:
    calls: list[list[int]] = []

    async def write(_conn: object, items: list[int]) -> None:
        calls.append(items)
        if len(calls) == 1:
            raise ValueError("disk full")

    writer: GroupWriter[int] = GroupWriter(database, write)  # type: ignore[arg-type]
    results = await asyncio.gather(writer.add(1), writer.add(2), return_exceptions=True)
    assert [type(r) for r in results] == [ValueError, ValueError]
    await writer.add(3)
    assert calls == [[1, 2], [3]]
    await writer.drain()


@pytest.mark.parametrize("count", [1, 3])
async def test_event_ids_follow_the_order_of_emits(database: Database, count: int) -> None:
    bus = EventBus(database)
    async with database.begin() as conn:
        for i in range(count):
            await bus.emit(conn, "test.order", {"i": i})
    async with database.read() as conn:
        stored = await fetch_events(conn, after=0, limit=10)
    assert [e.data["i"] for e in stored] == list(range(count))


@pytest.mark.timeout(10)
async def test_drain_returns_when_a_finished_commit_is_still_registered(database: Database) -> None:
    """A commit task that has finished but whose bookkeeping callback has not run yet must not
    make shutdown spin: this hung `Farm.stop` (and a whole test run) once."""

    async def write(conn, items) -> None:  # type: ignore[no-untyped-def]
        return None

    writer: GroupWriter[int] = GroupWriter(database, write)
    await writer.add(1)
    finished = asyncio.get_running_loop().create_future()
    finished.set_result(None)
    writer._tasks.add(finished)  # type: ignore[arg-type]  # done, never discarded
    await writer.drain()
    await writer.add(2)  # still usable after a drain
