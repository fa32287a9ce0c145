"""SKUs, their BOMs and kit assembly (reference 3.5)."""

from __future__ import annotations

from typing import Any

import voluptuous as vol
from aiohttp import web

from ...services.assembly import TASK_SCHEMA, AssemblyService
from ...services.bom import BOM_SCHEMA
from ...services.skus import SKU_ADJUST_SCHEMA, SKU_DETAIL_SCHEMA, SKU_SCHEMA, SkuService
from ..framework import BOOL_STRING, Ctx, RouteTable, created, nullable, ok, text
from ._business import HEX, ID, PRICE, integer

routes = RouteTable("SKUs", "Sellable variants of a product, and kit bills of materials.")

SKU_BODY: dict[Any, Any] = {
    vol.Required("sku"): text(100, 1),
    vol.Optional("color"): nullable(text(50)),
    vol.Optional("filament_type"): nullable(text(50)),
    vol.Optional("hex_code"): nullable(HEX),
    vol.Optional("quantity"): integer(1, 100000),
    vol.Optional("low_stock_threshold"): nullable(integer(0, 10**9)),
    vol.Optional("is_active"): bool,
    vol.Optional("price"): PRICE,
}


@routes.get(
    "/skus",
    scope="read",
    summary="List SKUs",
    query={
        vol.Optional("product_id"): ID,
        vol.Optional("color"): text(50, 1),
        vol.Optional("filament_type"): text(50, 1),
        vol.Optional("low_stock"): BOOL_STRING,
        vol.Optional("is_active"): BOOL_STRING,
    },
    response=[SKU_SCHEMA],
)
async def list_skus(ctx: Ctx) -> web.StreamResponse:
    """Sorted by SKU code, not paginated; internal kit-part SKUs are hidden.
    `low_stock` compares `stock_level` with `low_stock_threshold`."""
    return ok(await SkuService(ctx.farm).list(**ctx.query))


@routes.post(
    "/skus",
    scope="write",
    summary="Create a SKU",
    status=201,
    body={vol.Required("product_id"): ID, **SKU_BODY},
    errors=("PRODUCT_NOT_FOUND", "DUPLICATE_SKU"),
    response=SKU_SCHEMA,
)
async def create_sku(ctx: Ctx) -> web.StreamResponse:
    """Also creates the SKU's finished-goods row with `ready_stock = 0`. `price` (integer
    cents) is what an order line with this SKU and no `unit_price` costs."""
    body = dict(ctx.body)
    return created(await SkuService(ctx.farm).create(body.pop("product_id"), body))


@routes.get(
    "/skus/low-stock",
    scope="read",
    summary="Active SKUs at or under their threshold",
    response=[SKU_SCHEMA],
)
async def low_stock_skus(ctx: Ctx) -> web.StreamResponse:
    return ok(await SkuService(ctx.farm).low_stock())


@routes.get(
    "/skus/{id}",
    scope="read",
    summary="Get a SKU",
    errors=("SKU_NOT_FOUND",),
    response=SKU_DETAIL_SCHEMA,
)
async def get_sku(ctx: Ctx) -> web.StreamResponse:
    return ok(await SkuService(ctx.farm).get(ctx.params["id"]))


@routes.patch(
    "/skus/{id}",
    scope="write",
    summary="Update a SKU",
    body={
        vol.Optional("sku"): text(100, 1),
        vol.Optional("color"): nullable(text(50)),
        vol.Optional("hex_code"): nullable(HEX),
        vol.Optional("low_stock_threshold"): integer(0, 10**9),
        vol.Optional("is_active"): bool,
        vol.Optional("price"): PRICE,
    },
    errors=("SKU_NOT_FOUND", "DUPLICATE_SKU"),
    response=SKU_SCHEMA,
)
async def update_sku(ctx: Ctx) -> web.StreamResponse:
    """`quantity` and `filament_type` are immutable. `price` (integer cents, null clears it)
    is what an order line with this SKU and no `unit_price` costs."""
    return ok(await SkuService(ctx.farm).update(ctx.params["id"], ctx.body))


@routes.post(
    "/skus/{id}/adjust",
    scope="write",
    summary="Adjust component-level stock",
    body={
        vol.Required("adjustment"): integer(-(10**9), 10**9),
        vol.Optional("reason"): nullable(text(200)),
    },
    errors=("SKU_NOT_FOUND", "INVALID_STOCK_LEVEL"),
    response=SKU_ADJUST_SCHEMA,
)
async def adjust_sku(ctx: Ctx) -> web.StreamResponse:
    """Changes `stock_level`, not finished-goods stock; never below zero."""
    return ok(
        await SkuService(ctx.farm).adjust(
            ctx.params["id"], ctx.body["adjustment"], ctx.body.get("reason")
        )
    )


@routes.get(
    "/skus/{id}/bom",
    scope="read",
    summary="A SKU's bill of materials",
    errors=("SKU_NOT_FOUND",),
    response=BOM_SCHEMA,
)
async def get_bom(ctx: Ctx) -> web.StreamResponse:
    return ok(await SkuService(ctx.farm).bom(ctx.params["id"]))


@routes.put(
    "/skus/{id}/bom",
    scope="write",
    summary="Replace a SKU's bill of materials",
    body={
        vol.Required("children"): vol.All(
            [
                {
                    vol.Required("child_sku_id"): ID,
                    vol.Optional("quantity_required", default=1): integer(1, 100000),
                }
            ],
            vol.Length(max=200),
        ),
        vol.Optional("inventory", default=list): vol.All(
            [
                {
                    vol.Required("inventory_item_id"): ID,
                    vol.Optional("quantity_required", default=1): integer(1, 100000),
                }
            ],
            vol.Length(max=200),
        ),
    },
    errors=("SKU_NOT_FOUND", "NESTING_NOT_ALLOWED", "UNKNOWN_INVENTORY_ITEM"),
    response=BOM_SCHEMA,
)
async def replace_bom(ctx: Ctx) -> web.StreamResponse:
    """Atomic replace; an empty `children` list makes the SKU non-composite again.
    Kits are one level deep: a kit cannot contain a kit."""
    return ok(
        await SkuService(ctx.farm).replace_bom(
            ctx.params["id"], ctx.body["children"], ctx.body["inventory"]
        )
    )


@routes.post(
    "/skus/{id}/kit-assembly",
    scope="write",
    summary="Create a kit-assembly task",
    status=201,
    body={
        vol.Optional("quantity", default=1): integer(1, 100000),
        vol.Optional("notes"): nullable(text(2000)),
    },
    errors=("SKU_NOT_FOUND", "NOT_A_KIT", "INSUFFICIENT_FOR_KIT"),
    response=TASK_SCHEMA,
)
async def kit_assembly(ctx: Ctx) -> web.StreamResponse:
    """Refused with `INSUFFICIENT_FOR_KIT` and `shortages[]` when parts are missing."""
    return created(
        await AssemblyService(ctx.farm).create_kit_assembly(
            ctx.params["id"], ctx.body["quantity"], ctx.body.get("notes")
        )
    )
