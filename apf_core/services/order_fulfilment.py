"""Fulfilling order lines from ready stock, inside the caller's transaction
(:meth:`OrderService.fulfill` and :meth:`OrderService.fulfill_item`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncConnection

from ..errors import BadRequest
from ..storage.tables.orders import order_items
from .bom import available_to_build, children_of, inventory_of
from .stock import fg_for_sku, move_stock

if TYPE_CHECKING:
    from ..farm import Farm


def check_fulfillable(order: dict[str, Any]) -> None:
    if order["status"] in ("fulfilled", "shipped"):
        raise BadRequest("Order is already fulfilled", code="ORDER_ALREADY_FULFILLED")
    if order["status"] in ("cancelled", "refunded"):
        raise BadRequest(
            "Cannot fulfill a cancelled or refunded order", code="ORDER_CANNOT_FULFILL"
        )


async def deduct(
    farm: Farm, conn: AsyncConnection, order: dict[str, Any], item: dict[str, Any], quantity: int
) -> str | None:
    """Take ``quantity`` of a line from ready stock; an error string when impossible."""
    fulfilled = int(item["quantity_fulfilled"]) + quantity
    status = "fulfilled" if fulfilled >= int(item["quantity"]) else "partial"
    if item["product_sku_id"] is not None:
        fg = await fg_for_sku(conn, item["product_sku_id"])
        moved = None
        if fg is not None:
            moved = await move_stock(
                farm,
                conn,
                fg["id"],
                -quantity,
                reason="order_fulfillment",
                reference_type="order",
                reference_id=order["id"],
            )
        if moved is None:
            return await _shortage_message(conn, item, fg, quantity)
    await conn.execute(
        update(order_items)
        .where(order_items.c.id == item["id"])
        .values(quantity_fulfilled=fulfilled, fulfillment_status=status)
    )
    return None


async def _shortage_message(
    conn: AsyncConnection, item: dict[str, Any], fg: dict[str, Any] | None, quantity: int
) -> str:
    ready = int(fg["ready_stock"]) if fg else 0
    if fg is not None and fg["is_composite"]:
        sku_id = item["product_sku_id"]
        buildable = available_to_build(
            (await children_of(conn, [sku_id]))[sku_id],
            (await inventory_of(conn, [sku_id]))[sku_id],
        )
        if ready + buildable >= quantity:
            return (
                f"KIT_NOT_ASSEMBLED: {item['sku']} needs {quantity}, {ready} assembled; "
                f"assemble {quantity - ready} more kit(s) first"
            )
        return (
            f"KIT_NOT_PRODUCED: {item['sku']} needs {quantity}, {ready} assembled and parts "
            f"for only {buildable} more"
        )
    return f"INSUFFICIENT_STOCK: {item['sku']} needs {quantity}, {ready} ready"
