"""Database.insert_final: the outbox's insert goes straight to the SQLite driver and stores
exactly the row SQLAlchemy would have, with what a write transaction owes the rest of the app
(the commit, the table's version for cached reads, nothing after it)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    insert,
    select,
    text,
)

from apf_core.storage import sqlite_driver
from apf_core.storage.db import Database
from apf_core.storage.direct import DirectInsert
from apf_core.storage.types import UTCDateTime
from tests.runtime.conftest import sqlite_with

META = MetaData()
ROWS = Table(
    "rows",
    META,
    Column("id", Integer, primary_key=True),
    Column("name", String(20), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("payload", JSON, nullable=False),
)
INSERT_ROW = insert(ROWS).returning(ROWS.c.id, ROWS.c.name)


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    async with sqlite_with(tmp_path, META) as database:
        yield database


def _row(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "at": datetime(2026, 12, 7, 21, 30, 15, 123456, tzinfo=timezone(timedelta(hours=2))),
        "payload": {"text": "Prüfung ✓", "nested": {"list": [1, 2.5, None, True]}, "none": None},
    }


async def _stored(db: Database) -> list[tuple[Any, ...]]:
    async with db.read() as conn:
        result = await conn.execute(select(ROWS).order_by(ROWS.c.id))
        return [tuple(row) for row in result]


async def test_the_direct_insert_stores_what_sqlalchemy_stores(db: Database) -> None:
    async with db.begin() as conn:
        await conn.execute(insert(ROWS).values(_row("through sqlalchemy")))
    async with db.begin() as conn:
        returned = await db.insert_final(conn, INSERT_ROW, _row("direct"))
    assert returned == (2, "direct")
    first, second = await _stored(db)
    assert second[1] == "direct"
    assert second[2:] == first[2:]  # the same UTC time and the same JSON document
    assert second[2] == datetime(2026, 12, 7, 19, 30, 15, 123456, tzinfo=UTC)
    async with db.read() as conn:  # the text SQLite holds is the same too
        raw = (await conn.execute(text("SELECT at, payload FROM rows ORDER BY id"))).all()
    assert raw[0] == raw[1]


async def test_it_runs_on_the_driver_and_commits(db: Database, monkeypatch: Any) -> None:
    executed: list[str] = []
    monkeypatch.setattr(
        db.engine.sync_engine.dialect,
        "do_execute",
        lambda *args: executed.append(args[2]),  # SQLAlchemy's execution is not used
    )
    async with db.begin() as conn:
        await db.insert_final(conn, INSERT_ROW, _row("direct"))
        driver = conn.sync_connection.connection.driver_connection  # type: ignore[union-attr]
        assert isinstance(driver, sqlite_driver.OneTripConnection)
        assert not driver._conn.in_transaction  # committed with the statement
    assert executed == []
    monkeypatch.undo()
    assert [row[1] for row in await _stored(db)] == ["direct"]


async def test_cached_reads_of_the_table_see_the_insert(db: Database) -> None:
    loads = 0

    async def load() -> int:
        nonlocal loads
        loads += 1
        return len(await _stored(db))

    assert await db.cached("count", ("rows",), load, ttl=3600) == 0
    async with db.begin() as conn:
        await db.insert_final(conn, INSERT_ROW, _row("direct"))
    assert await db.cached("count", ("rows",), load, ttl=3600) == 1
    assert loads == 2


async def test_nothing_may_follow_it(db: Database) -> None:
    async def insert_after_final() -> None:
        async with db.begin() as conn:
            await db.insert_final(conn, INSERT_ROW, _row("committed"))
            await conn.execute(insert(ROWS).values(_row("refused")))

    with pytest.raises(RuntimeError, match="after the transaction's final one"):
        await insert_after_final()
    assert [row[1] for row in await _stored(db)] == ["committed"]


async def test_a_failed_direct_insert_rolls_back_the_transaction(db: Database) -> None:
    async def fail() -> None:
        async with db.begin() as conn:
            await conn.execute(insert(ROWS).values(_row("earlier")))
            await db.insert_final(conn, INSERT_ROW, {**_row("x"), "name": None})  # NOT NULL

    with pytest.raises(Exception, match="NOT NULL"):
        await fail()
    assert await _stored(db) == []
    async with db.begin() as conn:  # the next transaction is not affected
        await db.insert_final(conn, INSERT_ROW, _row("next"))
    assert [row[1] for row in await _stored(db)] == ["next"]


async def test_outside_a_write_transaction_sqlalchemy_runs_it(db: Database) -> None:
    async with db.engine.connect() as conn:
        assert await db.insert_final(conn, INSERT_ROW, _row("plain")) == (1, "plain")
        await conn.commit()
    assert [row[1] for row in await _stored(db)] == ["plain"]


def test_only_positional_dialects_and_the_row_s_columns() -> None:
    from sqlalchemy.dialects import postgresql, sqlite

    direct = DirectInsert.compile(INSERT_ROW, ("name", "at", "payload"), sqlite.dialect())
    assert direct.sql.startswith("INSERT INTO rows (name, at, payload) VALUES (?, ?, ?)")
    assert direct.table == "rows"
    with pytest.raises(ValueError, match="cannot run"):
        DirectInsert.compile(INSERT_ROW, ("name", "at", "payload"), postgresql.dialect())
    naive = Table(
        "naive", MetaData(), Column("id", Integer, primary_key=True), Column("t", DateTime)
    )
    with pytest.raises(ValueError, match="cannot run"):  # a key that is not a column
        DirectInsert.compile(insert(naive), ("t", "missing"), sqlite.dialect())
