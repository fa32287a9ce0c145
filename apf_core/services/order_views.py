"""What the order routes send: orders, their lines, statistics and production results,
each with its response schema (built from the same field lists and tables)."""

from __future__ import annotations

from typing import Any

import voluptuous as vol

from ..lifecycle.views import JOB_SCHEMA
from ..storage.tables.orders import order_items, orders
from .assembly import TASK_SCHEMA
from .common import project
from .row_schema import nullable, row_schema

ORDER_STATUSES = (
    "pending",
    "processing",
    "printed",
    "assembled",
    "shipped",
    "fulfilled",
    "cancelled",
    "refunded",
)
PLATFORMS = ("shopify", "etsy", "manual", "other")
CLOSED = ("shipped", "fulfilled", "cancelled", "refunded")
NOT_REVENUE = ("cancelled", "refunded")
ORDER_FIELDS = (
    "id",
    "order_number",
    "platform",
    "customer_name",
    "customer_email",
    "customer_phone",
    "order_date",
    "status",
    "total_revenue",
    "shipping_cost",
    "tax_amount",
    "discount_amount",
    "shipping_street",
    "shipping_city",
    "shipping_state",
    "shipping_zip",
    "shipping_country",
    "tracking_number",
    "tracking_url",
    "shipped_at",
    "external_id",
    "notes",
    "created_at",
    "updated_at",
)
ITEM_FIELDS = (
    "id",
    "product_sku_id",
    "sku",
    "product_name",
    "quantity",
    "unit_price",
    "total_price",
    "quantity_fulfilled",
    "fulfillment_status",
    "notes",
    "created_at",
)
FULFILLMENT_STATUSES = ("pending", "partial", "fulfilled")

ORDER_SCHEMA = row_schema(
    orders, ORDER_FIELDS, {"status": vol.In(ORDER_STATUSES), "platform": vol.In(PLATFORMS)}
)
ITEM_SCHEMA = row_schema(
    order_items, ITEM_FIELDS, {"fulfillment_status": vol.In(FULFILLMENT_STATUSES)}
)
#: an order with its lines (``GET /orders/{id}``, create, fulfil)
ORDER_DETAIL_SCHEMA = {**ORDER_SCHEMA, vol.Required("items"): [ITEM_SCHEMA]}
FULFILLED_SCHEMA = {**ORDER_DETAIL_SCHEMA, vol.Required("fulfillment_errors"): [str]}
STATS_SCHEMA = {
    vol.Required("total_orders"): int,
    vol.Required("by_status"): {vol.Required(s): int for s in ORDER_STATUSES},
    vol.Required("by_platform"): {vol.Required(p): int for p in PLATFORMS},
    vol.Required("pending_fulfillment"): int,
    vol.Required("last_30_days"): {
        vol.Required(name): int
        for name in (
            "total_orders",
            "total_revenue",
            "total_shipping",
            "total_tax",
            "total_discount",
            "avg_order_value",
        )
    },
}
PRODUCED_SCHEMA = {
    vol.Required("order_id"): str,
    vol.Required("jobs"): [JOB_SCHEMA],
    vol.Required("assembly_tasks"): [TASK_SCHEMA],
    vol.Required("shortages"): [
        {
            vol.Required("order_item_id"): str,
            vol.Required("sku"): str,
            vol.Required("part_sku"): nullable(str),
            vol.Required("reason"): str,
        }
    ],
    vol.Required("unmatched_items"): [
        {
            vol.Required("order_item_id"): str,
            vol.Required("sku"): str,
            vol.Required("product_name"): str,
        }
    ],
}


def order_view(row: dict[str, Any]) -> dict[str, Any]:
    return project(row, ORDER_FIELDS)


def item_view(row: dict[str, Any]) -> dict[str, Any]:
    return project(row, ITEM_FIELDS)
