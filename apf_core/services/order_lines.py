"""Order lines: each matched to a catalogue SKU, which fills what the line leaves out."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from ..errors import BadRequest, ValidationFailed
from ..storage.tables.catalogue import products, skus
from ..timeutil import new_id
from .stock import fg_for_sku


async def item_row(
    conn: AsyncConnection,
    spec: dict[str, Any],
    index: int,
    order_id: str,
    created_at: datetime,
) -> dict[str, Any]:
    """Line ``index`` of an order, matched to its SKU (and finished good). A line without
    ``product_name`` takes the SKU's product name, one without ``unit_price`` the SKU's
    ``price`` (its finished good's ``unit_price``); a line the catalogue has no SKU for is
    refused."""
    sku = await match_sku(conn, spec, index)
    fg = await fg_for_sku(conn, sku["id"])
    name = spec.get("product_name") or await conn.scalar(
        select(products.c.name).where(products.c.id == sku["product_id"])
    )
    price = spec.get("unit_price")
    if price is None:
        price = fg["unit_price"] if fg else None
    if price is None:
        field = f"items.{index}.unit_price"
        message = (
            f"is required: SKU {sku['sku']} has no price (set the SKU's price, "
            "PATCH /skus/{id}, to leave unit_price out)"
        )
        raise ValidationFailed(
            f"Invalid body: {field}: {message}",
            extra={"details": [{"field": field, "message": message}]},
        )
    return {
        "id": new_id(),
        "order_id": order_id,
        "product_sku_id": sku["id"],
        "finished_good_id": fg["id"] if fg else None,
        "sku": spec["sku"],
        "product_name": name,
        "quantity": spec["quantity"],
        "unit_price": price,
        "total_price": price * spec["quantity"],
        "quantity_fulfilled": 0,
        "fulfillment_status": "pending",
        "notes": spec.get("notes"),
        "created_at": created_at,  # a microsecond apart: keeps the given line order
    }


async def match_sku(conn: AsyncConnection, spec: dict[str, Any], index: int) -> dict[str, Any]:
    """The SKU a line names, by ``product_sku_id`` or else by its ``sku`` code."""
    if spec.get("product_sku_id"):
        row = (
            (await conn.execute(select(skus).where(skus.c.id == spec["product_sku_id"])))
            .mappings()
            .first()
        )
        if row is None:
            raise BadRequest(
                f"Unknown product_sku_id {spec['product_sku_id']}", code="INVALID_PRODUCT_SKU"
            )
        return dict(row)
    row = (await conn.execute(select(skus).where(skus.c.sku == spec["sku"]))).mappings().first()
    if row is None:
        raise BadRequest(
            f"items[{index}].sku: no SKU '{spec['sku']}' in the catalogue; create it "
            "first or give product_sku_id",
            code="INVALID_PRODUCT_SKU",
            field=f"items[{index}].sku",
        )
    return dict(row)
