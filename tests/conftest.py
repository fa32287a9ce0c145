"""Shared fixtures: a database per test (SQLite always; PostgreSQL when configured).

Migrating a schema costs far more than copying or emptying one, so each session
migrates once: SQLite tests get a copy of a migrated template file, and
PostgreSQL tests borrow a migrated schema from a pool and hand it back emptied
(TRUNCATE ... RESTART IDENTITY), so every test still starts from a fresh database.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from apf_core.storage.db import Database, sqlite_url

# The API client ships inside the integration (custom_components/autoprintfarm/apf_client) and is
# also a standalone package: tests import it as `apf_client`. Appended, not prepended, so that the
# integration's platform modules (select.py, ...) never shadow the standard library.
sys.path.append(str(Path(__file__).resolve().parent.parent / "custom_components" / "autoprintfarm"))

PG_URL = os.environ.get("APF_TEST_DATABASE_URL")
# every JSON success the server sends in a test is validated against its documented schema
os.environ.setdefault("APF_CHECK_RESPONSES", "1")

pytest_plugins = ["tests.secret_audit"]


@pytest.fixture(autouse=True)
def _responses_match_their_schema() -> Iterator[None]:
    """A response that departs from its OpenAPI schema fails the test that caused it, even
    when the test did not look at the status (apf_core.api.response_check)."""
    from apf_core.api.response_check import MISMATCHES

    MISMATCHES.clear()
    yield
    found, MISMATCHES[:] = list(MISMATCHES), []
    assert not found, "responses departed from their documented schema:\n" + "\n".join(found)


@pytest.fixture(autouse=True)
def _loopback_sockets(request: pytest.FixtureRequest) -> None:
    """Our servers and peers listen on loopback. The Home Assistant test plugin, when it is
    loaded, blocks sockets for every test; outside tests/ha they are allowed again."""
    if "tests/ha" in str(request.node.path):
        return
    try:
        import pytest_socket
    except ImportError:
        return
    pytest_socket.enable_socket()


BACKENDS = [
    "sqlite",
    pytest.param(
        "postgresql",
        marks=pytest.mark.skipif(
            not PG_URL,
            reason="PostgreSQL run: set APF_TEST_DATABASE_URL (scripts/test does when it answers)",
        ),
    ),
]


async def _migrate(db: Database) -> None:
    try:
        await db.migrate()
    finally:
        await db.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to every head, copied for each test."""
    path = tmp_path_factory.mktemp("template") / "apf.db"
    asyncio.run(_migrate(Database(sqlite_url(path))))
    return path


class PgSchemaPool:
    """Migrated PostgreSQL schemas, reused after being emptied."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.plain = url.replace("postgresql+asyncpg://", "postgresql://")
        self.free: list[str] = []
        self.all: list[str] = []

    async def take(self) -> str:
        if self.free:
            return self.free.pop()
        import asyncpg

        schema = f"t_{uuid.uuid4().hex[:12]}"
        conn = await asyncpg.connect(self.plain)
        try:
            await conn.execute(f'CREATE SCHEMA "{schema}"')
        finally:
            await conn.close()
        self.all.append(schema)
        await _migrate(Database(self.url, schema=schema))
        return schema

    async def give_back(self, schema: str) -> None:
        import asyncpg

        conn = await asyncpg.connect(self.plain)
        try:
            tables = await conn.fetch(
                "SELECT tablename FROM pg_tables WHERE schemaname = $1 AND tablename <> 'alembic_version'",
                schema,
            )
            if tables:
                names = ", ".join(f'"{schema}"."{t["tablename"]}"' for t in tables)
                await conn.execute(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
        finally:
            await conn.close()
        self.free.append(schema)

    def drop_all(self) -> None:
        async def drop() -> None:
            import asyncpg

            conn = await asyncpg.connect(self.plain)
            try:
                for schema in self.all:
                    await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            finally:
                await conn.close()

        if self.all:
            asyncio.run(drop())


@pytest.fixture(scope="session")
def pg_pool() -> Iterator[PgSchemaPool | None]:
    if not PG_URL:
        yield None
        return
    pool = PgSchemaPool(PG_URL)
    yield pool
    pool.drop_all()


@pytest.fixture(params=BACKENDS)
async def database(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    sqlite_template: Path,
    pg_pool: PgSchemaPool | None,
) -> AsyncIterator[Database]:
    """A fresh, migrated database per test: always SQLite, and PostgreSQL when configured."""
    if request.param == "sqlite":
        path = tmp_path / "apf.db"
        shutil.copyfile(sqlite_template, path)
        db = Database(sqlite_url(path))
        yield db
        await db.dispose()
        return
    assert pg_pool is not None
    schema = await pg_pool.take()
    db = Database(pg_pool.url, schema=schema)
    try:
        yield db
    finally:
        await db.dispose()
        await pg_pool.give_back(schema)


class DemoTemplates:
    """The demo farm, seeded once per backend and copied into each test's database."""

    def __init__(self, root: Path, sqlite_template: Path, pg_pool: PgSchemaPool | None) -> None:
        self.root = root
        self.sqlite_template = sqlite_template
        self.pg_pool = pg_pool
        self.built: dict[str, tuple[Database, Path]] = {}

    async def _build(self, dialect: str) -> tuple[Database, Path]:
        from apf_core.testing import running_farm

        data_dir = self.root / f"{dialect}-data"
        if dialect == "sqlite":
            path = self.root / "demo.db"
            shutil.copyfile(self.sqlite_template, path)
            db = Database(sqlite_url(path))
        else:
            assert self.pg_pool is not None
            db = Database(self.pg_pool.url, schema=await self.pg_pool.take())
        previous = os.environ.get("APF_AUTO_DISPATCH")
        os.environ["APF_AUTO_DISPATCH"] = "0"
        try:
            async with running_farm(data_dir, demo=True, db=db):
                pass
        finally:
            if previous is None:
                os.environ.pop("APF_AUTO_DISPATCH", None)
            else:
                os.environ["APF_AUTO_DISPATCH"] = previous
        return db, data_dir

    async def restore(self, db: Database, data_dir: Path) -> None:
        """Make ``db`` and ``data_dir`` a copy of the seeded demo farm."""
        dialect = db.dialect
        if dialect not in self.built:
            self.built[dialect] = await self._build(dialect)
        template, template_dir = self.built[dialect]
        shutil.copytree(template_dir, data_dir, dirs_exist_ok=True)
        await db.dispose()
        if dialect == "sqlite":
            shutil.copyfile(template.url.split("///", 1)[1], db.url.split("///", 1)[1])
            return
        import asyncpg

        assert self.pg_pool is not None
        source = _schema_of(template)
        target = _schema_of(db)
        conn = await asyncpg.connect(self.pg_pool.plain)
        try:
            async with conn.transaction():
                await conn.execute("SET LOCAL session_replication_role = replica")
                tables = await conn.fetch(
                    "SELECT tablename FROM pg_tables WHERE schemaname = $1 "
                    "AND tablename <> 'alembic_version'",
                    source,
                )
                for row in tables:
                    name = row["tablename"]
                    await conn.execute(
                        f'INSERT INTO "{target}"."{name}" SELECT * FROM "{source}"."{name}"'
                    )
                serials = await conn.fetch(
                    "SELECT table_name, column_name FROM information_schema.columns "
                    "WHERE table_schema = $1 AND column_default LIKE 'nextval%'",
                    target,
                )
                for row in serials:
                    table, column = row["table_name"], row["column_name"]
                    await conn.execute(
                        f"SELECT setval(pg_get_serial_sequence('\"{target}\".\"{table}\"', '{column}'), "
                        f'COALESCE((SELECT MAX("{column}") FROM "{target}"."{table}"), 0) + 1, false)'
                    )
        finally:
            await conn.close()


def _schema_of(db: Database) -> str:
    assert db.schema is not None
    return db.schema


@pytest.fixture(scope="session")
def demo_templates(
    tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path, pg_pool: PgSchemaPool | None
) -> DemoTemplates:
    return DemoTemplates(tmp_path_factory.mktemp("demo"), sqlite_template, pg_pool)
