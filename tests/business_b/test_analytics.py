"""Analytics (reference 3.12): SQL aggregates over date ranges."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert

from apf_core.storage.tables.catalogue import finished_goods, products, skus
from apf_core.storage.tables.materials import filament_spools
from apf_core.storage.tables.orders import orders
from apf_core.storage.tables.spine import jobs, printers
from apf_core.timeutil import new_id, utcnow

from .helpers import validation_fields

ENDPOINTS = ("overview", "production", "printers", "failures", "inventory", "revenue")
FORBIDDEN_WORDS = ("cost", "margin", "profit")
RANGE = {"from": "2026-01-01", "to": "2026-01-10"}


def at(day: int, hour: int = 12) -> datetime:
    return datetime(2026, 1, day, hour, tzinfo=UTC)


async def add_printer(api, name: str) -> str:
    now = utcnow()
    pid = new_id()
    async with api.farm.db.begin() as conn:
        await conn.execute(insert(printers).values(
            id=pid, name=name, protocol="simulated", status="idle", connection={},
            created_at=now, updated_at=now,
        ))
    return pid


JOB_OPTIONAL = ("printer_id", "product_id", "filament_type", "material_type", "file_name",
                "failure_reason", "actual_print_time_minutes", "estimated_print_time_minutes",
                "filament_weight_grams")


async def add_jobs(api, specs: list[dict[str, Any]]) -> None:
    rows = []
    for spec in specs:
        when = spec.pop("when")
        rows.append({
            "id": new_id(), "status": "completed", "number_of_units": 1,
            "time_submitted": when, "time_completed": when, "created_at": when,
            "updated_at": when, **dict.fromkeys(JOB_OPTIONAL), **spec,
        })
    async with api.farm.db.begin() as conn:
        await conn.execute(insert(jobs), rows)


async def add_orders(api, specs: list[tuple[datetime, int, str, str]]) -> None:
    rows = [
        {"id": new_id(), "order_number": f"A-{n}", "customer_name": "c", "order_date": when,
         "total_revenue": cents, "status": status, "platform": platform,
         "created_at": when, "updated_at": when}
        for n, (when, cents, status, platform) in enumerate(specs)
    ]
    async with api.farm.db.begin() as conn:
        await conn.execute(insert(orders), rows)


@pytest.fixture
async def farm_data(empty_api) -> dict[str, str]:
    """Two printers, jobs across Jan 2026 (and outside the range), orders and stock."""
    api = empty_api
    p1 = await add_printer(api, "Alpha")
    p2 = await add_printer(api, "Bravo")
    await add_jobs(api, [
        {"when": at(2), "printer_id": p1, "number_of_units": 4, "actual_print_time_minutes": 60,
         "product_id": "prod-1", "filament_type": "PLA", "filament_weight_grams": 10.0},
        {"when": at(2, 23), "printer_id": p1, "number_of_units": 2,
         "estimated_print_time_minutes": 30, "product_id": "prod-2", "filament_type": "PETG",
         "filament_weight_grams": 5.5},
        {"when": at(3), "printer_id": p2, "status": "failed", "actual_print_time_minutes": 15,
         "failure_reason": "Spaghetti", "file_name": "benchy.gcode", "filament_type": "PLA",
         "filament_weight_grams": 2.0},
        {"when": at(5), "printer_id": p2, "status": "failed", "failure_reason": "Spaghetti",
         "actual_print_time_minutes": 5},
        {"when": at(5), "printer_id": p1, "status": "failed", "failure_reason": None},
        {"when": at(6), "printer_id": p2, "status": "cancelled"},
        {"when": at(10, 23), "printer_id": p2, "number_of_units": 1,
         "actual_print_time_minutes": 120, "material_type": "ABS", "filament_type": "PLA",
         "filament_weight_grams": 20.0},
        # outside the range: the day before and the day after
        {"when": at(1, 0) - timedelta(minutes=1), "printer_id": p1, "number_of_units": 50},
        {"when": at(11, 0), "printer_id": p1, "number_of_units": 50},
        # unfinished jobs never count
        {"when": at(4), "printer_id": p1, "status": "queued", "time_completed": None},
    ])
    await add_orders(api, [
        (at(2), 2500, "pending", "etsy"), (at(2, 20), 1500, "shipped", "shopify"),
        (at(4), 10000, "fulfilled", "etsy"), (at(4), 99999, "cancelled", "etsy"),
        (at(5), 88888, "refunded", "shopify"), (at(12), 7777, "pending", "manual"),
    ])
    now = utcnow()
    async with api.farm.db.begin() as conn:
        product = new_id()
        await conn.execute(insert(products).values(id=product, name="Lamp", created_at=now,
                                                   updated_at=now))
        # (sku, colour, ready stock, threshold, active); the SKUs' component-level
        # stock_level says the opposite, and no stock view reads it
        stock = [
            ("LAMP-RED", "Red", 1, 5, True), ("LAMP-BLUE", "Blue", 4, 5, True),
            ("LAMP-GREEN", "Green", 9, 5, True), ("LAMP-OLD", "Grey", 0, 5, False),
            ("LAMP-NONE", "Black", 0, None, True),
        ]
        for code, color, ready, threshold, active in stock:
            sku_id = new_id()
            await conn.execute(insert(skus).values(
                id=sku_id, product_id=product, sku=code, color=color, created_at=now,
                updated_at=now, stock_level=10 - ready, low_stock_threshold=threshold,
            ))
            await conn.execute(insert(finished_goods).values(
                id=new_id(), product_sku_id=sku_id, ready_stock=ready,
                low_stock_threshold=threshold, is_active=active, created_at=now, updated_at=now,
            ))
        await conn.execute(insert(filament_spools), [
            {"id": new_id(), "type": t, "color": c, "remaining_grams": g, "low_threshold": lt,
             "created_at": now, "updated_at": now}
            for t, c, g, lt in (("PLA", "Black", 800.0, 100.0), ("PLA", "White", 50.0, 100.0),
                                ("PETG", "Red", 0.0, 100.0))
        ])
    return {"p1": p1, "p2": p2}


async def get(api, name: str, **params: str):
    reply = await api.get(f"/analytics/{name}", params=params, key="read")
    assert reply.status == 200, reply.body
    return reply.data


async def test_production(empty_api, farm_data) -> None:
    data = await get(empty_api, "production", **RANGE)
    assert data["date_range"] == RANGE
    assert data["summary"] == {
        "jobs_completed": 3, "jobs_failed": 3, "completion_rate": 50.0, "units_produced": 7,
        "total_print_time_hours": round((60 + 30 + 15 + 5 + 120) / 60, 1),
        "revenue_cents": 2500 + 1500 + 10000,
    }
    daily = {d["date"]: d for d in data["daily"]}
    assert list(daily) == [f"2026-01-{n:02d}" for n in range(1, 11)]
    assert daily["2026-01-02"] == {
        "date": "2026-01-02", "jobs_completed": 2, "jobs_failed": 0, "units_produced": 6,
        "total_print_time_minutes": 90, "revenue_cents": 4000,
    }
    assert daily["2026-01-05"]["jobs_failed"] == 2
    assert daily["2026-01-10"]["units_produced"] == 1  # 23:00 UTC still counts for the 10th
    assert daily["2026-01-01"]["jobs_completed"] == 0


async def test_production_filters_drop_revenue(empty_api, farm_data) -> None:
    by_printer = await get(empty_api, "production", printer_id=farm_data["p1"], **RANGE)
    assert by_printer["summary"]["jobs_completed"] == 2
    assert by_printer["summary"]["jobs_failed"] == 1
    assert by_printer["summary"]["revenue_cents"] is None
    assert all(d["revenue_cents"] is None for d in by_printer["daily"])
    by_product = await get(empty_api, "production", product_id="prod-2", **RANGE)
    assert by_product["summary"]["units_produced"] == 2
    assert by_product["summary"]["revenue_cents"] is None


async def test_printers(empty_api, farm_data) -> None:
    data = await get(empty_api, "printers", **RANGE)
    alpha, bravo = data["printers"]
    assert alpha["name"] == "Alpha"
    assert (alpha["total_jobs"], alpha["completed"], alpha["failed"]) == (3, 2, 1)
    assert alpha["success_rate"] == round(2 * 100 / 3, 1)
    assert alpha["total_print_hours"] == 1.5
    assert alpha["utilization_percent"] == round(90 * 100 / (10 * 24 * 60), 1)
    assert (bravo["total_jobs"], bravo["failed"], bravo["cancelled"]) == (4, 2, 1)
    assert bravo["failure_count"] == 2
    summary = data["summary"]
    assert summary["total_printers"] == 2
    assert summary["total_jobs"] == 7
    assert summary["total_failures"] == 3
    assert summary["average_success_rate"] == round((alpha["success_rate"]
                                                     + bravo["success_rate"]) / 2, 1)
    assert summary["total_print_hours"] == round(230 / 60, 1)


async def test_printer_without_jobs(empty_api) -> None:
    await add_printer(empty_api, "Idle")
    data = await get(empty_api, "printers")
    only = data["printers"][0]
    assert only["total_jobs"] == 0
    assert only["success_rate"] is None
    assert only["utilization_percent"] == 0.0
    assert data["summary"]["average_success_rate"] is None


async def test_failures(empty_api, farm_data) -> None:
    data = await get(empty_api, "failures", **RANGE)
    assert data["summary"] == {"total_failures": 3, "failure_rate": 50.0}
    assert data["by_type"] == [{"failure_type": "Spaghetti", "count": 2},
                               {"failure_type": "unknown", "count": 1}]
    assert data["by_printer"][0] == {"printer_id": farm_data["p2"], "printer_name": "Bravo",
                                     "count": 2}
    daily = {d["date"]: d["count"] for d in data["daily"]}
    assert (daily["2026-01-03"], daily["2026-01-05"], daily["2026-01-04"]) == (1, 2, 0)
    recent = data["recent"]
    assert len(recent) == 3
    assert recent[-1]["file_name"] == "benchy.gcode"
    assert recent[-1]["failed_at"] == "2026-01-03T12:00:00Z"
    only_p2 = await get(empty_api, "failures", printer_id=farm_data["p2"], **RANGE)
    assert only_p2["summary"]["total_failures"] == 2


async def test_inventory(empty_api, farm_data) -> None:
    data = await get(empty_api, "inventory", **RANGE)
    assert data["summary"] == {"low_stock_skus": 2, "low_filament_spools": 2,
                               "total_material_types": 2}
    assert [i["sku"] for i in data["low_stock_items"]] == ["LAMP-RED", "LAMP-BLUE"]
    assert set(data["low_stock_items"][0]) == {"id", "sku", "color", "stock_level",
                                               "low_stock_threshold", "product_name"}
    assert data["low_stock_items"][0]["product_name"] == "Lamp"
    assert [i["stock_level"] for i in data["low_stock_items"]] == [1, 4]  # ready stock
    statuses = {(f["type"], f["color"]): f["status"] for f in data["filament_inventory"]}
    assert statuses == {("PETG", "Red"): "out_of_stock", ("PLA", "Black"): "in_stock",
                        ("PLA", "White"): "low_stock"}
    usage = {u["material_type"]: u["total_usage"] for u in data["material_usage"]}
    assert usage == {"ABS": 20.0, "PLA": 12.0, "PETG": 5.5, "unknown": 0.0}
    trend = {t["date"]: t["usage"] for t in data["usage_trend"]}
    assert trend["2026-01-02"] == 15.5
    assert trend["2026-01-09"] == 0.0


async def test_revenue(empty_api, farm_data) -> None:
    data = await get(empty_api, "revenue", **RANGE)
    assert data["summary"] == {"total_revenue_cents": 14000, "order_count": 3,
                               "average_order_value": round(14000 / 3)}
    assert data["by_platform"] == [
        {"platform": "etsy", "revenue_cents": 12500, "orders": 2},
        {"platform": "shopify", "revenue_cents": 1500, "orders": 1},
    ]
    daily = {d["date"]: d["revenue_cents"] for d in data["daily"]}
    assert (daily["2026-01-02"], daily["2026-01-04"], daily["2026-01-05"]) == (4000, 10000, 0)


async def test_overview(api) -> None:
    data = await get(api, "overview")
    assert data["printers"]["total"] == 4
    assert set(data["printers"]) >= {"idle", "printing", "maintenance", "offline", "total"}
    assert data["jobs"]["queued"] == 3
    assert data["jobs"]["completed_today"] == 1
    assert data["jobs"]["failed_today"] == 1
    assert data["worklist"]["pending"] == 4
    assert data["worklist"]["overdue"] == 1
    assert data["hubs"]["total"] >= 1
    assert data["alerts"]["low_filament_spools"] == 2
    assert data["alerts"]["low_components"] == 1


async def test_default_range_is_last_30_days(empty_api) -> None:
    pid = await add_printer(empty_api, "Now")
    now = utcnow()
    await add_jobs(empty_api, [
        {"when": now - timedelta(days=2), "printer_id": pid},
        {"when": now - timedelta(days=45), "printer_id": pid},
    ])
    data = await get(empty_api, "production")
    today = now.date()
    assert data["date_range"] == {"from": (today - timedelta(days=30)).isoformat(),
                                  "to": today.isoformat()}
    assert len(data["daily"]) == 31
    assert data["summary"]["jobs_completed"] == 1
    only_to = await get(empty_api, "revenue", to="2026-03-31")
    assert only_to["date_range"] == {"from": "2026-03-01", "to": "2026-03-31"}


@pytest.mark.parametrize("name", ENDPOINTS[1:])
async def test_range_validation(empty_api, name) -> None:
    for params, field in (({"from": "yesterday"}, "from"), ({"to": "2026-13-01"}, "to"),
                          ({"from": "2026-02-01", "to": "2026-01-01"}, "from"),
                          ({"from": "1900-01-01", "to": "2026-01-01"}, "from")):
        reply = await empty_api.get(f"/analytics/{name}", params=params, key="read")
        assert field in validation_fields(reply), params
    datetime_ok = await empty_api.get(f"/analytics/{name}", key="read",
                                      params={"from": "2026-01-01T10:00:00Z"})
    assert datetime_ok.status == 200


def _keys(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in _keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in _keys(v)}
    return set()


async def test_no_cost_margin_or_profit_anywhere(api) -> None:
    for name in ENDPOINTS:
        data = await get(api, name)
        for key in _keys(data):
            assert not any(word in key for word in FORBIDDEN_WORDS), (name, key)
