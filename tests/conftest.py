"""Shared fixtures: a database per test (SQLite always; PostgreSQL when configured)."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from apf_core.storage.db import Database, sqlite_url

PG_URL = os.environ.get("APF_TEST_DATABASE_URL")


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[Database]:
    """A fresh, migrated database: a SQLite file, or a throw-away PostgreSQL schema."""
    if not PG_URL:
        db = Database(sqlite_url(tmp_path / "apf.db"))
        yield db
        await db.dispose()
        return
    import asyncpg

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
