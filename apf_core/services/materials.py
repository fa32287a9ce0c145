"""Materials: filament spools and unit-counted stock (components, packaging, parts).

``status`` is derived, never stored: ``out_of_stock`` at or below zero,
``low_stock`` at or below ``low_threshold``, otherwise ``in_stock``. Crossing
into low or empty emits ``material.low`` / ``material.empty`` in the same
transaction. Component consumption is one conditional UPDATE, so concurrent
consumers can never drive stock below zero.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import voluptuous as vol
from sqlalchemy import ColumnElement, Table, and_, delete, func, insert, not_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from ..errors import BadRequest
from ..storage.tables.materials import (
    filament_spools,
    material_components,
    material_packaging,
    material_parts,
)
from ..timeutil import new_id, utcnow
from .common import fetch_one, project
from .row_schema import nullable, row_schema

if TYPE_CHECKING:
    from ..farm import Farm

CONSUME_REASONS = ("manual_adjustment", "damaged", "other")
_TIMES = ("created_at", "updated_at")


@dataclass(frozen=True, slots=True)
class MaterialKind:
    """One material family: its table, public fields and error code."""

    name: str
    label: str
    table: Table
    fields: tuple[str, ...]
    quantity: str  # the "remaining" column
    not_found: str
    order_by: tuple[str, ...]


FILAMENT = MaterialKind(
    name="filament",
    label="Filament spool",
    table=filament_spools,
    fields=(
        "id",
        "type",
        "color",
        "hex_code",
        "brand",
        "diameter",
        "remaining_grams",
        "spool_weight_grams",
        "low_threshold",
        "status",
        "location",
        *_TIMES,
    ),
    quantity="remaining_grams",
    not_found="FILAMENT_NOT_FOUND",
    order_by=("type", "color"),
)
COMPONENTS = MaterialKind(
    name="component",
    label="Component",
    table=material_components,
    fields=(
        "id",
        "type",
        "name",
        "color",
        "brand",
        "diameter",
        "size",
        "remaining_units",
        "low_threshold",
        "status",
        "location",
        *_TIMES,
    ),
    quantity="remaining_units",
    not_found="COMPONENT_NOT_FOUND",
    order_by=("type", "name"),
)
_UNIT_FIELDS = (
    "id",
    "type",
    "name",
    "color",
    "brand",
    "remaining_units",
    "low_threshold",
    "status",
    "location",
    *_TIMES,
)
PACKAGING = MaterialKind(
    name="packaging",
    label="Packaging item",
    table=material_packaging,
    fields=_UNIT_FIELDS,
    quantity="remaining_units",
    not_found="PACKAGING_NOT_FOUND",
    order_by=("type", "name"),
)
PARTS = MaterialKind(
    name="part",
    label="Part",
    table=material_parts,
    fields=_UNIT_FIELDS,
    quantity="remaining_units",
    not_found="PART_NOT_FOUND",
    order_by=("type", "name"),
)
KINDS = {k.name: k for k in (FILAMENT, COMPONENTS, PACKAGING, PARTS)}


MATERIAL_STATUSES = ("in_stock", "low_stock", "out_of_stock")


def material_schema(kind: MaterialKind) -> dict[Any, Any]:
    """What :func:`material_view` sends for ``kind``."""
    return row_schema(kind.table, kind.fields, {"status": vol.In(MATERIAL_STATUSES)})


CONSUME_SCHEMA = {
    vol.Required("component"): material_schema(COMPONENTS),
    vol.Required("consumed"): {
        vol.Required("quantity"): int,
        vol.Required("reason"): vol.In(CONSUME_REASONS),
        vol.Required("notes"): nullable(str),
        vol.Required("previous_quantity"): int,
        vol.Required("new_quantity"): int,
    },
}
AVAILABILITY_SCHEMA = {
    vol.Required("has_shortage"): bool,
    vol.Required("components"): [
        {
            vol.Required("component_type"): str,
            vol.Required("quantity_needed"): int,
            vol.Required("quantity_available"): int,
            vol.Required("has_shortage"): bool,
            vol.Required("shortage_amount"): int,
            vol.Required("component_id"): nullable(str),
        }
    ],
}


def stock_status(remaining: float | None, low_threshold: float | None) -> str:
    if remaining is None or remaining <= 0:
        return "out_of_stock"
    if low_threshold is not None and remaining <= low_threshold:
        return "low_stock"
    return "in_stock"


def low_stock_clause(table: Table, quantity: str) -> ColumnElement[bool]:
    """SQL twin of ``stock_status(...) != "in_stock"``."""
    remaining = table.c[quantity]
    threshold = table.c.low_threshold
    return or_(remaining <= 0, and_(threshold.is_not(None), remaining <= threshold))


def material_view(kind: MaterialKind, row: dict[str, Any]) -> dict[str, Any]:
    data = dict(row)
    data["status"] = stock_status(row[kind.quantity], row["low_threshold"])
    return project(data, kind.fields)


class MaterialService:
    def __init__(self, farm: Farm, kind: MaterialKind) -> None:
        self.farm = farm
        self.db = farm.db
        self.kind = kind
        self.table = kind.table

    async def list(
        self, *, low_stock: bool | None = None, type_: str | None = None, color: str | None = None
    ) -> list[dict[str, Any]]:
        t = self.table
        query = select(t).order_by(*(t.c[c] for c in self.kind.order_by), t.c.created_at, t.c.id)
        if low_stock is not None:
            clause = low_stock_clause(t, self.kind.quantity)
            query = query.where(clause if low_stock else not_(clause))
        if type_ is not None:
            query = query.where(t.c.type == type_)
        if color is not None:
            query = query.where(t.c.color == color)
        async with self.db.read() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [material_view(self.kind, dict(r)) for r in rows]

    async def get(self, item_id: str) -> dict[str, Any]:
        async with self.db.read() as conn:
            return material_view(self.kind, await self._row(conn, item_id))

    async def create(self, body: dict[str, Any]) -> dict[str, Any]:
        now = utcnow()
        row = (
            {column.name: None for column in self.table.columns}
            | {self.kind.quantity: 0}
            | body
            | {"id": new_id(), "created_at": now, "updated_at": now}
        )
        async with self.db.begin() as conn:
            await conn.execute(insert(self.table).values(**row))
            return material_view(self.kind, await self._row(conn, row["id"]))

    async def update(self, item_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        async with self.db.begin() as conn:
            before = await self._row(conn, item_id, for_update=True)
            if changes:
                await conn.execute(
                    update(self.table)
                    .where(self.table.c.id == item_id)
                    .values(**changes, updated_at=utcnow())
                )
            after = await self._row(conn, item_id)
            view = material_view(self.kind, after)
            await self._emit_crossing(conn, material_view(self.kind, before)["status"], view)
        return view

    async def delete(self, item_id: str) -> dict[str, Any]:
        async with self.db.begin() as conn:
            await self._row(conn, item_id, for_update=True)
            await conn.execute(delete(self.table).where(self.table.c.id == item_id))
        return {"id": item_id, "deleted": True}

    async def consume(
        self, item_id: str, quantity: int, reason: str, notes: str | None
    ) -> dict[str, Any]:
        """Take ``quantity`` units out; refused (nothing changes) if that would go below zero."""
        t = self.table
        remaining = t.c.remaining_units
        async with self.db.begin() as conn:
            result = await conn.execute(
                update(t)
                .where(t.c.id == item_id, remaining >= quantity)
                .values(remaining_units=remaining - quantity, updated_at=utcnow())
                .returning(remaining)
            )
            new_quantity = result.scalar_one_or_none()
            if new_quantity is None:
                row = await self._row(conn, item_id)
                raise BadRequest(
                    f"Cannot consume {quantity}: only {row['remaining_units']} available",
                    code="INSUFFICIENT_QUANTITY",
                    extra={"requested": quantity, "available": row["remaining_units"]},
                )
            view = material_view(self.kind, await self._row(conn, item_id))
            previous = int(new_quantity) + quantity
            before = stock_status(previous, view["low_threshold"])
            await self._emit_crossing(conn, before, view)
        return {
            "component": view,
            "consumed": {
                "quantity": quantity,
                "reason": reason,
                "notes": notes,
                "previous_quantity": previous,
                "new_quantity": int(new_quantity),
            },
        }

    async def check_availability(self, wanted: builtins.list[dict[str, Any]]) -> dict[str, Any]:
        """Compare needed quantities with stock summed per component type (read only)."""
        t = self.table
        types = sorted({w["component_type"] for w in wanted})
        stock_query = (
            select(t.c.type, func.sum(t.c.remaining_units))
            .where(t.c.type.in_(types))
            .group_by(t.c.type)
        )
        # the best-stocked component of each type represents it (component_id)
        best_query = (
            select(t.c.type, t.c.id)
            .where(t.c.type.in_(types))
            .order_by(t.c.type, t.c.remaining_units.desc(), t.c.id)
        )
        async with self.db.read() as conn:
            totals = {k: int(v or 0) for k, v in (await conn.execute(stock_query)).all()}
            best: dict[str, str] = {}
            for type_, item_id in (await conn.execute(best_query)).all():
                best.setdefault(type_, item_id)
        report = []
        for item in wanted:
            needed = int(item["quantity_needed"])
            available = totals.get(item["component_type"], 0)
            report.append(
                {
                    "component_type": item["component_type"],
                    "quantity_needed": needed,
                    "quantity_available": available,
                    "has_shortage": available < needed,
                    "shortage_amount": max(0, needed - available),
                    "component_id": best.get(item["component_type"]),
                }
            )
        return {"has_shortage": any(r["has_shortage"] for r in report), "components": report}

    async def _emit_crossing(
        self, conn: AsyncConnection, before: str, view: dict[str, Any]
    ) -> None:
        after = view["status"]
        if after == before or after == "in_stock":
            return
        event = "material.empty" if after == "out_of_stock" else "material.low"
        await self.farm.events.emit(conn, event, {"material": self.kind.name, **view})

    async def _row(
        self, conn: AsyncConnection, item_id: str, *, for_update: bool = False
    ) -> dict[str, Any]:
        return await fetch_one(
            conn,
            self.table,
            item_id,
            code=self.kind.not_found,
            label=self.kind.label,
            for_update=for_update,
        )
