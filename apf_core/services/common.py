"""Helpers shared by services: projections, lookups, list queries."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, Table, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from ..errors import NotFound
from ..timeutil import iso


def project(row: Mapping[str, Any], fields: Iterable[str]) -> dict[str, Any]:
    """Pick ``fields`` from a row and make its values JSON-ready."""
    out: dict[str, Any] = {}
    for name in fields:
        value = row.get(name)
        if isinstance(value, datetime | date):
            value = iso(value)
        out[name] = value
    return out


async def fetch_one(
    conn: AsyncConnection,
    table: Table,
    row_id: str,
    *,
    code: str,
    label: str,
    for_update: bool = False,
) -> dict[str, Any]:
    """The row with ``id == row_id`` or a 404 with ``code``."""
    row = (await conn.execute(_by_id(table, for_update), {"row_id": row_id})).mappings().first()
    if row is None:
        raise NotFound(f"{label} not found", code=code)
    return dict(row)


@functools.cache
def _by_id(table: Table, for_update: bool) -> Select[Any]:
    """The select of one row by id, built (and its cache key made) once per table."""
    query = select(table).where(table.c.id == bindparam("row_id"))
    return query.with_for_update() if for_update else query


async def fetch_page(
    conn: AsyncConnection, query: Select[Any], limit: int, offset: int
) -> list[dict[str, Any]]:
    rows = (await conn.execute(query.limit(limit).offset(offset))).mappings()
    return [dict(r) for r in rows]


async def count(conn: AsyncConnection, query: Select[Any]) -> int:
    total = await conn.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    return int(total or 0)


def changed(values: Mapping[str, Any], allowed: Sequence[str]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if k in allowed}
