"""3.12 Analytics: shapes, date ranges, side effects of real writes, no cost/margin/profit."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from .conftest import (
    ANALYTICS_FORBIDDEN_WORDS,
    REF_FILAMENT_INVENTORY,
    REF_INVENTORY_SUMMARY,
    REF_LOW_STOCK_ITEM,
    REF_PRODUCTION_DAY,
    REF_PRODUCTION_SUMMARY,
    REF_REVENUE_SUMMARY,
    Api,
    assert_error,
    assert_fields,
    assert_no_leaks,
    assert_validation,
    keys_of,
)

ENDPOINTS = ("overview", "production", "printers", "failures", "inventory", "revenue")
RANGED = ENDPOINTS[1:]


def today() -> date:
    return datetime.now(UTC).date()


def assert_no_money_secrets(body: Any) -> None:
    bad = [k for k in keys_of(body) if any(w in k.lower() for w in ANALYTICS_FORBIDDEN_WORDS)]
    assert not bad, f"analytics must not report cost/margin/profit: {bad}"
    assert_no_leaks(body)


@pytest.mark.parametrize("name", ENDPOINTS)
async def test_every_endpoint_answers_without_secrets(api: Api, name: str) -> None:
    reply = await api.get(f"/analytics/{name}", key="read")
    assert reply.status == 200, reply.body
    assert reply.body["success"] is True and "meta" not in reply.body
    assert isinstance(reply.data, dict)
    assert_no_money_secrets(reply.body)
    denied = await api.get(f"/analytics/{name}", key="write")
    assert_error(denied, 403, "INSUFFICIENT_SCOPE")
    assert denied.body["error"] == "API key missing required scope: read"
    assert_error(await api.get(f"/analytics/{name}", key=None), 401, "UNAUTHORIZED")


@pytest.mark.parametrize("name", RANGED)
async def test_default_range_is_last_30_days(api: Api, name: str) -> None:
    data = (await api.get(f"/analytics/{name}")).data
    assert data["date_range"] == {"from": (today() - timedelta(days=30)).isoformat(),
                                  "to": today().isoformat()}


@pytest.mark.parametrize("name", RANGED)
@pytest.mark.parametrize(
    ("params", "field"),
    [({"from": "2026-02-30"}, "from"), ({"from": "yesterday"}, "from"), ({"to": "2026-13-01"}, "to"),
     ({"from": "2026-05-02", "to": "2026-05-01"}, "from"),
     ({"from": "0001-01-01", "to": "0001-01-10"}, "from"), ({"to": "0001-01-10"}, "to"),
     ({"from": "9999-12-30", "to": "9999-12-31"}, "to"), ({"to": "9999-12-31"}, "to"),
     ({"from": "1900-01-01", "to": "2026-01-01"}, "from"),
     ({"from": "'; DROP TABLE jobs;--"}, "from")],
)
async def test_bad_ranges_are_400(api: Api, name: str, params: dict[str, str],
                                  field: str) -> None:
    assert_validation(await api.get(f"/analytics/{name}", params=params), field)


async def test_production_shape_and_a_completed_job(api: Api) -> None:
    span = {"from": (today() - timedelta(days=2)).isoformat(), "to": today().isoformat()}
    before = (await api.get("/analytics/production", params=span)).data
    assert set(before) == {"date_range", "summary", "daily"}
    assert_fields(before["summary"], REF_PRODUCTION_SUMMARY, "production.summary")
    assert [d["date"] for d in before["daily"]] == [
        (today() - timedelta(days=n)).isoformat() for n in (2, 1, 0)]
    for day in before["daily"]:
        assert_fields(day, REF_PRODUCTION_DAY, "production.daily")
    file_id = (await api.get("/files")).data[0]["id"]
    job = await api.post("/jobs", json={"print_file_id": file_id, "number_of_units": 4})
    assert job.status == 201, job.body
    done = await api.post(f"/jobs/{job.data['id']}/complete",
                          json={"actual_print_time_minutes": 120})
    assert done.status == 200, done.body
    after = (await api.get("/analytics/production", params=span)).data
    assert after["summary"]["jobs_completed"] == before["summary"]["jobs_completed"] + 1
    assert after["summary"]["units_produced"] == before["summary"]["units_produced"] + 4
    assert after["daily"][-1]["total_print_time_minutes"] == before["daily"][-1][
        "total_print_time_minutes"] + 120
    assert sum(d["jobs_completed"] for d in after["daily"]) == after["summary"]["jobs_completed"]
    printer_id = (await api.get("/printers")).data[0]["id"]
    narrowed = (await api.get("/analytics/production",
                              params={**span, "printer_id": printer_id})).data
    assert narrowed["summary"]["revenue_cents"] is None, "no revenue when narrowed"
    assert all(d["revenue_cents"] is None for d in narrowed["daily"])
    assert isinstance(after["summary"]["revenue_cents"], int)


async def test_one_day_range(api: Api) -> None:
    day = today().isoformat()
    data = (await api.get("/analytics/production", params={"from": day, "to": day})).data
    assert [d["date"] for d in data["daily"]] == [day]
    stamp = (await api.get("/analytics/revenue",
                           params={"from": f"{day}T23:00:00Z", "to": f"{day}T01:00:00Z"})).data
    assert stamp["date_range"] == {"from": day, "to": day}, "date-times are cut to UTC dates"


async def test_revenue_counts_orders_and_excludes_cancelled(api: Api) -> None:
    day = today().isoformat()
    span = {"from": day, "to": day}
    before = (await api.get("/analytics/revenue", params=span)).data
    assert set(before) == {"date_range", "summary", "by_platform", "daily"}
    assert_fields(before["summary"], REF_REVENUE_SUMMARY, "revenue.summary")
    for row in before["by_platform"]:
        assert set(row) == {"platform", "revenue_cents", "orders"}
    assert [set(d) for d in before["daily"]] == [{"date", "revenue_cents"}]

    thing = await api.post("/products", json={"name": "Revenue thing"})
    assert thing.status == 201, thing.body
    made = await api.post("/skus", json={"product_id": thing.data["id"], "sku": "X-1"})
    assert made.status == 201, made.body

    async def order(cents: int) -> str:
        reply = await api.post("/orders", json={
            "customer_name": "Ada", "platform": "shopify", "total_revenue": cents,
            "items": [{"sku": "X-1", "product_name": "Thing", "quantity": 1,
                       "unit_price": cents}],
        })
        assert reply.status == 201, reply.body
        return str(reply.data["id"])

    await order(1234)
    dropped = await order(999)
    cancel = await api.patch(f"/orders/{dropped}", json={"status": "cancelled"})
    assert cancel.status == 200, cancel.body
    after = (await api.get("/analytics/revenue", params=span)).data
    assert after["summary"]["total_revenue_cents"] == before["summary"][
        "total_revenue_cents"] + 1234
    assert after["summary"]["order_count"] == before["summary"]["order_count"] + 1
    shopify = next(p for p in after["by_platform"] if p["platform"] == "shopify")
    assert shopify["revenue_cents"] >= 1234
    assert isinstance(after["summary"]["average_order_value"], int), "integer cents"
    assert_no_money_secrets(after)


async def test_inventory_shape(api: Api) -> None:
    data = (await api.get("/analytics/inventory")).data
    assert set(data) == {"date_range", "summary", "low_stock_items", "filament_inventory",
                         "material_usage", "usage_trend"}
    assert_fields(data["summary"], REF_INVENTORY_SUMMARY, "inventory.summary")
    assert len(data["low_stock_items"]) <= 20
    for item in data["low_stock_items"]:
        assert_fields(item, REF_LOW_STOCK_ITEM, "inventory.low_stock_items")
    for spool in data["filament_inventory"]:
        assert_fields(spool, REF_FILAMENT_INVENTORY, "inventory.filament_inventory")
    for usage in data["material_usage"]:
        assert set(usage) == {"material_type", "total_usage"}
    assert len(data["usage_trend"]) == 31
    for point in data["usage_trend"]:
        assert set(point) == {"date", "usage"}
    spools = (await api.get("/materials/filament")).data
    assert len(data["filament_inventory"]) == len(spools)
    assert data["summary"]["low_filament_spools"] == sum(
        1 for s in spools if s["status"] != "in_stock")


async def test_printers_and_failures_shapes(api: Api) -> None:
    printers = (await api.get("/analytics/printers")).data
    assert {"date_range", "summary", "printers"} <= set(printers)
    assert len(printers["printers"]) == len((await api.get("/printers")).data)
    for row in printers["printers"]:
        assert {"id", "name", "total_jobs", "success_rate", "failure_count",
                "total_print_hours", "utilization_percent"} <= set(row)
        assert 0 <= row["utilization_percent"] <= 100
    failures = (await api.get("/analytics/failures")).data
    assert {"date_range", "by_type", "by_printer", "daily", "recent"} <= set(failures)
    assert len(failures["recent"]) <= 20
    assert len(failures["daily"]) == 31
    assert_no_money_secrets(failures)
    for row in failures["recent"]:
        assert not {"resolved_by", "resolver_id", "resolution_notes"} & set(row)
