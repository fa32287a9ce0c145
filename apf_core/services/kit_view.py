"""A kit product's parts, variants and bundle extras as ``GET /products/{id}`` shows them,
and the schema of the product detail they belong to."""

from __future__ import annotations

from typing import Any

import voluptuous as vol
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from ..storage.tables.catalogue import kit_parts, skus
from ..storage.tables.spine import print_files
from ..timeutil import iso
from .bom import children_of, inventory_of
from .catalogue import COMPONENT_SCHEMA, PRODUCT_SCHEMA
from .row_schema import TIMESTAMP, nullable
from .skus import SKU_SCHEMA

Rows = list[dict[str, Any]]

_EXTRA_SCHEMA = {
    vol.Required("id"): str,
    vol.Required("sku_id"): str,
    vol.Required("inventory_item_id"): str,
    vol.Required("quantity_required"): int,
    vol.Required("created_at"): TIMESTAMP,
    vol.Required("item_name"): nullable(str),
    vol.Required("remaining"): int,
}
#: a part's assembly aids, stored as given (``component_type`` and ``notes`` when given)
_PART_COMPONENT_SCHEMA = {
    vol.Required("component_name"): str,
    vol.Optional("component_type"): nullable(str),
    vol.Required("quantity_required"): int,
    vol.Optional("notes"): nullable(str),
}
_PART_SCHEMA = {
    vol.Required("part_id"): str,
    vol.Required("name"): str,
    vol.Required("print_file_id"): str,
    vol.Required("file_name"): nullable(str),
    vol.Required("quantity_per_kit"): int,
    vol.Required("fixed_color"): nullable(str),
    vol.Required("requires_assembly"): bool,
    vol.Required("components"): [_PART_COMPONENT_SCHEMA],
    vol.Required("variants"): [
        {
            vol.Required("kit_sku_id"): str,
            vol.Required("kit_color"): nullable(str),
            vol.Required("child_sku_id"): str,
            vol.Required("child_sku"): str,
            vol.Required("child_color"): nullable(str),
            vol.Required("child_on_hand"): int,
        }
    ],
}
KIT_SCHEMA = {
    vol.Required("parts"): [_PART_SCHEMA],
    vol.Required("bundle_extras"): [_EXTRA_SCHEMA],
    vol.Required("bundle_extras_by_variant"): {str: [_EXTRA_SCHEMA]},
}
#: ``GET /products/{id}`` (and what kit create/replace answer): the product with its SKUs,
#: components and, for a kit, its parts and bundle extras
PRODUCT_DETAIL_SCHEMA = {
    **PRODUCT_SCHEMA,
    vol.Required("skus"): [SKU_SCHEMA],
    vol.Required("components"): [COMPONENT_SCHEMA],
    vol.Required("kit"): nullable(KIT_SCHEMA),
}


async def kit_view(conn: AsyncConnection, kit: dict[str, Any]) -> dict[str, Any]:
    parts = [
        dict(r)
        for r in (
            await conn.execute(
                select(kit_parts)
                .where(kit_parts.c.kit_product_id == kit["id"])
                .order_by(kit_parts.c.sort_order, kit_parts.c.id)
            )
        ).mappings()
    ]
    kit_skus = [
        dict(r)
        for r in (
            await conn.execute(
                select(skus).where(skus.c.product_id == kit["id"]).order_by(skus.c.sku)
            )
        ).mappings()
    ]
    sku_ids = [s["id"] for s in kit_skus]
    children = await children_of(conn, sku_ids)
    extras = await inventory_of(conn, sku_ids)
    file_ids = [p["print_file_id"] for p in parts]
    names = {
        r.id: r.name
        for r in await conn.execute(
            select(print_files.c.id, print_files.c.name).where(print_files.c.id.in_(file_ids))
        )
    }
    part_views = [_part_view(part, kit_skus, children, names) for part in parts]
    by_variant: dict[str, Rows] = {}
    flat = []
    for kit_sku in kit_skus:
        for line in extras[kit_sku["id"]]:
            view = {
                "id": line["id"],
                "sku_id": line["sku_id"],
                "inventory_item_id": line["inventory_item_id"],
                "quantity_required": line["quantity_required"],
                "created_at": iso(line["created_at"]),
                "item_name": line["item_name"],
                "remaining": line["remaining"],
            }
            flat.append(view)
            by_variant.setdefault(kit_sku["id"], []).append(view)
    return {"parts": part_views, "bundle_extras": flat, "bundle_extras_by_variant": by_variant}


def _part_view(
    part: dict[str, Any], kit_skus: Rows, children: dict[str, Rows], names: dict[str, str]
) -> dict[str, Any]:
    """One kit part with the child SKU each variant uses for it."""
    variants = [
        {
            "kit_sku_id": kit_sku["id"],
            "kit_color": kit_sku["color"],
            "child_sku_id": child["child_sku_id"],
            "child_sku": child["child_sku"],
            "child_color": child["child_color"],
            "child_on_hand": int(child["child_ready_stock"]),
        }
        for kit_sku in kit_skus
        for child in children[kit_sku["id"]]
        if child["child_product_id"] == part["part_product_id"]
    ]
    return {
        "part_id": part["id"],
        "name": part["name"],
        "print_file_id": part["print_file_id"],
        "file_name": names.get(part["print_file_id"]),
        "quantity_per_kit": part["quantity_per_kit"],
        "fixed_color": part["fixed_color"],
        "requires_assembly": bool(part["requires_assembly"]),
        "components": part["components"] or [],
        "variants": variants,
    }
