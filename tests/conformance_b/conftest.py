"""Black-box conformance checks of reference sections 3.6 and 3.9-3.12 (files, materials,
wiki, worklist, analytics), written the way an outside client checks the server: HTTP only,
compared with the field lists and codes of ../shared/reference/autoprintfarm-public-api.md.

``REF_*`` are the reference's field lists; a response must carry exactly those fields (an
extra field is a potential leak and fails until someone decides it is public).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import pytest

# _manual_dispatch (autouse): automatic dispatch stays off, so demo jobs do not start on the
# idle printers the worklist tests put into maintenance
from tests.api.conftest import (  # noqa: F401  (fixtures)
    Api,
    Reply,
    _manual_dispatch,
    api,
    empty_api,
    farm_options,
)

pytestmark = pytest.mark.asyncio


def fields(text: str) -> frozenset[str]:
    return frozenset(f.strip() for f in text.split(",") if f.strip())


# --- 3.6 files -----------------------------------------------------------------------------
REF_FILE = fields(
    "id,name,product_id,file_size_bytes,number_of_units,print_time_seconds,filament_weight_grams,"
    "filament_length_meters,filament_type,printer_model_id,nozzle_diameter,layer_count,"
    "curr_bed_type,default_print_profile,object_count,has_thumbnail,created_at,updated_at"
)
REF_VERSION = fields("id,version_number,notes,is_current_version,created_at")
REF_UPLOAD_URL = fields(
    "file_id,filename,upload_token,content_type,expires_in,upload_url,storage_key"
)

# --- 3.9 materials ---------------------------------------------------------------------------
REF_FILAMENT = fields(
    "id,type,color,hex_code,brand,diameter,remaining_grams,spool_weight_grams,low_threshold,"
    "status,location,created_at,updated_at"
)
REF_COMPONENT = fields(
    "id,type,name,color,brand,diameter,size,remaining_units,low_threshold,status,location,"
    "created_at,updated_at"
)
#: packaging / parts: the create constraints seen for parts (one required string, three
#: optional strings, two numbers, location) on the COMPONENT-like remaining_units shape
REF_UNIT_ITEM = REF_COMPONENT - {"diameter", "size"}
#: + the enum ``reason`` (reference 2.8: Mintlify drops enum fields from the examples)
REF_CONSUMED = fields("quantity,notes,previous_quantity,new_quantity") | {"reason"}
REF_AVAILABILITY_ITEM = fields(
    "component_type,quantity_needed,quantity_available,has_shortage,shortage_amount,component_id"
)
MATERIAL_STATUSES = ("in_stock", "low_stock", "out_of_stock")

# --- 3.10 wiki -------------------------------------------------------------------------------
REF_WIKI_LIST = fields(
    "id,title,slug,excerpt,category,tags,product_id,sku_id,is_published,published_at,meta_title,"
    "meta_description,featured_image_url,description,estimated_time_minutes,difficulty,"
    "tools_required,created_at,updated_at"
)
REF_WIKI = REF_WIKI_LIST | {"content", "sections"}

# --- 3.11 worklist ---------------------------------------------------------------------------
REF_TASK = fields(
    "id,title,subtitle,description,task_type,priority,status,printer_id,estimated_time_minutes,"
    "actual_time_minutes,started_at,completed_at,due_date,created_at,updated_at"
)
TASK_TYPES = ("assembly", "filament_change", "collection", "maintenance", "quality_check")
TASK_STATUSES = ("pending", "in_progress", "completed", "cancelled")

# --- 3.12 analytics --------------------------------------------------------------------------
REF_PRODUCTION_SUMMARY = fields(
    "jobs_completed,jobs_failed,completion_rate,units_produced,total_print_time_hours,revenue_cents"
)
REF_PRODUCTION_DAY = fields(
    "date,jobs_completed,jobs_failed,units_produced,total_print_time_minutes,revenue_cents"
)
REF_INVENTORY_SUMMARY = fields("low_stock_skus,low_filament_spools,total_material_types")
REF_LOW_STOCK_ITEM = fields("id,sku,color,stock_level,low_stock_threshold,product_name")
REF_FILAMENT_INVENTORY = fields("type,color,status,remaining_grams,low_threshold")
REF_REVENUE_SUMMARY = fields("total_revenue_cents,order_count,average_order_value")

#: keys that must never appear in any response of these sections (reference 2.7)
NEVER_EXPOSED = frozenset({
    "cost_per_unit", "reorder_link", "author_id", "last_edited_by", "assigned_to", "assignee_id",
    "metadata", "storage_key", "storage_path", "thumbnail_key", "thumbnail_url", "signed_url",
    "cost", "cost_cents", "margin", "profit", "profit_cents", "profit_margin", "unit_price",
    "extra_cost", "total_cost",
})
#: analytics: no key may even mention these (cost/margin/profit never reported)
ANALYTICS_FORBIDDEN_WORDS = ("cost", "margin", "profit")

MAX_INT32 = 2_147_483_647


def keys_of(value: Any) -> Iterator[str]:
    """Every object key anywhere in a JSON value."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from keys_of(item)
    elif isinstance(value, list):
        for item in value:
            yield from keys_of(item)


def assert_no_leaks(body: Any, extra: Iterable[str] = ()) -> None:
    leaked = (set(keys_of(body)) & NEVER_EXPOSED) - set(extra)
    assert not leaked, f"never-exposed fields in a response: {sorted(leaked)}"


def assert_fields(obj: dict[str, Any], expected: frozenset[str], what: str = "") -> None:
    assert isinstance(obj, dict), obj
    got = set(obj)
    assert got == expected, (
        f"{what}: missing {sorted(expected - got)}, unexpected {sorted(got - expected)}"
    )


def assert_error(reply: Reply, status: int, code: str) -> None:
    """The documented flat error envelope with the given status and code."""
    assert reply.status == status, (reply.status, reply.body)
    body = reply.body
    assert isinstance(body, dict), body
    assert body["success"] is False, body
    assert body["code"] == code, body
    assert isinstance(body["error"], str) and body["error"], body
    assert "data" not in body
    if "message" in body:
        assert body["message"] == body["error"]


def assert_validation(reply: Reply, *field_names: str) -> None:
    """400 VALIDATION_ERROR whose details name each field."""
    assert_error(reply, 400, "VALIDATION_ERROR")
    named = {d["field"] for d in reply.body.get("details", [])}
    text = reply.body["error"]
    for name in field_names:
        assert name in named or name in text, (name, reply.body)


def assert_list(reply: Reply, item_fields: frozenset[str], *, paged: bool) -> list[dict[str, Any]]:
    """200, an array of exactly ``item_fields`` objects, ``meta{limit,offset,count}`` iff paged."""
    assert reply.status == 200, reply.body
    body = reply.body
    assert body["success"] is True
    rows = body["data"]
    assert isinstance(rows, list)
    for row in rows:
        assert_fields(row, item_fields)
    if paged:
        assert set(body["meta"]) == {"limit", "offset", "count"}, body["meta"]
        assert body["meta"]["count"] == len(rows)
    else:
        assert "meta" not in body, body.get("meta")
    assert_no_leaks(body)
    return rows
