"""SQLite statements take one trip to the connection's thread, and transactions still end.

SQLAlchemy's aiosqlite adapter awaited four driver calls per statement and the pool a rollback per
checkin: six trips for a one-statement transaction. apf_core.storage.sqlite_driver does a statement
in one trip and skips commit/rollback only when SQLite has nothing open; a transaction's final
statement (Database.execute_final, the outbox insert) carries the commit."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, insert, select, text

from apf_core.storage import sqlite_driver
from apf_core.storage.db import Database

META = MetaData()
NOTES = Table("notes", META, Column("id", Integer, primary_key=True), Column("body", String))


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'farm.db'}")
    async with database.engine.begin() as conn:
        await conn.run_sync(META.create_all)
    yield database
    await database.engine.dispose()


@pytest.fixture
def trips(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """What each trip to a connection's thread ran."""
    seen: Counter[str] = Counter()
    queue = sqlite_driver.OneTripConnection._execute

    async def counting(self: Any, fn: Any, *args: Any, **kwargs: Any) -> Any:
        seen[getattr(fn, "__name__", repr(fn))] += 1
        return await queue(self, fn, *args, **kwargs)

    monkeypatch.setattr(sqlite_driver.OneTripConnection, "_execute", counting)
    return seen


async def test_a_one_statement_transaction_takes_two_trips(
    db: Database, trips: Counter[str]
) -> None:
    async with db.begin() as conn:  # a warm connection: opening one costs its own trips
        await conn.execute(insert(NOTES).values(body="warm"))
    trips.clear()
    async with db.begin() as conn:
        new_id = (
            await conn.execute(insert(NOTES).values(body="hi").returning(NOTES.c.id))
        ).scalar()
    assert dict(trips) == {"_run": 1, "commit": 1}  # the statement with its rows, the commit
    trips.clear()
    async with db.read() as conn:
        rows = (await conn.execute(select(NOTES.c.body).order_by(NOTES.c.id))).scalars().all()
    assert rows == ["warm", "hi"] and new_id == 2
    assert dict(trips) == {"_run": 1}  # a read: no commit, no rollback on checkin


async def test_a_failed_transaction_is_rolled_back(db: Database, trips: Counter[str]) -> None:
    async def write_then_fail() -> None:
        async with db.begin() as conn:
            await conn.execute(insert(NOTES).values(body="lost"))
            raise RuntimeError("a later step failed")

    with pytest.raises(RuntimeError):
        await write_then_fail()
    assert trips["rollback"] >= 1  # a transaction was open: the rollback made its trip
    async with db.read() as conn:
        assert (await conn.execute(select(NOTES))).all() == []


async def test_many_rows_and_partial_fetches(db: Database) -> None:
    async with db.begin() as conn:
        await conn.execute(insert(NOTES), [{"body": f"n{i}"} for i in range(5)])
    async with db.read() as conn:
        result = await conn.execute(select(NOTES.c.body).order_by(NOTES.c.id))
        assert result.fetchmany(2) == [("n0",), ("n1",)]
        assert result.fetchone() == ("n2",)
        assert result.fetchall() == [("n3",), ("n4",)]
        with pytest.raises(Exception, match="syntax error"):
            await conn.execute(text("SELEC nothing"))


async def test_a_cancelled_write_leaves_no_transaction_behind(db: Database) -> None:
    async def slow_write() -> None:
        async with db.begin() as conn:
            await conn.execute(insert(NOTES).values(body="cancelled"))
            await asyncio.sleep(10)

    task = asyncio.create_task(slow_write())
    await asyncio.sleep(0.2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    async with asyncio.timeout(5):  # another writer is not locked out
        async with db.begin() as conn:
            await conn.execute(insert(NOTES).values(body="next"))
    async with db.read() as conn:
        assert (await conn.execute(select(NOTES.c.body))).scalars().all() == ["next"]


async def test_the_final_statement_carries_the_commit(db: Database, trips: Counter[str]) -> None:
    async with db.begin() as conn:  # a warm connection
        await conn.execute(insert(NOTES).values(body="warm"))
    trips.clear()
    async with db.begin() as conn:
        await conn.execute(insert(NOTES).values(body="first"))
        await db.execute_final(conn, insert(NOTES).values(body="last"))
    assert dict(trips) == {"_run": 2}  # no trip of its own for the commit
    async with db.read() as conn:
        rows = (await conn.execute(select(NOTES.c.body).order_by(NOTES.c.id))).scalars().all()
    assert rows == ["warm", "first", "last"]


async def test_a_failed_final_statement_rolls_back_and_commits_nothing_later(
    db: Database,
) -> None:
    async def transaction(*statements: Any, final: Any = None, fail: bool = False) -> None:
        async with db.begin() as conn:
            for statement in statements:
                await conn.execute(statement)
            if final is not None:
                await db.execute_final(conn, final)
            if fail:
                raise RuntimeError("a later step failed")

    await transaction(insert(NOTES).values(id=1, body="kept"))
    with pytest.raises(Exception, match="UNIQUE"):  # fails in SQLite: all of it rolls back
        await transaction(
            insert(NOTES).values(id=2, body="lost with the transaction"),
            final=insert(NOTES).values(id=1, body="duplicate"),
        )
    with pytest.raises(Exception, match="Unconsumed column"):  # fails before the driver
        await transaction(final=insert(NOTES).values(no_such_column=1))
    with pytest.raises(RuntimeError):  # the same pooled connection must not commit early now
        await transaction(insert(NOTES).values(id=3, body="rolled back"), fail=True)
    async with db.read() as conn:
        assert (await conn.execute(select(NOTES.c.id))).scalars().all() == [1]


async def test_nothing_may_follow_the_final_statement(db: Database) -> None:
    async def two_after_final() -> None:
        async with db.begin() as conn:
            await db.execute_final(conn, insert(NOTES).values(body="committed"))
            await conn.execute(insert(NOTES).values(body="refused"))

    with pytest.raises(RuntimeError, match="after the transaction's final one"):
        await two_after_final()
    async with db.begin() as conn:  # the connection is usable again
        await conn.execute(insert(NOTES).values(body="next"))
    async with db.read() as conn:
        rows = (await conn.execute(select(NOTES.c.body).order_by(NOTES.c.id))).scalars().all()
    assert rows == ["committed", "next"]
