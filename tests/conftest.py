"""Shared fixtures: a database per test (SQLite always; PostgreSQL when configured)."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from apf_core.storage.db import Database, sqlite_url

PG_URL = os.environ.get("APF_TEST_DATABASE_URL")


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
# Tests drive jobs by hand; tests/runtime turn auto-dispatch on where they test it.
os.environ.setdefault("APF_AUTO_DISPATCH", "0")


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


@pytest.fixture(params=BACKENDS)
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """A fresh database per test: always SQLite, and also PostgreSQL (a throw-away schema) when configured."""
    if request.param == "sqlite":
        db = Database(sqlite_url(tmp_path / "apf.db"))
        yield db
        await db.dispose()
        return
    import asyncpg

    assert PG_URL is not None
    schema = f"t_{uuid.uuid4().hex[:12]}"
    plain = PG_URL.replace("postgresql+asyncpg://", "postgresql://")
    conn = await asyncpg.connect(plain)
    try:
        await conn.execute(f'CREATE SCHEMA "{schema}"')
    finally:
        await conn.close()
    db = Database(PG_URL, schema=schema)
    yield db
    await db.dispose()
    conn = await asyncpg.connect(plain)
    try:
        await conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
    finally:
        await conn.close()
