"""SQLite statements take one trip to the connection's thread, and transactions still end.

SQLAlchemy's aiosqlite adapter awaited four driver calls per statement and the pool a rollback per
checkin: six trips for a one-statement transaction. apf_core.storage.sqlite_driver does a statement
in one trip and skips commit/rollback only when SQLite has nothing open; a transaction's final
statement (Database.execute_final, the outbox insert) carries the commit and runs on the event loop
when it cannot wait there; the WAL is then checkpointed in a connection's thread, not in a commit."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, func, insert, select, text

from apf_core.storage import sqlite_driver
from apf_core.storage.db import Database
from tests.runtime.conftest import sqlite_with

META = MetaData()
NOTES = Table("notes", META, Column("id", Integer, primary_key=True), Column("body", String))


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    async with sqlite_with(tmp_path, META) as database:
        yield database


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
    async with db.begin() as conn:  # warm connections: opening one costs its own trips
        await conn.execute(insert(NOTES).values(body="warm"))
    async with db.read() as conn:
        await conn.execute(select(1))
    trips.clear()
    async with db.begin() as conn:
        new_id = (
            await conn.execute(insert(NOTES).values(body="hi").returning(NOTES.c.id))
        ).scalar()
    assert dict(trips) == {"_run": 1, "_commit_open": 1}  # the statement with its rows, the commit
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


async def test_the_final_statement_and_its_commit_run_on_the_loop(
    db: Database, trips: Counter[str]
) -> None:
    async with db.begin() as conn:  # a warm connection
        await conn.execute(insert(NOTES).values(body="warm"))
    trips.clear()
    async with db.begin() as conn:
        await conn.execute(insert(NOTES).values(body="first"))
        await db.execute_final(conn, insert(NOTES).values(body="last"))
    assert dict(trips) == {"_run": 1}  # only the first statement went to the thread
    trips.clear()
    async with db.begin() as conn:  # the final statement alone: the write lock was free
        await db.execute_final(conn, insert(NOTES).values(body="alone"))
    assert dict(trips) == {}
    async with db.read() as conn:
        rows = (await conn.execute(select(NOTES.c.body).order_by(NOTES.c.id))).scalars().all()
    assert rows == ["warm", "first", "last", "alone"]


async def test_a_final_statement_waits_for_another_process_in_the_thread(
    db: Database, trips: Counter[str], tmp_path: Path
) -> None:
    """Another process holds the write lock: the final statement must not block the event
    loop for the busy timeout; it waits in the connection's thread and commits after."""
    async with db.begin() as conn:  # a warm connection
        await conn.execute(insert(NOTES).values(body="warm"))
    trips.clear()
    other = sqlite3.connect(tmp_path / "farm.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO notes (body) VALUES ('other process')")

    async def write() -> None:
        async with db.begin() as conn:
            await db.execute_final(conn, insert(NOTES).values(body="after the other"))

    async with counting_turns(0.01) as ticks:
        writing = asyncio.create_task(write())
        await asyncio.sleep(0.3)
        assert not writing.done() and ticks[0] >= 10  # the loop ran on while the write waited
        other.execute("COMMIT")
        other.close()
        async with asyncio.timeout(5):
            await writing
    assert trips["_run"] == 1  # the statement and its commit in one trip to the thread
    async with db.read() as conn:
        rows = (await conn.execute(select(NOTES.c.body).order_by(NOTES.c.id))).scalars().all()
        busy_timeout = (await conn.execute(text("PRAGMA busy_timeout"))).scalar()
    assert rows == ["warm", "other process", "after the other"]
    assert busy_timeout == 30000  # restored after the attempt on the loop


async def test_the_wal_is_checkpointed_outside_commits(db: Database, tmp_path: Path) -> None:
    """SQLite's own checkpoint would run inside a commit, on the event loop: it is off, and
    the log is checkpointed off the loop every so many commits instead."""
    async with db.read() as conn:
        assert (await conn.execute(text("PRAGMA wal_autocheckpoint"))).scalar() == 0
    wal = tmp_path / "farm.db-wal"
    body = "x" * 2000  # about one page per row
    largest = 0

    async def writer(commits: int) -> None:  # four at once: the log never stops growing
        nonlocal largest
        for n in range(commits):
            async with db.begin() as conn:
                await db.execute_final(conn, insert(NOTES).values(body=body))
            if n % 25 == 0:
                largest = max(largest, wal.stat().st_size)

    await asyncio.gather(*(writer(750) for _ in range(4)))
    # about 3 pages a commit: 9,000 pages (36 MB) without checkpoints, 4 MB between them
    assert largest < 12_000_000, f"the WAL grew to {largest} bytes"
    async with db.read() as conn:
        assert (await conn.execute(select(func.count()).select_from(NOTES))).scalar() == 3000


async def test_outside_wal_mode_the_final_statement_goes_to_the_thread(tmp_path: Path) -> None:
    """A rollback journal's commit waits for readers: never on the event loop."""
    conn = await sqlite_driver.connect(
        str(tmp_path / "plain.db"), sqlite_driver.Checkpoints(lambda: sqlite3.connect(":memory:"))
    )
    try:
        cursor = await conn.cursor()
        await cursor.execute("CREATE TABLE t (x INTEGER)")
        started = time.monotonic()
        queued = conn._queued
        conn.commit_with_next()
        await cursor.execute("INSERT INTO t VALUES (1)")
        assert conn._queued == queued + 1 and time.monotonic() - started < 5
        assert not conn._conn.in_transaction  # committed in that trip
    finally:
        await conn.close()


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
    with pytest.raises(Exception, match="UNIQUE"):  # alone, when it would begin the transaction
        await transaction(final=insert(NOTES).values(id=1, body="duplicate"))
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


async def test_a_connection_stopped_before_its_close_still_closes(tmp_path: Path) -> None:
    """SQLAlchemy's terminate of a cancelled connection can stop it (a forced close) while its
    graceful close is under way; aiosqlite's thread ends at the first stop, so the close must
    not queue a second one and wait for it forever."""
    path = str(tmp_path / "farm.db")
    conn = await sqlite_driver.connect(
        path, sqlite_driver.Checkpoints(lambda: sqlite3.connect(path))
    )
    first = conn.stop()
    assert conn.stop() is first  # stopped once
    async with asyncio.timeout(5):
        await conn.close()
    conn._thread.join(5)  # it answered the stop: it ends now
    assert not conn._thread.is_alive()


async def test_write_transactions_keep_one_connection_until_one_fails(db: Database) -> None:
    """SQLite has one writer at a time, so every write transaction runs on one connection
    (taking it from the pool and giving it back cost a third of a one-event transaction); a
    failed transaction gives it back to the pool to be reset, and the next one takes another."""
    async with db.begin() as first:
        await conn_insert(first, "one")
    async with db.begin() as second:
        await conn_insert(second, "two")
    assert second is first

    used: list[Any] = []

    async def write_then_fail() -> None:
        async with db.begin() as failed:
            used.append(failed)
            await conn_insert(failed, "lost")
            raise RuntimeError("a later step failed")

    with pytest.raises(RuntimeError):
        await write_then_fail()
    assert used == [first]
    async with db.begin() as after:
        await conn_insert(after, "three")
    assert after is not first
    async with db.read() as conn:
        rows = (await conn.execute(select(NOTES.c.body).order_by(NOTES.c.id))).scalars().all()
    assert rows == ["one", "two", "three"]


async def test_a_write_cancelled_mid_statement_is_rolled_back(db: Database) -> None:
    """Cancelled while its statement runs in the connection's thread, a transaction gives up
    the shared write connection; its rollback waits for the statement, and the next writer
    waits for SQLite's lock, then commits."""
    started = asyncio.Event()
    slow = text(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000000)"
        " SELECT count(*) FROM n"
    )

    async def write_then_slow_read() -> None:
        async with db.begin() as conn:
            await conn_insert(conn, "cancelled")
            started.set()
            await conn.execute(slow)

    task = asyncio.create_task(write_then_slow_read())
    await started.wait()
    await asyncio.sleep(0.05)  # the slow statement is running in the thread
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    async with asyncio.timeout(30), db.begin() as conn:
        await conn_insert(conn, "next")
    async with db.read() as conn:
        assert (await conn.execute(select(NOTES.c.body))).scalars().all() == ["next"]


async def test_a_task_committing_in_a_loop_lets_other_tasks_run(db: Database) -> None:
    """A transaction of one final statement never waits (it runs on the loop): each
    transaction still gives the loop a turn, or a writer in a loop would hold it."""
    async with db.begin() as conn:  # the write connection is open: nothing waits below
        await conn_insert(conn, "warm")
    async with counting_turns(0) as turns:
        await asyncio.sleep(0)
        for n in range(200):
            async with db.begin() as conn:
                await db.execute_final(conn, insert(NOTES).values(body=f"n{n}"))
    assert turns[0] >= 150


@contextlib.asynccontextmanager
async def counting_turns(interval: float) -> AsyncIterator[list[int]]:
    """Another task, counting how often it ran (once per ``interval`` at most)."""
    turns = [0]

    async def count() -> None:
        while True:
            await asyncio.sleep(interval)
            turns[0] += 1

    task = asyncio.create_task(count())
    try:
        yield turns
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def conn_insert(conn: Any, body: str) -> None:
    await conn.execute(insert(NOTES).values(body=body))
