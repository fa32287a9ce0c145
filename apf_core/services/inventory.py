"""Finished-goods inventory (reference 3.3): lists, detail with kit numbers, adjustments."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import voluptuous as vol
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from ..errors import BadRequest, Conflict, NotFound, ValidationFailed
from ..storage.tables.catalogue import skus
from ..timeutil import utcnow
from .bom import (
    available_to_build,
    children_of,
    effective_status,
    inventory_of,
    kit_numbers,
    parts_on_hand,
)
from .conflicts import unique_conflicts
from .row_schema import nullable, row_schema
from .stock import (
    FG,
    FG_FIELDS,
    FG_STATUSES,
    LOW_SQL,
    MAX_STOCK,
    STATUS_SQL,
    create_fg,
    fg_for_sku,
    fg_row,
    fg_select,
    fg_view,
    is_low,
    move_stock,
    refresh_status,
)

if TYPE_CHECKING:
    from ..farm import Farm

Rows = list[dict[str, Any]]  # (class methods named `list` shadow the builtin)

#: reasons a client may give; internal ones (print_completion, order_fulfillment,
#: assembly_completed) are written only by the server
ADJUST_REASONS = ("manual", "inventory_count", "correction", "damaged", "returned")
ASSEMBLY_STATES = ("printed", "needs_assembly", "assembled")

_STOCK_STATE = vol.In(FG_STATUSES)
#: :func:`~.stock.fg_view`: ``sku``, ``color`` and ``material`` come from the SKU, ``status``
#: is computed on every read
FG_SCHEMA = row_schema(
    FG,
    FG_FIELDS,
    {"sku": str, "color": nullable(str), "material": nullable(str), "status": _STOCK_STATE},
)
FG_DETAIL_SCHEMA = {
    **FG_SCHEMA,
    vol.Required("product_id"): str,
    vol.Required("product_name"): str,
    vol.Required("is_composite"): bool,
    vol.Required("available_to_build"): int,
    vol.Required("effective_status"): _STOCK_STATE,
    vol.Required("parts_on_hand"): nullable(
        [
            {
                vol.Required("part_sku_id"): str,
                vol.Required("part_name"): str,
                vol.Required("color"): nullable(str),
                vol.Required("on_hand"): int,
                vol.Required("quantity_per_kit"): int,
                vol.Required("enough_for_one_kit"): bool,
            }
        ]
    ),
}
ALERT_SCHEMA = {**FG_SCHEMA, vol.Required("product_name"): str}
ADJUSTED_SCHEMA = {
    vol.Required("id"): str,
    vol.Required("previous_stock"): int,
    vol.Required("adjustment"): int,
    vol.Required("new_stock"): int,
    vol.Required("previous_status"): _STOCK_STATE,
    vol.Required("new_status"): _STOCK_STATE,
    vol.Required("is_low_stock"): bool,
    vol.Required("reason"): vol.In(ADJUST_REASONS),
}
_COUNTS = {vol.Required(state): int for state in FG_STATUSES}
STATS_SCHEMA = {
    vol.Required("total_items"): int,
    **_COUNTS,
    vol.Required("by_status"): _COUNTS,
    vol.Required("total_stock"): int,
    vol.Required("total_units_awaiting_assembly"): int,
}


async def low_stock_rows(conn: AsyncConnection) -> Rows:
    """The items that need restocking, largest deficit first: active finished goods at or
    under their threshold (:data:`~.stock.LOW_SQL`), less the kits whose parts on hand could
    be assembled to a healthy level. ``/inventory/alerts`` lists exactly these rows, and the
    low-stock counts and lists of ``/analytics/inventory`` and ``/analytics/overview`` are
    taken from them."""
    query = (
        fg_select()
        .where(FG.c.is_active.is_(True), LOW_SQL)
        .order_by((FG.c.low_stock_threshold - FG.c.ready_stock).desc(), skus.c.sku, FG.c.id)
    )
    rows = [dict(r) for r in (await conn.execute(query)).mappings()]
    kit_ids = [r["product_sku_id"] for r in rows if r["is_composite"]]
    children = await children_of(conn, kit_ids)
    extras = await inventory_of(conn, kit_ids)
    out = []
    for row in rows:
        if row["is_composite"]:
            sku_id = row["product_sku_id"]
            buildable = available_to_build(children[sku_id], extras[sku_id])
            if effective_status(row, True, buildable) == "in_stock":
                continue
        out.append(row)
    return out


async def detail_view(conn: AsyncConnection, row: dict[str, Any]) -> dict[str, Any]:
    numbers = await kit_numbers(conn, row["product_sku_id"], bool(row["is_composite"]), row)
    return {
        **fg_view(row),
        "product_id": row["product_id"],
        "product_name": row["product_name"],
        "is_composite": bool(row["is_composite"]),
        "available_to_build": numbers["available_to_build"],
        "effective_status": numbers["effective_status"],
        "parts_on_hand": parts_on_hand(numbers["children"]) if row["is_composite"] else None,
    }


class InventoryService:
    def __init__(self, farm: Farm) -> None:
        self.farm = farm
        self.db = farm.db

    async def list(
        self,
        *,
        low_stock: bool | None = None,
        sku: str | None = None,
        material: str | None = None,
        status: str | None = None,
        is_active: bool | None = None,
        limit: int | None = None,
        offset: int | None = None,
    ) -> Rows:
        query = fg_select()
        if low_stock:  # low and active, as AutoPrintFarm filters it
            query = query.where(LOW_SQL, FG.c.is_active.is_(True))
        elif low_stock is not None:
            query = query.where(~LOW_SQL)
        if is_active is not None:
            query = query.where(FG.c.is_active.is_(is_active))
        if sku is not None:
            query = query.where(skus.c.sku == sku)
        if material is not None:
            query = query.where(skus.c.filament_type == material)
        if status is not None:
            query = query.where(STATUS_SQL.in_([status]))
        query = query.order_by(skus.c.sku, FG.c.id)
        if limit is not None:
            query = query.limit(limit)
        if offset:
            query = query.offset(offset)
        async with self.db.read() as conn:
            return [fg_view(dict(r)) for r in (await conn.execute(query)).mappings()]

    async def get(self, fg_id: str) -> dict[str, Any]:
        async with self.db.read() as conn:
            return await detail_view(conn, await self._row(conn, fg_id))

    async def by_sku(self, sku_id: str) -> dict[str, Any]:
        async with self.db.read() as conn:
            row = await fg_for_sku(conn, sku_id)
            if row is None:
                raise NotFound("No inventory item for this SKU", code="INVENTORY_NOT_FOUND")
            return await detail_view(conn, row)

    @unique_conflicts
    async def create(self, body: dict[str, Any]) -> dict[str, Any]:
        async with self.db.begin() as conn:
            sku = (
                await conn.execute(select(skus.c.id).where(skus.c.id == body["product_sku_id"]))
            ).first()
            if sku is None:
                raise NotFound("SKU not found", code="SKU_NOT_FOUND")
            if await fg_for_sku(conn, body["product_sku_id"]) is not None:
                raise Conflict("This SKU already has an inventory item", code="DUPLICATE_INVENTORY")
            fg_id = await create_fg(
                conn,
                body["product_sku_id"],
                threshold=body.get("low_stock_threshold", 5),
                image_url=body.get("image_url"),
            )
            if body.get("ready_stock"):  # opening stock goes through the ledger too
                await move_stock(
                    self.farm,
                    conn,
                    fg_id,
                    body["ready_stock"],
                    reason="inventory_count",
                    notes="opening stock",
                    reference_type="manual",
                )
            return fg_view(await self._row(conn, fg_id))

    async def update(self, fg_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        values = {
            k: v for k, v in changes.items() if k in ("image_url", "assembly_status", "is_active")
        }
        async with self.db.begin() as conn:
            await self._row(conn, fg_id)
            if values:
                await conn.execute(
                    update(FG).where(FG.c.id == fg_id).values(**values, updated_at=utcnow())
                )
            return fg_view(await self._row(conn, fg_id))

    async def set_threshold(self, fg_id: str, threshold: int) -> dict[str, Any]:
        async with self.db.begin() as conn:
            row = await self._row(conn, fg_id)
            await conn.execute(
                update(FG)
                .where(FG.c.id == fg_id)
                .values(low_stock_threshold=threshold, updated_at=utcnow())
            )
            await conn.execute(
                update(skus)
                .where(skus.c.id == row["product_sku_id"])
                .values(low_stock_threshold=threshold)
            )
            await refresh_status(conn, fg_id)
            view = fg_view(await self._row(conn, fg_id))
            was_low = is_low(row["ready_stock"], row["low_stock_threshold"])
            if not was_low and is_low(view["ready_stock"], threshold):
                await self.farm.events.emit(conn, "inventory.low_stock", view)
            return view

    async def adjust(
        self, fg_id: str, adjustment: int, reason: str, notes: str | None
    ) -> dict[str, Any]:
        """Signed change of ``ready_stock``; refused (400) when it would go below zero."""
        async with self.db.begin() as conn:
            move = await move_stock(
                self.farm,
                conn,
                fg_id,
                adjustment,
                reason=reason,
                notes=notes,
                reference_type="manual",
            )
            if move is None:
                row = await self._row(conn, fg_id)
                if row["ready_stock"] + adjustment > MAX_STOCK:
                    raise ValidationFailed(
                        f"Adjustment of {adjustment} would take stock above {MAX_STOCK}",
                        extra={
                            "details": [
                                {"field": "adjustment", "message": f"stock above {MAX_STOCK}"}
                            ]
                        },
                    )
                raise BadRequest(
                    f"Adjustment of {adjustment} would make stock negative "
                    f"(ready_stock is {row['ready_stock']})",
                    code="INSUFFICIENT_STOCK",
                    extra={"current_stock": row["ready_stock"]},
                )
            result = {
                "id": fg_id,
                "previous_stock": move.previous,
                "adjustment": adjustment,
                "new_stock": move.new,
                "previous_status": move.previous_status,
                "new_status": move.new_status,
                "is_low_stock": move.is_low_stock,
                "reason": reason,
            }
            await self.farm.events.emit(conn, "inventory.adjusted", result)
        return result

    async def alerts(self) -> Rows:
        """:func:`low_stock_rows`, each with its product name."""
        async with self.db.read() as conn:
            rows = await low_stock_rows(conn)
        return [{**fg_view(row), "product_name": row["product_name"]} for row in rows]

    async def stats(self) -> dict[str, Any]:
        status = STATUS_SQL.label("stock_state")  # not "status": the stored column has that name
        query = (
            select(status, func.count(), func.coalesce(func.sum(FG.c.ready_stock), 0))
            .where(FG.c.is_active.is_(True))
            .group_by(status)
        )
        async with self.db.read() as conn:
            rows = (await conn.execute(query)).all()
            needs = await conn.scalar(
                select(func.coalesce(func.sum(FG.c.quantity_needs_assembly), 0)).where(
                    FG.c.is_active.is_(True)
                )
            )
        by_status = dict.fromkeys(FG_STATUSES, 0)
        total_stock = 0
        for status, count, stock in rows:
            by_status[status] = int(count)
            total_stock += int(stock)
        return {
            "total_items": sum(by_status.values()),
            **by_status,
            "by_status": dict(by_status),
            "total_stock": total_stock,
            "total_units_awaiting_assembly": int(needs or 0),
        }

    async def _row(self, conn: AsyncConnection, fg_id: str) -> dict[str, Any]:
        row = await fg_row(conn, fg_id)
        if row is None:
            raise NotFound("Inventory item not found", code="INVENTORY_NOT_FOUND")
        return row
