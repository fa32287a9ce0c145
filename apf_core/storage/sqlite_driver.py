"""aiosqlite connections that run a statement in one trip to their database thread.

SQLAlchemy's aiosqlite adapter awaits four driver calls per statement (open a cursor,
execute, fetch the rows, close the cursor), and the pool rolls back every connection it
takes back. Each await is a hand-off to the connection's thread and back to the event
loop; a one-event transaction cost six of them. Here :meth:`OneTripConnection.cursor`
hands back a cursor that does all four in the thread at once, and ``commit`` and
``rollback`` stay on the event loop when SQLite has no transaction open and nothing of
this connection is still queued for its thread.

A transaction's last statement carries its commit (:meth:`OneTripConnection.commit_with_next`)
and runs on the event loop itself when it cannot wait there: the database is in WAL mode
(a commit then writes the log and never waits for a lock or a disk flush), and either the
transaction already holds the write lock or the lock is free at once (busy timeout 0; when
another process holds it, the statement goes to the thread and waits there). Each trip wakes
the database thread and then the event loop, often on the other CPU; on a virtual machine that
costs more than the statement.

SQLite's automatic checkpoint would run inside such a commit, so it is off on every connection
(``wal_autocheckpoint=0``) and :class:`Checkpoints` runs a passive checkpoint on a connection of
its own, off the loop, after enough commits instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections import deque
from collections.abc import Callable
from typing import Any, Literal

import aiosqlite

_LOGGER = logging.getLogger(__name__)

#: what one trip returns: description, rows, lastrowid, rowcount
_Outcome = tuple[Any, list[Any], int | None, int]


class Checkpoints:
    """Checkpoints of one database file's WAL, after enough commits of its connections.

    SQLite checkpoints once the log holds 1,000 pages, in the connection that committed;
    here a passive checkpoint follows every ``every`` commits, on a connection of its own in
    the loop's default executor, and ``every`` is adjusted after each one towards that size.
    It holds ``write_lock`` (the in-process writers' lock) meanwhile: the log starts again
    from its beginning only when a checkpoint has copied all of it before the next write."""

    TARGET_FRAMES = 1000

    def __init__(
        self,
        open_connection: Callable[[], sqlite3.Connection],
        write_lock: asyncio.Lock | None = None,
        every: int = 100,
    ) -> None:
        self._open = open_connection
        self._write_lock = write_lock or contextlib.nullcontext()
        self.every = every
        self._commits = 0
        self._task: asyncio.Task[None] | None = None

    def committed(self) -> None:
        """Count a commit (on the event loop); start a checkpoint when one is due."""
        self._commits += 1
        if self._commits < self.every or self._task is not None:
            return
        self._commits = 0
        self._task = asyncio.get_running_loop().create_task(self._checkpoint())

    async def _checkpoint(self) -> None:
        try:
            async with self._write_lock:
                await asyncio.get_running_loop().run_in_executor(None, self._run)
        finally:
            self._task = None

    async def wait(self) -> None:
        """Let a checkpoint that has started finish (before the connections close)."""
        if self._task is not None:
            await asyncio.shield(self._task)

    def _run(self) -> None:
        try:
            with contextlib.closing(self._open()) as conn:
                _busy, frames, _done = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        except sqlite3.Error:
            _LOGGER.warning("the SQLite checkpoint failed; it is tried again later", exc_info=True)
            return
        if frames > 0:  # the log held this many pages since it last restarted
            self.every = max(1, min(1000, self.every * self.TARGET_FRAMES // frames))


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

    def __init__(self, connector: Any, checkpoints: Checkpoints) -> None:
        super().__init__(connector, 64)
        self._checkpoints = checkpoints
        # written by one thread each: the loop counts what it queued, the thread what it ran
        self._queued = 0
        self._ran = 0
        self._commit_next = False
        #: what the first stop() returned (False: no loop to wait on), None before it
        self._stopping: asyncio.Future[Any] | Literal[False] | None = None
        #: the busy timeout (ms) while the database is in WAL mode, else None (read once)
        self._wal_busy_ms: int | None = None
        self._wal_checked = False

    async def cursor(self) -> OneTripCursor:  # type: ignore[override]
        return OneTripCursor(self)

    def stop(self) -> asyncio.Future[Any] | None:
        """Stop the thread once. aiosqlite queues a stop for every call, but its thread ends
        at the first, so a second call's future never completes: SQLAlchemy's terminate of a
        cancelled connection can force it closed (a stop) while its graceful close, which
        stops again, is still under way."""
        stopping = self._stopping
        if stopping is None:
            future = super().stop()
            stopping = self._stopping = False if future is None else future
        if stopping is False or stopping.get_loop() is not _running_loop():
            return None
        return stopping

    async def close(self) -> None:
        if self._stopping is None:
            await super().close()
        elif stopping := self.stop():  # stopped already: wait for the thread to finish
            await stopping

    async def _execute(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        if not self._running or self._connection is None:
            raise ValueError("Connection closed")
        self._queued += 1
        return await super()._execute(self._counted, fn, *args, **kwargs)  # type: ignore[no-untyped-call]

    def _counted(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        finally:
            self._ran += 1

    def _idle(self) -> bool:
        """Nothing of this connection is queued for its thread or running there."""
        return self._ran == self._queued

    def commit_with_next(self, commit: bool = True) -> None:
        """Commit together with the next statement, once it has run without error
        (the commit that follows then finds nothing open and stays on the loop);
        ``False`` withdraws the request if that statement never reached the driver."""
        self._commit_next = commit

    async def run_statement(self, sql: str, parameters: Any, *, many: bool) -> _Outcome:
        commit, self._commit_next = self._commit_next, False
        if commit and self._idle():
            outcome = self._run_on_loop(sql, parameters, many)
            if outcome is not None:
                self._checkpoints.committed()
                return outcome
        result: _Outcome = await self._execute(self._run, sql, parameters, many, commit)
        if commit:
            self._checkpoints.committed()
        return result

    def _run(self, sql: str, parameters: Any, many: bool, commit: bool) -> _Outcome:
        """Execute, fetch every row, close the cursor, and commit when asked (a failed
        statement or commit leaves the transaction open to roll back)."""
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

    def _run_on_loop(self, sql: str, parameters: Any, many: bool) -> _Outcome | None:
        """A final statement and its commit on the event loop, or ``None`` when it could
        wait there (not WAL, or another process holds the write lock): nothing ran then."""
        conn = self._conn
        busy_ms = self._wal_busy_timeout()
        if busy_ms is None:
            return None
        if conn.in_transaction:  # this transaction wrote already: it holds the write lock
            return self._run(sql, parameters, many, True)
        conn.execute("PRAGMA busy_timeout=0")
        try:
            outcome = self._run(sql, parameters, many, False)
        except sqlite3.OperationalError as error:
            if error.sqlite_errorcode & 0xFF != sqlite3.SQLITE_BUSY:
                raise
            return None  # the write lock is taken: the thread waits for it
        finally:
            conn.execute(f"PRAGMA busy_timeout={busy_ms}")
        conn.commit()
        return outcome

    def _wal_busy_timeout(self) -> int | None:
        if not self._wal_checked:
            conn = self._conn
            mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
            if str(mode).lower() == "wal":
                self._wal_busy_ms = int(conn.execute("PRAGMA busy_timeout").fetchone()[0])
            self._wal_checked = True
        return self._wal_busy_ms

    async def commit(self) -> None:
        if not self._settled() and await self._execute(self._commit_open):
            self._checkpoints.committed()

    def _commit_open(self) -> bool:
        """Commit; whether a transaction was open to commit."""
        was_open = self._conn.in_transaction
        self._conn.commit()
        return was_open

    async def rollback(self) -> None:
        if not self._settled():
            await super().rollback()

    def _settled(self) -> bool:
        """No transaction is open and no statement of ours is queued or running."""
        return self._idle() and not self._conn.in_transaction


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def connect(database: str, checkpoints: Checkpoints, **kwargs: Any) -> OneTripConnection:
    """As :func:`aiosqlite.connect`, for a :class:`OneTripConnection` whose WAL is
    checkpointed by ``checkpoints`` rather than by SQLite's automatic checkpoint."""

    def open_connection() -> sqlite3.Connection:
        # the event loop runs final statements on it while its thread is idle
        conn: sqlite3.Connection = sqlite3.connect(
            database, **{**kwargs, "check_same_thread": False}
        )
        conn.execute("PRAGMA wal_autocheckpoint=0")
        return conn

    return OneTripConnection(open_connection, checkpoints)
