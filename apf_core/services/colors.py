"""Colour presets (reference 3.5): names, hex codes and filament types."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from ..errors import Conflict
from ..storage.tables.catalogue import colors
from ..timeutil import new_id, utcnow
from .common import fetch_one, project
from .conflicts import unique_conflicts
from .row_schema import row_schema

if TYPE_CHECKING:
    from ..farm import Farm

Strings = list[str]
Rows = list[dict[str, Any]]  # (class methods named `list` shadow the builtin)

COLOR_FIELDS = (
    "id",
    "color_name",
    "hex_code",
    "filament_type",
    "is_active",
    "created_at",
    "updated_at",
)
COLOR_SCHEMA = row_schema(colors, COLOR_FIELDS)


class ColorService:
    def __init__(self, farm: Farm) -> None:
        self.farm = farm
        self.db = farm.db

    async def list(self, *, filament_type: str | None, is_active: bool | None) -> Rows:
        query = select(colors).order_by(colors.c.filament_type, colors.c.color_name)
        if filament_type is not None:
            query = query.where(func.upper(colors.c.filament_type) == filament_type.upper())
        if is_active is not None:
            query = query.where(colors.c.is_active.is_(is_active))
        async with self.db.read() as conn:
            return [project(dict(r), COLOR_FIELDS) for r in (await conn.execute(query)).mappings()]

    async def filament_types(self) -> Strings:
        query = (
            select(colors.c.filament_type)
            .distinct()
            .where(colors.c.is_active.is_(True))
            .order_by(colors.c.filament_type)
        )
        async with self.db.read() as conn:
            return [str(r[0]) for r in await conn.execute(query)]

    @unique_conflicts
    async def create(self, body: dict[str, Any]) -> dict[str, Any]:
        values = _normalise_color(body)
        async with self.db.begin() as conn:
            await self._check_free(conn, values["color_name"], values["filament_type"])
            now = utcnow()
            row = {
                "id": new_id(),
                "is_active": True,
                **values,
                "created_at": now,
                "updated_at": now,
            }
            await conn.execute(insert(colors).values(**row))
        return project(row, COLOR_FIELDS)

    @unique_conflicts
    async def update(self, color_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        async with self.db.begin() as conn:
            row = await fetch_one(
                conn, colors, color_id, code="COLOR_NOT_FOUND", label="Color", for_update=True
            )
            values = _normalise_color(changes)
            merged = {**row, **values}
            if "color_name" in values or "filament_type" in values:
                await self._check_free(
                    conn, merged["color_name"], merged["filament_type"], exclude_id=color_id
                )
            if values:
                await conn.execute(
                    update(colors)
                    .where(colors.c.id == color_id)
                    .values(**values, updated_at=utcnow())
                )
            row = await fetch_one(conn, colors, color_id, code="COLOR_NOT_FOUND", label="Color")
        return project(row, COLOR_FIELDS)

    @staticmethod
    async def _check_free(
        conn: AsyncConnection, name: str, filament_type: str, *, exclude_id: str | None = None
    ) -> None:
        # case-insensitive in Python (SQLite's upper() folds ASCII only)
        query = select(colors.c.color_name).where(
            func.length(colors.c.color_name) == len(name),
            colors.c.filament_type == filament_type,
        )
        if exclude_id:
            query = query.where(colors.c.id != exclude_id)
        wanted = name.upper()
        if any(str(row[0]).upper() == wanted for row in await conn.execute(query)):
            raise Conflict(
                f"Color preset '{name}' already exists for {filament_type}", code="DUPLICATE_COLOR"
            )


def _normalise_color(body: dict[str, Any]) -> dict[str, Any]:
    """Names, hex codes and filament types are stored uppercase, as the AutoPrintFarm
    reference normalises them (duplicates compare case-insensitively)."""
    values = {
        k: v
        for k, v in body.items()
        if k in ("color_name", "hex_code", "filament_type", "is_active")
    }
    for name in ("color_name", "hex_code", "filament_type"):
        if isinstance(values.get(name), str):
            values[name] = values[name].strip().upper()
    return values
