"""The database handle: one async SQLAlchemy engine, migrations, transactions.

SQLite is the embedded default (WAL, foreign keys on); PostgreSQL uses the same
code. Write transactions go through :meth:`Database.begin`; on SQLite they are
serialised in-process so concurrent writers queue instead of failing with
"database is locked".
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Sequence
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event, text
from sqlalchemy.dialects.sqlite.aiosqlite import SQLiteDialect_aiosqlite
from sqlalchemy.engine import Connection, CursorResult, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.sql import Executable
from sqlalchemy.sql.dml import Insert, UpdateBase

from ..aio import SingleFlight
from . import sqlite_driver
from .direct import DirectInsert

_LOGGER = logging.getLogger(__name__)
MIGRATIONS_DIR = Path(__file__).parent / "migrations"
#: mixed into :attr:`Database.farm_key` for the migration lock (another key than leadership)
MIGRATION_LOCK = 0x4D494752


def normalise_url(url: str) -> str:
    """Accept plain ``postgresql://`` and ``sqlite:///`` URLs and pick the async drivers."""
    if url.startswith(("postgres://", "postgresql://")):
        return "postgresql+asyncpg://" + url.split("://", 1)[1]
    if url.startswith("sqlite://") and "+aiosqlite" not in url:
        return "sqlite+aiosqlite://" + url.split("://", 1)[1]
    return url


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


class Database:
    """Engine plus transaction helpers shared by all services."""

    def __init__(self, url: str, *, schema: str | None = None, echo: bool = False) -> None:
        self.url = normalise_url(url)
        self.schema = schema
        self.is_sqlite = self.url.startswith("sqlite")
        kwargs: dict[str, Any] = {"echo": echo}
        self._write_lock = asyncio.Lock() if self.is_sqlite else None
        if self.is_sqlite:
            self._checkpoints, kwargs["async_creator"] = _daemon_sqlite_connector(
                self.url, timeout=30, write_lock=self._write_lock
            )
            # opening an aiosqlite connection costs a thread and the pragmas: keep enough warm ones
            kwargs["pool_size"] = 24
            kwargs["max_overflow"] = 48
            if ":memory:" in self.url:
                raise ValueError("use a file for SQLite: migrations and the app share it")
        else:
            kwargs["pool_size"] = 10
            kwargs["max_overflow"] = 20
            kwargs["pool_pre_ping"] = True
            if schema:
                kwargs["connect_args"] = {"server_settings": {"search_path": schema}}
        self.engine: AsyncEngine = create_async_engine(self.url, **kwargs)
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        self._after_commit: dict[int, list[Callable[[], None]]] = {}
        self._before_commit: dict[int, list[Callable[[], Awaitable[None]]]] = {}
        #: table name -> how many committed transactions have written it (this process)
        self._versions: dict[str, int] = {}
        self._touched: dict[int, set[str]] = {}
        #: connections whose transaction committed with its final statement (nothing may follow)
        self._ended: set[int] = set()
        self._read_cache: dict[Hashable, tuple[tuple[int, ...], float, Any]] = {}
        self._loads: SingleFlight[tuple[Hashable, tuple[int, ...]], Any] = SingleFlight()
        #: tasks holding a connection now, and how many (dispose() stops them first)
        self._holders: dict[asyncio.Task[Any], int] = {}
        #: SQLite's one write connection, kept between transactions (see :meth:`_writer`)
        self._sqlite_writer: AsyncConnection | None = None
        self._direct: dict[tuple[Insert, tuple[str, ...]], DirectInsert] = {}
        event.listen(self.engine.sync_engine, "before_execute", self._note_write)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def farm_key(self) -> int:
        """A signed 64-bit number naming this farm's data: the database and schema on
        PostgreSQL (advisory lock keys and NOTIFY channels of different farms differ)."""
        parsed = make_url(self.url)
        name = f"{parsed.host}:{parsed.port}/{parsed.database}/{self.schema or 'public'}"
        digest = hashlib.blake2b(name.encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big", signed=True)

    def channel(self, topic: str) -> str:
        """The NOTIFY channel of ``topic`` for this farm (channels are per database)."""
        return f"apf_{topic}_{self.farm_key & 0xFFFFFFFFFFFFFFFF:016x}"

    async def connect_raw(self, **server_settings: str) -> Any:
        """A dedicated asyncpg connection outside the pool (PostgreSQL only), with the
        schema of this database; for a session-long lock and LISTEN."""
        import asyncpg

        parsed = make_url(self.url).set(drivername="postgresql")
        settings = dict(server_settings)
        if self.schema:
            settings["search_path"] = self.schema
        return await asyncpg.connect(
            parsed.render_as_string(hide_password=False), server_settings=settings
        )

    async def migrate(self) -> None:
        """Create or upgrade the schema to every head (runs at start-up)."""
        async with self._holding(), self.engine.begin() as conn:
            if self.dialect == "postgresql":  # processes starting together migrate in turn
                await conn.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"),
                    {"key": self.farm_key ^ MIGRATION_LOCK},
                )
            await conn.run_sync(_upgrade_to_heads)

    @contextlib.asynccontextmanager
    async def _holding(self) -> AsyncIterator[None]:
        task = asyncio.current_task()
        if task is None:
            yield
            return
        self._holders[task] = self._holders.get(task, 0) + 1
        try:
            yield
        finally:
            left = self._holders.pop(task) - 1
            if left:
                self._holders[task] = left

    @contextlib.asynccontextmanager
    async def begin(self) -> AsyncIterator[AsyncConnection]:
        """One write transaction: commits on success, rolls back on any error."""
        lock = self._write_lock or contextlib.nullcontext()
        async with self._holding(), lock:
            async with self._writer() as conn, conn.begin():
                key = id(conn)
                touched = self._touched[id(conn.sync_connection)] = set()
                self._after_commit[key] = []
                hooks: list[Callable[[], Awaitable[None]]] = []
                self._before_commit[key] = hooks
                try:
                    yield conn
                    index = 0
                    while index < len(hooks):  # a hook may add hooks
                        await hooks[index]()
                        index += 1
                except BaseException:
                    self._after_commit.pop(key, None)
                    raise
                finally:
                    self._before_commit.pop(key, None)
                    self._touched.pop(id(conn.sync_connection), None)
                    self._ended.discard(id(conn.sync_connection))
            for table in touched:
                self._versions[table] = self._versions.get(table, 0) + 1
            callbacks = self._after_commit.pop(key, [])
        for callback in callbacks:
            try:
                callback()
            except Exception:
                _LOGGER.exception("after-commit callback failed")
        if self._write_lock is not None:
            # a SQLite transaction may run without ever waiting (its statements on the loop): a
            # task committing in a loop would then keep every other task, the checkpoint's too,
            # from running, and so from ever queueing for the write lock
            await asyncio.sleep(0)

    @contextlib.asynccontextmanager
    async def _writer(self) -> AsyncIterator[AsyncConnection]:
        """The connection of a write transaction. On SQLite (one writer at a time) it is the
        same connection from one transaction to the next: taking one from the pool and giving
        it back cost a one-event transaction a third of its time. After an error it goes back
        to the pool, which resets it (or discards it, if it broke), and the next transaction
        takes another. PostgreSQL's concurrent writers take pooled connections."""
        if self._write_lock is None:
            async with self.engine.connect() as conn:
                yield conn
            return
        if self._sqlite_writer is None:
            self._sqlite_writer = await self.engine.connect()
        try:
            yield self._sqlite_writer
        except BaseException:
            await self._release_writer()
            raise

    async def _release_writer(self) -> None:
        writer, self._sqlite_writer = self._sqlite_writer, None
        if writer is not None:
            await asyncio.shield(writer.close())

    async def execute_final(
        self, conn: AsyncConnection, statement: Executable, parameters: Any = None
    ) -> CursorResult[Any]:
        """Run ``statement`` as the last one of the transaction of ``conn``. Inside
        :meth:`begin` on SQLite, the statement carries the commit, and both run on the event
        loop when they cannot wait there (:mod:`.sqlite_driver`); nothing may run on ``conn``
        after it."""
        driver = self._final_driver(conn)
        if driver is None:
            return await conn.execute(statement, parameters)
        driver.commit_with_next()
        try:
            result = await conn.execute(statement, parameters)
        finally:
            driver.commit_with_next(False)
        self._ended.add(id(conn.sync_connection))
        return result

    async def insert_final(
        self, conn: AsyncConnection, statement: Insert, row: dict[str, Any]
    ) -> Sequence[Any]:
        """Insert ``row`` as the last statement of the transaction of ``conn``, as
        :meth:`execute_final`; the row ``statement`` returns (it has RETURNING).

        Inside :meth:`begin` on SQLite the statement, compiled by SQLAlchemy once, goes
        straight to the driver (:class:`.direct.DirectInsert`): this is the outbox's insert,
        one per event, and SQLAlchemy's execution of it cost three times SQLite's work. No
        engine event fires for it; the table still counts as written."""
        driver = self._final_driver(conn)
        sync = conn.sync_connection
        if driver is None or sync is None:
            return (await self.execute_final(conn, statement, row)).one()
        keys = tuple(row)
        direct = self._direct.get((statement, keys))
        if direct is None:
            if len(self._direct) > 64:  # meant for a few module-level statements
                self._direct.clear()
            direct = self._direct[(statement, keys)] = DirectInsert.compile(
                statement, keys, self.engine.dialect
            )
        self._note_table(sync, direct.table)
        driver.commit_with_next()
        try:
            _description, rows, _rowid, _count = await driver.run_statement(
                direct.sql, direct.parameters(row), many=False
            )
        finally:
            driver.commit_with_next(False)
        self._ended.add(id(sync))
        return tuple(rows[0])

    def _final_driver(self, conn: AsyncConnection) -> sqlite_driver.OneTripConnection | None:
        """The SQLite driver connection of a transaction of :meth:`begin`, else None."""
        sync = conn.sync_connection
        if not self.is_sqlite or sync is None or id(sync) not in self._touched:
            return None
        driver = sync.connection.driver_connection
        return driver if isinstance(driver, sqlite_driver.OneTripConnection) else None

    def _note_write(self, conn: Connection, clause: Any, *_args: Any) -> None:
        if isinstance(clause, UpdateBase):
            name = getattr(getattr(clause, "table", None), "name", None)
            self._note_table(conn, str(name) if name else None)
        else:
            self._note_table(conn, None)

    def _note_table(self, conn: Connection, table: str | None) -> None:
        """A statement is about to run on ``conn``; ``table``: the one it writes."""
        if id(conn) in self._ended:
            raise RuntimeError("a statement ran after the transaction's final one (execute_final)")
        touched = self._touched.get(id(conn))
        if touched is not None and table:
            touched.add(table)

    async def cached(
        self,
        key: Hashable,
        tables: tuple[str, ...],
        load: Callable[[], Awaitable[Any]],
        *,
        ttl: float = 1.0,
    ) -> Any:
        """A hot read served from memory until a transaction of this process writes one of
        ``tables`` (and at most ``ttl`` seconds, for writers in other processes).

        The version is taken before loading, so a result that raced a commit is
        never kept past it. Callers must not mutate what they get back."""
        version = tuple(self._versions.get(t, 0) for t in tables)
        now = time.monotonic()
        hit = self._read_cache.get(key)
        if hit is not None and hit[0] == version and now - hit[1] < ttl:
            return hit[2]
        # requests arriving together after a write share one load of the new version
        value = await self._loads.run((key, version), load)
        if len(self._read_cache) > 1024:
            self._read_cache.clear()
        self._read_cache[key] = (version, now, value)
        return value

    @contextlib.asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A connection for reads (no transaction guarantees beyond the statement)."""
        async with self._holding(), self.engine.connect() as conn:
            yield conn

    def after_commit(self, conn: AsyncConnection, callback: Callable[[], None]) -> None:
        """Run ``callback`` once the transaction of ``conn`` has committed."""
        pending = self._after_commit.get(id(conn))
        if pending is None:
            callback()  # not inside begin(): nothing to wait for
        else:
            pending.append(callback)

    def before_commit(self, conn: AsyncConnection) -> list[Callable[[], Awaitable[None]]] | None:
        """Hooks awaited inside the transaction of ``conn`` just before it commits
        (append to the list); ``None`` when ``conn`` is not inside :meth:`begin`."""
        return self._before_commit.get(id(conn))

    async def dispose(self, *, grace: float = 5.0) -> None:
        """Close every connection. Queries still running in other tasks are cancelled and
        waited for (up to ``grace`` seconds), so no connection outlives the engine: one left
        behind would be closed by the garbage collector at some random later point."""
        current = asyncio.current_task()
        holders = [task for task in self._holders if task is not current and not task.done()]
        for task in holders:
            task.cancel()
        if holders:
            _done, pending = await asyncio.wait(holders, timeout=grace)
            if pending:
                _LOGGER.warning("%d database queries did not stop within %ss", len(pending), grace)
        if self._write_lock is not None and not self._write_lock.locked():
            await self._release_writer()  # a writer that did not stop keeps it until it ends
        if self.is_sqlite:
            await self._checkpoints.wait()
        await self.engine.dispose()


def _daemon_sqlite_connector(
    url: str, *, timeout: float, write_lock: asyncio.Lock | None
) -> tuple[sqlite_driver.Checkpoints, Callable[[], Awaitable[Any]]]:
    """Open SQLite connections as SQLAlchemy does, one trip to the database thread per statement
    (:mod:`.sqlite_driver`), with aiosqlite's worker thread made a daemon.

    aiosqlite 0.22 moved each connection's worker onto a non-daemon thread, and SQLAlchemy before
    2.0.46 (the version Home Assistant 2025.4 pins) only marks the old shape daemon. A connection
    that is never closed (a query abandoned when the server stops) would then keep the process
    from exiting, forever."""
    dialect: Any = SQLiteDialect_aiosqlite  # untyped in SQLAlchemy
    args, params = dialect().create_connect_args(make_url(url))
    params = {**params, "timeout": timeout}
    # one for every connection to the file
    checkpoints = sqlite_driver.Checkpoints(lambda: sqlite3.connect(*args, **params), write_lock)

    async def connect() -> Any:
        pending = sqlite_driver.connect(args[0], checkpoints, **params)
        worker: Any = getattr(pending, "_thread", pending)  # < 0.22: the connection is the thread
        worker.daemon = True
        return await pending

    return checkpoints, connect


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _upgrade_to_heads(connection: Connection) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    command.upgrade(config, "heads")
