"""Black-box conformance checks of reference sections 3.3, 3.4, 3.5 and 3.8.

Everything here talks HTTP only (the `api` fixture), the way an outside client would, and
compares with the field lists and codes of ../shared/reference/autoprintfarm-public-api.md.

Field sets: ``REF_*`` are the reference's lists. ``EXTRA_*`` are the few additions APF
documents (docs/catalogue-orders.md); a response must carry exactly REF | EXTRA, so any new
field (a leak) fails here until someone decides it is public.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest

from tests.api.conftest import Api, Reply, api, empty_api, farm_options  # noqa: F401  (fixtures)

pytestmark = pytest.mark.asyncio


def fields(text: str) -> frozenset[str]:
    return frozenset(f.strip() for f in text.split(",") if f.strip())


# --- 3.3 inventory -------------------------------------------------------------------
REF_FG = fields(
    "id,product_sku_id,sku,color,material,ready_stock,low_stock_threshold,status,image_url,"
    "is_active,created_at,updated_at"
)
REF_FG_DETAIL = REF_FG | fields(
    "product_id,product_name,is_composite,available_to_build,effective_status,parts_on_hand"
)
REF_PART_ON_HAND = fields("part_sku_id,part_name,color,on_hand,quantity_per_kit,enough_for_one_kit")
REF_ADJUST = fields(
    "id,previous_stock,adjustment,new_stock,previous_status,new_status,is_low_stock,reason"
)
REF_ALERT = REF_FG | {"product_name"}
FG_STATUSES = ("in_stock", "low_stock", "out_of_stock", "needs_assembly")

# --- 3.4 orders --------------------------------------------------------------------------
REF_ORDER = fields(
    "id,order_number,platform,customer_name,customer_email,customer_phone,order_date,status,"
    "total_revenue,shipping_cost,tax_amount,discount_amount,shipping_street,shipping_city,"
    "shipping_state,shipping_zip,shipping_country,tracking_number,tracking_url,shipped_at,"
    "external_id,notes,created_at,updated_at"
)
REF_ITEM = fields(
    "id,product_sku_id,sku,product_name,quantity,unit_price,total_price,quantity_fulfilled,"
    "fulfillment_status,notes,created_at"
)
REF_ORDER_STATS = fields("total_orders,by_status,by_platform,pending_fulfillment,last_30_days")
REF_ORDER_STATS_30 = fields(
    "total_orders,total_revenue,total_shipping,total_tax,total_discount,avg_order_value"
)
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

# --- 3.5 catalogue -------------------------------------------------------------------------
REF_PRODUCT = fields(
    "id,name,description,category,requires_assembly,requires_post_processing,image_url,images,"
    "is_active,created_at,updated_at"
)
#: APF additions: the settable wiki link, the product's print file (used by produce) and
#: whether the product is a kit
EXTRA_PRODUCT = fields("wiki_id,print_file_id,is_kit")
REF_PRODUCT_IMAGE = fields("id,sort_order,url")
REF_PRODUCT_DETAIL = REF_PRODUCT | fields("skus,components,kit")
REF_COMPONENT = fields("id,component_name,component_type,quantity_required,notes")
REF_KIT = fields("parts,bundle_extras,bundle_extras_by_variant")
REF_KIT_PART = fields(
    "part_id,name,print_file_id,file_name,quantity_per_kit,fixed_color,requires_assembly,"
    "components,variants"
)
REF_KIT_VARIANT = fields("kit_sku_id,kit_color,child_sku_id,child_sku,child_color,child_on_hand")
REF_BUNDLE_EXTRA = fields(
    "id,sku_id,inventory_item_id,quantity_required,created_at,item_name,remaining"
)
REF_SKU = fields(
    "id,product_id,sku,color,filament_type,hex_code,quantity,stock_level,low_stock_threshold,"
    "is_active,is_composite,created_at,updated_at,finished_goods_stock"
)
REF_SKU_DETAIL = REF_SKU | fields("available_to_build,effective_status")
#: APF addition: the selling price in cents (the finished good's unit_price), as AutoPrintFarm's
#: internal SKU has; an order line with the SKU and no unit_price costs this
EXTRA_SKU = fields("price")
REF_SKU_ADJUST = fields("id,previous_stock_level,adjustment,new_stock_level,is_low_stock")
EXTRA_SKU_ADJUST = fields("reason")
REF_BOM = fields("sku_id,is_composite,available_to_build,children,inventory")
REF_BOM_CHILD = fields(
    "child_sku_id,quantity_required,child_sku,child_color,child_is_composite,child_ready_stock"
)
REF_BOM_INVENTORY = fields("inventory_item_id,quantity_required,item_name,remaining,unit")
REF_COLOR = fields("id,color_name,hex_code,filament_type,is_active,created_at")
EXTRA_COLOR = fields("updated_at")

# --- 3.8 assembly ----------------------------------------------------------------------------
#: the examples' fields plus the two enums Mintlify leaves out (reference 2.8)
REF_TASK = fields("id,product_name,sku,quantity,notes,created_at,updated_at,completed_at") | {
    "status",
    "task_type",
}
#: APF additions: whether someone is assigned (never who) and the order it was produced for
EXTRA_TASK = fields("is_assigned,order_id")
TASK_STATUSES = ("pending", "in_progress", "completed", "cancelled")

# --- 2.7 never exposed -----------------------------------------------------------------------
NEVER_IN_INVENTORY = fields(
    "unit_price,profit_margin,extra_cost,assembly_status,quantity_needs_assembly,print_job_id"
)
NEVER_ANYWHERE = fields(
    "external_data,assigned_to,assignee_id,assigned_user_id,finished_good_id,storage_key,"
    "storage_path,file_path,path,author_id,last_edited_by,cost_per_unit,reorder_link"
)


def keys_of(obj: dict[str, Any]) -> frozenset[str]:
    assert isinstance(obj, dict), obj
    return frozenset(obj)


def assert_shape(obj: dict[str, Any], reference: frozenset[str], extra: Iterable[str] = ()) -> None:
    """Every reference field is there, and nothing beyond the documented additions."""
    got = keys_of(obj)
    missing = reference - got
    unexpected = got - reference - frozenset(extra)
    assert not missing, f"missing reference fields {sorted(missing)} in {sorted(got)}"
    assert not unexpected, f"undocumented fields {sorted(unexpected)}"


def all_keys(value: Any) -> set[str]:
    """Every object key anywhere inside a JSON value."""
    found: set[str] = set()
    if isinstance(value, dict):
        for k, v in value.items():
            found.add(k)
            found |= all_keys(v)
    elif isinstance(value, list):
        for v in value:
            found |= all_keys(v)
    return found


def assert_no_leaks(value: Any, forbidden: Iterable[str] = NEVER_ANYWHERE) -> None:
    leaked = all_keys(value) & set(forbidden)
    assert not leaked, f"never-exposed fields present: {sorted(leaked)}"


def assert_error(reply: Reply, status: int, code: str) -> None:
    """The flat error envelope of reference 2.3."""
    assert reply.status == status, (reply.status, reply.body)
    body = reply.body
    assert isinstance(body, dict), body
    assert body["success"] is False
    assert body["code"] == code, body
    assert isinstance(body["error"], str) and body["error"]
    assert "data" not in body


def assert_iso(value: Any) -> None:
    from datetime import datetime

    assert isinstance(value, str), value
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    assert parsed.utcoffset() is not None and parsed.utcoffset().total_seconds() == 0, value


# --- black-box builders ----------------------------------------------------------------------


async def file_ids(client: Api) -> list[str]:
    reply = await client.get("/files", params={"limit": 100})
    assert reply.status == 200, reply.body
    return [f["id"] for f in sorted(reply.data, key=lambda f: f["name"])]


async def created(reply: Reply) -> dict[str, Any]:
    assert reply.status == 201, (reply.status, reply.body)
    assert reply.body["success"] is True and "meta" not in reply.body
    return dict(reply.data)


async def product(client: Api, name: str, **fields_: Any) -> dict[str, Any]:
    return await created(await client.post("/products", json={"name": name, **fields_}))


async def sku(client: Api, product_id: str, code: str, **fields_: Any) -> dict[str, Any]:
    return await created(
        await client.post("/skus", json={"product_id": product_id, "sku": code, **fields_})
    )


async def fg(client: Api, sku_id: str) -> dict[str, Any]:
    reply = await client.get(f"/inventory/by-sku/{sku_id}")
    assert reply.status == 200, reply.body
    return dict(reply.data)


async def kit(client: Api, name: str, prefix: str) -> dict[str, Any]:
    files = await file_ids(client)
    body = {
        "name": name,
        "variants": [
            {"sku": f"{prefix}-RED", "color": "Red"},
            {"sku": f"{prefix}-BLU", "color": "Blue"},
        ],
        "parts": [
            {"name": "Tray", "print_file_id": files[0], "quantity_per_kit": 2},
            {"name": "Lid", "print_file_id": files[1], "fixed_color": "Black"},
        ],
    }
    return await created(await client.post("/products/kits", json=body))


async def order(client: Api, items: list[dict[str, Any]], **fields_: Any) -> dict[str, Any]:
    body = {"customer_name": "Conformance", "items": items, **fields_}
    return await created(await client.post("/orders", json=body))


def line(code: str, quantity: int = 1, unit_price: int = 1000, **extra: Any) -> dict[str, Any]:
    return {
        "sku": code,
        "product_name": code,
        "quantity": quantity,
        "unit_price": unit_price,
        **extra,
    }
