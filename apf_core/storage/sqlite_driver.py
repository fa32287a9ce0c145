"""aiosqlite connections that run a statement in one trip to their database thread.

SQLAlchemy's aiosqlite adapter awaits four driver calls per statement (open a cursor,
execute, fetch the rows, close the cursor), and the pool rolls back every connection it
takes back. Each await is a hand-off to the connection's thread and back to the event
loop; a one-event transaction cost six of them. Here :meth:`OneTripConnection.cursor`
hands back a cursor that does all four in the thread at once, and ``commit`` and
``rollback`` stay on the event loop when SQLite has no transaction open and nothing of
this connection is still queued for its thread. A transaction's last statement can carry
its commit (:meth:`OneTripConnection.commit_with_next`): one trip for both. Each trip wakes
the database thread and then the event loop, often on the other CPU; on a virtual machine
with an idle CPU that costs more than the statement.
"""

from __future__ import annotations

import sqlite3
from collections import deque
from typing import Any

import aiosqlite

#: what one trip returns: description, rows, lastrowid, rowcount
_Outcome = tuple[Any, list[Any], int | None, int]


class OneTripCursor:
    """The part of aiosqlite's cursor SQLAlchemy's adapter uses, one trip per statement."""

    def __init__(self, connection: OneTripConnection) -> None:
        self._connection = connection
        self.description: Any = None
        self.lastrowid: int | None = None
        self.rowcount = -1
        self.arraysize = 1
        self._rows: deque[Any] = deque()

    async def execute(self, sql: str, parameters: Any = None) -> OneTripCursor:
        self._take(await self._connection.run_statement(sql, parameters, many=False))
        return self

    async def executemany(self, sql: str, parameters: Any) -> OneTripCursor:
        self._take(await self._connection.run_statement(sql, parameters, many=True))
        return self

    def _take(self, outcome: _Outcome) -> None:
        self.description, rows, self.lastrowid, self.rowcount = outcome
        self._rows = deque(rows)

    async def fetchone(self) -> Any:
        return self._rows.popleft() if self._rows else None

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        count = self.arraysize if size is None else size
        return [self._rows.popleft() for _ in range(min(count, len(self._rows)))]

    async def fetchall(self) -> list[Any]:
        rows = list(self._rows)
        self._rows.clear()
        return rows

    async def close(self) -> None:
        self._rows.clear()  # the sqlite3 cursor was closed in the thread already


class OneTripConnection(aiosqlite.Connection):
    """An aiosqlite connection whose cursors take one trip per statement."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # written by one thread each: the loop counts what it queued, the thread what it ran
        self._queued = 0
        self._ran = 0
        self._commit_next = False

    async def cursor(self) -> OneTripCursor:  # type: ignore[override]
        return OneTripCursor(self)

    def commit_with_next(self, commit: bool = True) -> None:
        """Commit in the same trip as the next statement, once it has run without error
        (the commit that follows then finds nothing open and stays on the loop);
        ``False`` withdraws the request if that statement never reached the driver."""
        self._commit_next = commit

    async def run_statement(self, sql: str, parameters: Any, *, many: bool) -> _Outcome:
        commit, self._commit_next = self._commit_next, False
        self._queued += 1
        outcome: _Outcome = await self._execute(self._run, sql, parameters, many, commit)  # type: ignore[no-untyped-call]
        return outcome

    def _run(self, sql: str, parameters: Any, many: bool, commit: bool) -> _Outcome:
        """In the database thread: execute, fetch every row, close the cursor, and commit
        when asked (a failed statement or commit leaves the transaction open to roll back)."""
        try:
            cursor = self._conn.cursor()
            try:
                if many:
                    cursor.executemany(sql, parameters)
                elif parameters is None:
                    cursor.execute(sql)
                else:
                    cursor.execute(sql, parameters)
                rows = cursor.fetchall() if cursor.description else []
                outcome = cursor.description, rows, cursor.lastrowid, cursor.rowcount
            finally:
                cursor.close()
            if commit:
                self._conn.commit()
            return outcome
        finally:
            self._ran += 1

    def _settled(self) -> bool:
        """No transaction is open and no statement of ours is queued or running."""
        return self._ran == self._queued and not self._conn.in_transaction

    async def commit(self) -> None:
        if not self._settled():
            await super().commit()

    async def rollback(self) -> None:
        if not self._settled():
            await super().rollback()


def connect(database: str, **kwargs: Any) -> OneTripConnection:
    """As :func:`aiosqlite.connect`, for a :class:`OneTripConnection`."""
    return OneTripConnection(lambda: sqlite3.connect(database, **kwargs), 64)
