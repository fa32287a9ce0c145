"""Orders (reference 3.4). `external_data` is never returned or settable."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import voluptuous as vol
from aiohttp import web

from ...services.order_views import (
    FULFILLED_SCHEMA,
    ORDER_DETAIL_SCHEMA,
    ORDER_SCHEMA,
    ORDER_STATUSES,
    PLATFORMS,
    PRODUCED_SCHEMA,
    STATS_SCHEMA,
)
from ...services.orders import OrderService
from ..framework import Ctx, RouteTable, created, nullable, ok, page_query, paged, text
from ._business import CENTS, ID, email, integer, iso_datetime, url

routes = RouteTable("Orders", "Customer orders, production and fulfilment.")

_CUSTOMER: dict[Any, Any] = {
    vol.Optional("customer_email"): nullable(email),
    vol.Optional("customer_phone"): nullable(text(50)),
    vol.Optional("shipping_cost"): CENTS,
    vol.Optional("tax_amount"): CENTS,
    vol.Optional("discount_amount"): CENTS,
    vol.Optional("shipping_street"): nullable(text(300)),
    vol.Optional("shipping_city"): nullable(text(100)),
    vol.Optional("shipping_state"): nullable(text(100)),
    vol.Optional("shipping_zip"): nullable(text(20)),
    vol.Optional("shipping_country"): nullable(text(100)),
    vol.Optional("notes"): nullable(text(5000)),
}
ITEM = {
    vol.Required("sku"): text(100, 1),
    vol.Optional("product_name"): text(200, 1),
    vol.Required("quantity"): integer(1, 100000),
    vol.Optional("unit_price"): CENTS,
    vol.Optional("product_sku_id"): nullable(ID),
    vol.Optional("notes"): nullable(text(2000)),
}


@routes.get(
    "/orders",
    scope="read",
    summary="List orders (most recent first)",
    query={
        vol.Optional("status"): vol.In(ORDER_STATUSES),
        vol.Optional("platform"): vol.In(PLATFORMS),
        vol.Optional("from"): iso_datetime,
        vol.Optional("to"): iso_datetime,
        **page_query(),
    },
    paginated=True,
    paged_total=True,
    response=[ORDER_SCHEMA],
)
async def list_orders(ctx: Ctx) -> web.StreamResponse:
    """`meta` also carries `total` (all matching orders). `from`/`to` filter `order_date`."""
    q = ctx.query
    end = q.get("to")
    if end is not None and len(ctx.request.query.get("to", "")) == 10:  # a plain date: whole day
        end = end + timedelta(days=1) - timedelta(microseconds=1)
    rows, total = await OrderService(ctx.farm).list(
        status=q.get("status"),
        platform=q.get("platform"),
        start=q.get("from"),
        end=end,
        limit=q["limit"],
        offset=q["offset"],
    )
    return paged(rows, q["limit"], q["offset"], total=total)


@routes.post(
    "/orders",
    scope="write",
    summary="Create an order",
    status=201,
    body={
        vol.Required("customer_name"): text(200, 1),
        vol.Required("items"): vol.All([ITEM], vol.Length(min=1, max=500)),
        vol.Optional("order_number"): nullable(text(100, 1)),
        vol.Optional("platform"): vol.In(PLATFORMS),
        vol.Optional("order_date"): nullable(iso_datetime),
        vol.Optional("total_revenue"): nullable(CENTS),
        vol.Optional("external_id"): nullable(text(200)),
        **_CUSTOMER,
    },
    errors=("INVALID_PRODUCT_SKU", "DUPLICATE_ORDER_NUMBER"),
    response=ORDER_DETAIL_SCHEMA,
)
async def create_order(ctx: Ctx) -> web.StreamResponse:
    """Money in cents; `total_revenue` defaults to the sum of the lines. Lines match a SKU
    by `product_sku_id`, else by `sku` code; a line whose SKU is not in the catalogue is
    refused (`400 INVALID_PRODUCT_SKU` naming `items[i].sku`)."""
    return created(await OrderService(ctx.farm).create(ctx.body))


@routes.get("/orders/stats", scope="read", summary="Order statistics", response=STATS_SCHEMA)
async def order_stats(ctx: Ctx) -> web.StreamResponse:
    return ok(await OrderService(ctx.farm).stats())


@routes.get(
    "/orders/{id}",
    scope="read",
    summary="Get an order with its items",
    errors=("ORDER_NOT_FOUND",),
    response=ORDER_DETAIL_SCHEMA,
)
async def get_order(ctx: Ctx) -> web.StreamResponse:
    return ok(await OrderService(ctx.farm).get(ctx.params["id"]))


@routes.patch(
    "/orders/{id}",
    scope="write",
    summary="Update an order",
    body={
        vol.Optional("customer_name"): text(200, 1),
        vol.Optional("status"): vol.In(ORDER_STATUSES),
        vol.Optional("tracking_number"): nullable(text(100)),
        vol.Optional("tracking_url"): nullable(url),
        **_CUSTOMER,
    },
    errors=("ORDER_NOT_FOUND",),
    response=ORDER_SCHEMA,
)
async def update_order(ctx: Ctx) -> web.StreamResponse:
    """Metadata, status, shipping and tracking; line items are not changed."""
    return ok(await OrderService(ctx.farm).update(ctx.params["id"], ctx.body))


@routes.post(
    "/orders/{id}/fulfill",
    scope="write",
    summary="Fulfil an order",
    body={
        vol.Optional("tracking_number"): nullable(text(100)),
        vol.Optional("tracking_url"): nullable(url),
        vol.Optional("notify_customer", default=False): bool,
    },
    errors=(
        "ORDER_NOT_FOUND",
        "ORDER_ALREADY_FULFILLED",
        "ORDER_CANNOT_FULFILL",
        "ALL_ITEMS_FULFILLED",
        "KIT_NOT_PRODUCED",
        "KIT_NOT_ASSEMBLED",
    ),
    response=FULFILLED_SCHEMA,
)
async def fulfill_order(ctx: Ctx) -> web.StreamResponse:
    """Deducts ready stock per open line. Lines without enough stock are reported in
    `fulfillment_errors` (`KIT_NOT_PRODUCED`, `KIT_NOT_ASSEMBLED`, `INSUFFICIENT_STOCK`)
    and nothing is deducted for them. When every line is done the order becomes
    `shipped` (with a tracking number) or `fulfilled`, and `shipped_at` is stamped.
    `notify_customer` is accepted but not wired yet."""
    b = ctx.body
    return ok(
        await OrderService(ctx.farm).fulfill(
            ctx.params["id"],
            tracking_number=b.get("tracking_number"),
            tracking_url=b.get("tracking_url"),
        )
    )


@routes.post(
    "/orders/{id}/items/{itemId}/fulfill",
    scope="write",
    summary="Fulfil part of a line",
    body={vol.Required("quantity"): integer(1, 100000)},
    errors=(
        "ORDER_NOT_FOUND",
        "ORDER_ITEM_NOT_FOUND",
        "EXCESSIVE_FULFILLMENT",
        "INSUFFICIENT_STOCK",
        "KIT_NOT_PRODUCED",
        "KIT_NOT_ASSEMBLED",
        "ITEM_ALREADY_FULFILLED",
        "ORDER_ALREADY_FULFILLED",
        "ORDER_CANNOT_FULFILL",
    ),
    response=ORDER_DETAIL_SCHEMA,
)
async def fulfill_item(ctx: Ctx) -> web.StreamResponse:
    return ok(
        await OrderService(ctx.farm).fulfill_item(
            ctx.params["id"], ctx.params["itemId"], ctx.body["quantity"]
        )
    )


@routes.post(
    "/orders/{id}/produce",
    scope="write",
    summary="Queue production for an order",
    body={},
    errors=("ORDER_NOT_FOUND", "INVALID_STATE"),
    response=PRODUCED_SCHEMA,
)
async def produce_order(ctx: Ctx) -> web.StreamResponse:
    """Creates queued print jobs (one per simple line, one per kit part) and one
    kit-assembly task per kit line, for open lines without live artifacts. Idempotent.
    Lines without a SKU are listed in `unmatched_items`; lines whose product has no
    print file in `shortages`."""
    return ok(await OrderService(ctx.farm).produce(ctx.params["id"]))
