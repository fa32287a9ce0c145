"""Finished-goods inventory (reference 3.3).

Lists never carry pricing (`unit_price`, `profit_margin`, `extra_cost`),
`assembly_status`, `quantity_needs_assembly` or `print_job_id`.
"""

from __future__ import annotations

import voluptuous as vol
from aiohttp import web

from ...services.inventory import (
    ADJUST_REASONS,
    ADJUSTED_SCHEMA,
    ALERT_SCHEMA,
    ASSEMBLY_STATES,
    FG_DETAIL_SCHEMA,
    FG_SCHEMA,
    STATS_SCHEMA,
    InventoryService,
)
from ...services.stock import FG_STATUSES
from ..framework import BOOL_STRING, Ctx, RouteTable, created, nullable, ok, paged, text
from ._business import ID, integer, url

routes = RouteTable("Inventory", "Finished goods: sellable stock per SKU.")


@routes.get(
    "/inventory",
    scope="read",
    summary="List finished goods (by SKU)",
    query={
        vol.Optional("low_stock"): BOOL_STRING,
        vol.Optional("sku"): text(100, 1),
        vol.Optional("material"): text(50, 1),
        vol.Optional("status"): vol.In(FG_STATUSES),
        vol.Optional("is_active"): BOOL_STRING,
        vol.Optional("limit"): vol.All(vol.Coerce(int), vol.Range(min=1, max=500)),
        vol.Optional("offset"): vol.All(vol.Coerce(int), vol.Range(min=0, max=2**31 - 1)),
    },
    response=[FG_SCHEMA],
)
async def list_inventory(ctx: Ctx) -> web.StreamResponse:
    """The full set without `limit`/`offset` (no `meta`); giving either one pages
    (limit 1-500, default 50) and adds `meta{limit, offset, count}`."""
    q = ctx.query
    paging = "limit" in q or "offset" in q
    limit = q.get("limit", 50) if paging else None
    offset = q.get("offset", 0) if paging else None
    rows = await InventoryService(ctx.farm).list(
        low_stock=q.get("low_stock"),
        sku=q.get("sku"),
        material=q.get("material"),
        status=q.get("status"),
        is_active=q.get("is_active"),
        limit=limit,
        offset=offset,
    )
    if limit is not None and offset is not None:
        return paged(rows, limit, offset)
    return ok(rows)


@routes.post(
    "/inventory",
    scope="write",
    summary="Create an inventory item",
    status=201,
    body={
        vol.Required("product_sku_id"): ID,
        vol.Optional("ready_stock"): integer(0, 10**9),
        vol.Optional("low_stock_threshold"): integer(0, 10**9),
        vol.Optional("image_url"): nullable(url),
    },
    errors=("SKU_NOT_FOUND", "DUPLICATE_INVENTORY"),
    response=FG_SCHEMA,
)
async def create_inventory(ctx: Ctx) -> web.StreamResponse:
    """For reconciliation: SKUs get their row automatically."""
    return created(await InventoryService(ctx.farm).create(ctx.body))


@routes.get(
    "/inventory/alerts",
    scope="read",
    summary="Low-stock alerts (largest deficit first)",
    response=[ALERT_SCHEMA],
)
async def inventory_alerts(ctx: Ctx) -> web.StreamResponse:
    return ok(await InventoryService(ctx.farm).alerts())


@routes.get(
    "/inventory/stats", scope="read", summary="Inventory counts by status", response=STATS_SCHEMA
)
async def inventory_stats(ctx: Ctx) -> web.StreamResponse:
    return ok(await InventoryService(ctx.farm).stats())


@routes.get(
    "/inventory/by-sku/{product_sku_id}",
    scope="read",
    summary="Inventory item of a SKU",
    errors=("INVENTORY_NOT_FOUND",),
    response=FG_DETAIL_SCHEMA,
)
async def inventory_by_sku(ctx: Ctx) -> web.StreamResponse:
    return ok(await InventoryService(ctx.farm).by_sku(ctx.params["product_sku_id"]))


@routes.get(
    "/inventory/{id}",
    scope="read",
    summary="Get an inventory item",
    errors=("INVENTORY_NOT_FOUND",),
    response=FG_DETAIL_SCHEMA,
)
async def get_inventory(ctx: Ctx) -> web.StreamResponse:
    """Adds `product_id`, `product_name`, `is_composite`, `available_to_build`,
    `effective_status` and `parts_on_hand` (null for non-kits)."""
    return ok(await InventoryService(ctx.farm).get(ctx.params["id"]))


@routes.patch(
    "/inventory/{id}",
    scope="write",
    summary="Update an inventory item",
    body={
        vol.Optional("image_url"): nullable(url),
        vol.Optional("assembly_status"): vol.In(ASSEMBLY_STATES),
        vol.Optional("is_active"): bool,
    },
    errors=("INVENTORY_NOT_FOUND",),
    response=FG_SCHEMA,
)
async def update_inventory(ctx: Ctx) -> web.StreamResponse:
    """Pricing is not modifiable here."""
    return ok(await InventoryService(ctx.farm).update(ctx.params["id"], ctx.body))


@routes.post(
    "/inventory/{id}/adjust",
    scope="write",
    summary="Adjust ready stock",
    body={
        vol.Required("adjustment"): integer(-(10**9), 10**9),
        vol.Optional("reason", default="manual"): vol.In(ADJUST_REASONS),
        vol.Optional("notes"): nullable(text(500)),
    },
    errors=("INVENTORY_NOT_FOUND", "INSUFFICIENT_STOCK"),
    response=ADJUSTED_SCHEMA,
)
async def adjust_inventory(ctx: Ctx) -> web.StreamResponse:
    """Atomic; refused with 400 `INSUFFICIENT_STOCK` when stock would go below zero.
    Every adjustment is written to the stock ledger."""
    b = ctx.body
    return ok(
        await InventoryService(ctx.farm).adjust(
            ctx.params["id"], b["adjustment"], b["reason"], b.get("notes")
        )
    )


@routes.put(
    "/inventory/{id}/threshold",
    scope="write",
    summary="Set the low-stock threshold",
    body={vol.Required("low_stock_threshold"): integer(0, 10**9)},
    errors=("INVENTORY_NOT_FOUND",),
    response=FG_SCHEMA,
)
async def set_threshold(ctx: Ctx) -> web.StreamResponse:
    return ok(
        await InventoryService(ctx.farm).set_threshold(
            ctx.params["id"], ctx.body["low_stock_threshold"]
        )
    )
