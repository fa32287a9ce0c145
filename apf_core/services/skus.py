"""SKUs, their one-level BOMs, and colour presets (reference 3.5)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import voluptuous as vol
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from ..errors import BadRequest, Conflict, NotFound, ValidationFailed
from ..storage.tables.catalogue import (
    bom_children,
    bom_inventory,
    finished_goods,
    products,
    skus,
)
from ..timeutil import new_id, utcnow
from .bom import bom_view, inventory_items, kit_numbers
from .catalogue import product_row
from .common import fetch_one, project
from .conflicts import field_error, unique_conflicts
from .row_schema import nullable, row_schema
from .stock import FG_STATUSES, MAX_STOCK, create_fg, fg_for_sku, refresh_status

if TYPE_CHECKING:
    from ..farm import Farm

Strings = list[str]
Rows = list[dict[str, Any]]  # (class methods named `list` shadow the builtin)

SKU_FIELDS = (
    "id",
    "product_id",
    "sku",
    "color",
    "filament_type",
    "hex_code",
    "quantity",
    "stock_level",
    "low_stock_threshold",
    "is_active",
    "is_composite",
    "created_at",
    "updated_at",
    "finished_goods_stock",
    "price",
)
SKU_PATCHABLE = ("sku", "color", "hex_code", "low_stock_threshold", "is_active")
#: ``price`` (integer cents, null when unset) is the finished good's ``unit_price``: what an
#: order line with this SKU and no ``unit_price`` costs
SKU_SCHEMA = row_schema(skus, SKU_FIELDS, {"finished_goods_stock": int, "price": nullable(int)})
SKU_DETAIL_SCHEMA = {
    **SKU_SCHEMA,
    vol.Required("available_to_build"): int,
    vol.Required("effective_status"): vol.In(FG_STATUSES),
}
SKU_ADJUST_SCHEMA = {
    vol.Required("id"): str,
    vol.Required("previous_stock_level"): int,
    vol.Required("adjustment"): int,
    vol.Required("new_stock_level"): int,
    vol.Required("is_low_stock"): bool,
    vol.Required("reason"): nullable(str),
}
DEFAULT_THRESHOLD = 5


async def sku_views(conn: AsyncConnection, rows: Rows) -> Rows:
    """SKU_FIELDS of each row, with its finished good's ready stock and price."""
    ids = [r["id"] for r in rows]
    fgs: dict[str, dict[str, Any]] = {}
    if ids:
        fg = finished_goods.c
        found = await conn.execute(
            select(fg.product_sku_id, fg.ready_stock, fg.unit_price).where(
                fg.product_sku_id.in_(ids)
            )
        )
        fgs = {
            r.product_sku_id: {"finished_goods_stock": int(r.ready_stock), "price": r.unit_price}
            for r in found
        }
    empty = {"finished_goods_stock": 0, "price": None}
    return [project({**r, **fgs.get(r["id"], empty)}, SKU_FIELDS) for r in rows]


async def set_price(conn: AsyncConnection, sku_id: str, price: int | None) -> None:
    """The SKU's price (its finished good's ``unit_price``); null clears it."""
    fg = await fg_for_sku(conn, sku_id)
    fg_id = fg["id"] if fg is not None else await create_fg(conn, sku_id)
    await conn.execute(
        update(finished_goods)
        .where(finished_goods.c.id == fg_id)
        .values(unit_price=price, updated_at=utcnow())
    )


async def sku_row(
    conn: AsyncConnection, sku_id: str, *, for_update: bool = False
) -> dict[str, Any]:
    return await fetch_one(
        conn, skus, sku_id, code="SKU_NOT_FOUND", label="SKU", for_update=for_update
    )


async def check_sku_free(
    conn: AsyncConnection, code: str, *, exclude_id: str | None = None
) -> None:
    query = select(skus.c.id).where(skus.c.sku == code)
    if exclude_id:
        query = query.where(skus.c.id != exclude_id)
    if (await conn.execute(query)).first() is not None:
        raise Conflict(f"SKU code '{code}' already exists", code="DUPLICATE_SKU")


async def insert_sku(
    conn: AsyncConnection, product_id: str, body: dict[str, Any]
) -> dict[str, Any]:
    """A SKU and its finished-goods row (``ready_stock = 0``)."""
    await check_sku_free(conn, body["sku"])
    now = utcnow()
    threshold = body.get("low_stock_threshold", DEFAULT_THRESHOLD)
    row = {
        "id": new_id(),
        "product_id": product_id,
        "sku": body["sku"],
        "color": body.get("color"),
        "filament_type": body.get("filament_type"),
        "hex_code": _upper(body.get("hex_code")),
        "quantity": body.get("quantity", 1),
        "stock_level": 0,
        "low_stock_threshold": threshold,
        "is_active": body.get("is_active", True),
        "is_composite": False,
        "created_at": now,
        "updated_at": now,
    }
    await conn.execute(insert(skus).values(**row))
    await create_fg(conn, row["id"], threshold=threshold)
    if body.get("price") is not None:
        await set_price(conn, row["id"], body["price"])
    return row


def _upper(value: str | None) -> str | None:
    return value.upper() if isinstance(value, str) else value


def _visible() -> Any:
    """Internal kit-part SKUs are hidden from SKU lists."""
    return products.c.kind != "kit_part"


class SkuService:
    def __init__(self, farm: Farm) -> None:
        self.farm = farm
        self.db = farm.db

    async def list(self, **filters: Any) -> Rows:
        query = select(skus).select_from(skus.join(products)).where(_visible())
        for name in ("product_id", "color", "filament_type"):
            if filters.get(name) is not None:
                query = query.where(skus.c[name] == filters[name])
        if filters.get("is_active") is not None:
            query = query.where(skus.c.is_active.is_(filters["is_active"]))
        low = filters.get("low_stock")
        if low is not None:
            clause = skus.c.low_stock_threshold.is_not(None) & (
                skus.c.stock_level <= skus.c.low_stock_threshold
            )
            query = query.where(clause if low else ~clause)
        query = query.order_by(skus.c.sku)
        async with self.db.read() as conn:
            return await sku_views(conn, [dict(r) for r in (await conn.execute(query)).mappings()])

    async def low_stock(self) -> Rows:
        return await self.list(low_stock=True, is_active=True)

    async def get(self, sku_id: str) -> dict[str, Any]:
        async with self.db.read() as conn:
            row = await sku_row(conn, sku_id)
            view = (await sku_views(conn, [row]))[0]
            numbers = await kit_numbers(
                conn, sku_id, row["is_composite"], await fg_for_sku(conn, sku_id)
            )
        view["available_to_build"] = numbers["available_to_build"]
        view["effective_status"] = numbers["effective_status"]
        return view

    @unique_conflicts
    async def create(self, product_id: str, body: dict[str, Any]) -> dict[str, Any]:
        async with self.db.begin() as conn:
            await product_row(conn, product_id, for_update=True)
            row = await insert_sku(conn, product_id, body)
            view = (await sku_views(conn, [row]))[0]
            await self.farm.events.emit(conn, "sku.created", view)
        return view

    @unique_conflicts
    async def update(self, sku_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        async with self.db.begin() as conn:
            await sku_row(conn, sku_id, for_update=True)
            if "sku" in changes:
                await check_sku_free(conn, changes["sku"], exclude_id=sku_id)
            values = {k: v for k, v in changes.items() if k in SKU_PATCHABLE}
            if "hex_code" in values:
                values["hex_code"] = _upper(values["hex_code"])
            if values:
                await conn.execute(
                    update(skus).where(skus.c.id == sku_id).values(**values, updated_at=utcnow())
                )
            if "price" in changes:
                await set_price(conn, sku_id, changes["price"])
            if "low_stock_threshold" in values:
                fg = await fg_for_sku(conn, sku_id)
                if fg is not None:
                    await conn.execute(
                        update(finished_goods)
                        .where(finished_goods.c.id == fg["id"])
                        .values(
                            low_stock_threshold=values["low_stock_threshold"], updated_at=utcnow()
                        )
                    )
                    await refresh_status(conn, fg["id"])
            return (await sku_views(conn, [await sku_row(conn, sku_id)]))[0]

    async def adjust(self, sku_id: str, adjustment: int, reason: str | None) -> dict[str, Any]:
        """Component-level ``stock_level`` (not finished goods); never below zero."""
        async with self.db.begin() as conn:
            current = await sku_row(conn, sku_id)  # 404 first
            if current["stock_level"] + adjustment > MAX_STOCK:
                raise ValidationFailed(
                    f"Adjustment of {adjustment} would take stock above {MAX_STOCK}",
                    extra={"details": [{"field": "adjustment", "message": "stock too large"}]},
                )
            result = await conn.execute(
                update(skus)
                # compared with constants: a 32-bit column never overflows while checked
                .where(
                    skus.c.id == sku_id,
                    skus.c.stock_level >= -adjustment,
                    skus.c.stock_level <= MAX_STOCK - adjustment,
                )
                .values(stock_level=skus.c.stock_level + adjustment, updated_at=utcnow())
                .returning(skus.c.stock_level, skus.c.low_stock_threshold)
            )
            row = result.first()
            if row is None:
                current = await sku_row(conn, sku_id)
                raise BadRequest(
                    f"Adjustment would make stock negative (stock level {current['stock_level']})",
                    code="INVALID_STOCK_LEVEL",
                    extra={"current_stock_level": current["stock_level"]},
                )
        new, threshold = int(row[0]), row[1]
        return {
            "id": sku_id,
            "previous_stock_level": new - adjustment,
            "adjustment": adjustment,
            "new_stock_level": new,
            "is_low_stock": threshold is not None and new <= threshold,
            "reason": reason,
        }

    # --- BOM ----------------------------------------------------------------------
    async def bom(self, sku_id: str) -> dict[str, Any]:
        async with self.db.read() as conn:
            row = await sku_row(conn, sku_id)
            return await _bom(conn, row)

    async def replace_bom(self, sku_id: str, children: Rows, inventory: Rows) -> dict[str, Any]:
        async with self.db.begin() as conn:
            row = await sku_row(conn, sku_id, for_update=True)
            await write_bom(conn, row, children, inventory)
            return await _bom(conn, await sku_row(conn, sku_id))

    # --- sku_lookup extension (used by POST /jobs) --------------------------------
    @staticmethod
    async def lookup(conn: AsyncConnection, sku_id: str) -> dict[str, Any] | None:
        row = (
            (
                await conn.execute(
                    select(
                        skus, products.c.name.label("product_name"), products.c.requires_assembly
                    )
                    .select_from(skus.join(products))
                    .where(skus.c.id == sku_id)
                )
            )
            .mappings()
            .first()
        )
        if row is None:
            return None
        return {
            "product_id": row["product_id"],
            "product_name": row["product_name"],
            "sku": row["sku"],
            "color": row["color"],
            "filament_type": row["filament_type"],
            "requires_assembly": bool(row["requires_assembly"]),
        }


async def _bom(conn: AsyncConnection, row: dict[str, Any]) -> dict[str, Any]:
    numbers = await kit_numbers(conn, row["id"], True, await fg_for_sku(conn, row["id"]))
    return bom_view(row["id"], bool(row["is_composite"]), numbers)


async def _check_children(conn: AsyncConnection, sku_id: str, child_ids: list[str]) -> None:
    """A BOM lists each child once; children exist, are not kits, and the SKU is not a part
    itself (kits are one level deep)."""
    if len(set(child_ids)) != len(child_ids):
        raise BadRequest(
            "A child SKU is listed twice",
            code="VALIDATION_ERROR",
            extra=field_error("children", "a child SKU is listed twice"),
        )
    if child_ids:
        if sku_id in child_ids:
            raise BadRequest("A SKU cannot contain itself", code="NESTING_NOT_ALLOWED")
        used_as_child = await conn.scalar(
            select(func.count())
            .select_from(bom_children)
            .where(bom_children.c.child_sku_id == sku_id)
        )
        if used_as_child:
            raise BadRequest(
                "This SKU is a part of another kit; kits can only be one level deep",
                code="NESTING_NOT_ALLOWED",
            )
        found = {
            r.id: r
            for r in await conn.execute(
                select(skus.c.id, skus.c.sku, skus.c.is_composite).where(skus.c.id.in_(child_ids))
            )
        }
        for child_id in child_ids:
            if child_id not in found:
                raise NotFound(f"Child SKU {child_id} not found", code="SKU_NOT_FOUND")
            if found[child_id].is_composite:
                raise BadRequest(
                    f"Child SKU {found[child_id].sku} is itself a kit; nesting is not allowed",
                    code="NESTING_NOT_ALLOWED",
                )


async def write_bom(
    conn: AsyncConnection,
    row: dict[str, Any],
    children: Rows,
    inventory: Rows,
) -> None:
    """Atomically replace a SKU's BOM; an empty ``children`` makes it non-composite."""
    sku_id = row["id"]
    await _check_children(conn, sku_id, [c["child_sku_id"] for c in children])
    item_ids = [i["inventory_item_id"] for i in inventory]
    known = await inventory_items(conn, item_ids)
    for item_id in item_ids:
        if item_id not in known:
            raise NotFound(f"Inventory item {item_id} not found", code="UNKNOWN_INVENTORY_ITEM")
    now = utcnow()
    await conn.execute(delete(bom_children).where(bom_children.c.parent_sku_id == sku_id))
    await conn.execute(delete(bom_inventory).where(bom_inventory.c.sku_id == sku_id))
    for child in children:
        await conn.execute(
            insert(bom_children).values(
                id=new_id(),
                parent_sku_id=sku_id,
                child_sku_id=child["child_sku_id"],
                quantity_required=child.get("quantity_required", 1),
                created_at=now,
            )
        )
    for item in inventory:
        await conn.execute(
            insert(bom_inventory).values(
                id=new_id(),
                sku_id=sku_id,
                inventory_item_id=item["inventory_item_id"],
                quantity_required=item.get("quantity_required", 1),
                created_at=now,
            )
        )
    await conn.execute(
        update(skus).where(skus.c.id == sku_id).values(is_composite=bool(children), updated_at=now)
    )
