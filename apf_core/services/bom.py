"""Bills of materials: one-level composite SKUs (kits) built from child SKUs and
material inventory items (components / packaging / parts of the materials area).
"""

from __future__ import annotations

from typing import Any

import voluptuous as vol
from sqlalchemy import Table, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from ..storage.tables import metadata
from ..storage.tables.catalogue import bom_children, bom_inventory, finished_goods, products, skus
from ..timeutil import utcnow
from .row_schema import nullable
from .stock import status_for

#: unit-counted material tables (owned by the materials area) a BOM may reference
INVENTORY_TABLES = ("material_components", "material_packaging", "material_parts")


def _inventory_tables() -> list[Table]:
    return [metadata.tables[name] for name in INVENTORY_TABLES if name in metadata.tables]


async def inventory_items(conn: AsyncConnection, ids: list[str]) -> dict[str, dict[str, Any]]:
    """``{id: {item_name, remaining, unit, table}}`` for the material items that exist."""
    found: dict[str, dict[str, Any]] = {}
    if not ids:
        return found
    for table in _inventory_tables():
        name = func.coalesce(table.c.name, table.c.type)
        rows = await conn.execute(
            select(table.c.id, name.label("item_name"), table.c.remaining_units).where(
                table.c.id.in_(ids)
            )
        )
        for row in rows:
            found[row.id] = {
                "item_name": row.item_name,
                "remaining": int(row.remaining_units),
                "unit": "units",
                "table": table.name,
            }
    return found


async def consume_inventory_item(
    conn: AsyncConnection, table_name: str, item_id: str, quantity: int
) -> bool:
    """Atomically take ``quantity`` units of a material item; False when short."""
    table = metadata.tables[table_name]
    result = await conn.execute(
        update(table)
        .where(table.c.id == item_id, table.c.remaining_units >= quantity)
        .values(remaining_units=table.c.remaining_units - quantity, updated_at=utcnow())
    )
    return bool(result.rowcount)


async def children_of(
    conn: AsyncConnection, parent_ids: list[str]
) -> dict[str, list[dict[str, Any]]]:
    """BOM children per parent SKU, with each child's SKU data and ready stock."""
    out: dict[str, list[dict[str, Any]]] = {pid: [] for pid in parent_ids}
    if not parent_ids:
        return out
    query = (
        select(
            bom_children.c.parent_sku_id,
            bom_children.c.child_sku_id,
            bom_children.c.quantity_required,
            skus.c.sku.label("child_sku"),
            skus.c.color.label("child_color"),
            skus.c.is_composite.label("child_is_composite"),
            skus.c.product_id.label("child_product_id"),
            products.c.name.label("child_product_name"),
            func.coalesce(finished_goods.c.ready_stock, 0).label("child_ready_stock"),
            finished_goods.c.id.label("child_fg_id"),
        )
        .select_from(
            bom_children.join(skus, skus.c.id == bom_children.c.child_sku_id)
            .join(products, products.c.id == skus.c.product_id)
            .outerjoin(finished_goods, finished_goods.c.product_sku_id == skus.c.id)
        )
        .where(bom_children.c.parent_sku_id.in_(parent_ids))
        .order_by(skus.c.sku)
    )
    for row in (await conn.execute(query)).mappings():
        out[row["parent_sku_id"]].append(dict(row))
    return out


async def inventory_of(
    conn: AsyncConnection, sku_ids: list[str]
) -> dict[str, list[dict[str, Any]]]:
    """BOM material lines per SKU, with item names and remaining units."""
    out: dict[str, list[dict[str, Any]]] = {sid: [] for sid in sku_ids}
    if not sku_ids:
        return out
    rows = [
        dict(r)
        for r in (
            await conn.execute(
                select(bom_inventory)
                .where(bom_inventory.c.sku_id.in_(sku_ids))
                .order_by(bom_inventory.c.created_at, bom_inventory.c.id)
            )
        ).mappings()
    ]
    items = await inventory_items(conn, sorted({r["inventory_item_id"] for r in rows}))
    for row in rows:
        item = items.get(row["inventory_item_id"], {})
        out[row["sku_id"]].append(
            {
                **row,
                "item_name": item.get("item_name"),
                "remaining": item.get("remaining", 0),
                "unit": item.get("unit", "units"),
                "table": item.get("table"),
            }
        )
    return out


def available_to_build(children: list[dict[str, Any]], inventory: list[dict[str, Any]]) -> int:
    """How many kits the parts on hand allow (0 for a SKU without children)."""
    if not children:
        return 0
    limits = [int(c["child_ready_stock"]) // max(1, int(c["quantity_required"])) for c in children]
    limits += [int(i["remaining"]) // max(1, int(i["quantity_required"])) for i in inventory]
    return max(0, min(limits))


def effective_status(fg: dict[str, Any] | None, is_composite: bool, buildable: int) -> str:
    """A kit counts what it could assemble now as well as what is boxed."""
    if fg is None:
        return "out_of_stock"
    if not is_composite:
        return str(fg["status"])
    return status_for(
        int(fg["ready_stock"]) + buildable,
        int(fg["quantity_needs_assembly"]),
        fg["low_stock_threshold"],
    )


def parts_on_hand(children: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "part_sku_id": c["child_sku_id"],
            "part_name": c["child_product_name"],
            "color": c["child_color"],
            "on_hand": int(c["child_ready_stock"]),
            "quantity_per_kit": int(c["quantity_required"]),
            "enough_for_one_kit": int(c["child_ready_stock"]) >= int(c["quantity_required"]),
        }
        for c in children
    ]


async def kit_numbers(
    conn: AsyncConnection, sku_id: str, is_composite: bool, fg: dict[str, Any] | None
) -> dict[str, Any]:
    """``available_to_build``, ``effective_status`` and the raw BOM rows of one SKU."""
    children = (await children_of(conn, [sku_id]))[sku_id] if is_composite else []
    inventory = (await inventory_of(conn, [sku_id]))[sku_id] if is_composite else []
    buildable = available_to_build(children, inventory)
    return {
        "available_to_build": buildable,
        "effective_status": effective_status(fg, is_composite, buildable),
        "children": children,
        "inventory": inventory,
    }


BOM_SCHEMA = {
    vol.Required("sku_id"): str,
    vol.Required("is_composite"): bool,
    vol.Required("available_to_build"): int,
    vol.Required("children"): [
        {
            vol.Required("child_sku_id"): str,
            vol.Required("quantity_required"): int,
            vol.Required("child_sku"): str,
            vol.Required("child_color"): nullable(str),
            vol.Required("child_is_composite"): bool,
            vol.Required("child_ready_stock"): int,
        }
    ],
    vol.Required("inventory"): [
        {
            vol.Required("inventory_item_id"): str,
            vol.Required("quantity_required"): int,
            vol.Required("item_name"): nullable(str),
            vol.Required("remaining"): int,
            vol.Required("unit"): str,
        }
    ],
}


def bom_view(sku_id: str, is_composite: bool, numbers: dict[str, Any]) -> dict[str, Any]:
    return {
        "sku_id": sku_id,
        "is_composite": is_composite,
        "available_to_build": numbers["available_to_build"],
        "children": [
            {
                "child_sku_id": c["child_sku_id"],
                "quantity_required": int(c["quantity_required"]),
                "child_sku": c["child_sku"],
                "child_color": c["child_color"],
                "child_is_composite": bool(c["child_is_composite"]),
                "child_ready_stock": int(c["child_ready_stock"]),
            }
            for c in numbers["children"]
        ],
        "inventory": [
            {
                "inventory_item_id": i["inventory_item_id"],
                "quantity_required": int(i["quantity_required"]),
                "item_name": i["item_name"],
                "remaining": int(i["remaining"]),
                "unit": i["unit"],
            }
            for i in numbers["inventory"]
        ],
    }
