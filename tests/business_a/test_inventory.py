"""Finished-goods inventory: adjustments, concurrency, ledger, lists, alerts, projections."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select, update

from apf_core.storage.tables.catalogue import finished_goods, stock_adjustments
from apf_core.storage.tables.spine import events

from .conftest import fg_of, make_product, make_sku

HIDDEN = {
    "unit_price",
    "profit_margin",
    "extra_cost",
    "assembly_status",
    "quantity_needs_assembly",
    "print_job_id",
}


async def _item(api, code="INV-1", threshold=None):
    product = await make_product(api, f"P {code}")
    extra = {} if threshold is None else {"low_stock_threshold": threshold}
    sku = await make_sku(api, product["id"], code, color="Red", filament_type="PLA", **extra)
    return sku, await fg_of(api, sku["id"])


async def test_adjust_never_below_zero(api):
    _, fg = await _item(api)
    up = await api.post(f"/inventory/{fg['id']}/adjust", json={"adjustment": 10, "notes": "count"})
    assert up.status == 200, up.body
    assert up.data == {
        "id": fg["id"],
        "previous_stock": 0,
        "adjustment": 10,
        "new_stock": 10,
        "previous_status": "out_of_stock",
        "new_status": "in_stock",
        "is_low_stock": False,
        "reason": "manual",
    }
    down = await api.post(f"/inventory/{fg['id']}/adjust", json={"adjustment": -11})
    assert down.status == 400
    assert down.code == "INSUFFICIENT_STOCK"
    assert (await fg_of(api, fg["product_sku_id"]))["ready_stock"] == 10
    for reason in ("print_completion", "order_fulfillment", "assembly_completed", "bogus"):
        bad = await api.post(
            f"/inventory/{fg['id']}/adjust", json={"adjustment": 1, "reason": reason}
        )
        assert bad.status == 400, reason
        assert bad.code == "VALIDATION_ERROR", reason
    for bad_value in (1.5, "3", True, None):
        bad = await api.post(f"/inventory/{fg['id']}/adjust", json={"adjustment": bad_value})
        assert bad.status == 400, bad_value
        assert bad.code == "VALIDATION_ERROR", bad_value
    assert "adjustment" in bad.body["error"]
    ok = await api.post(
        f"/inventory/{fg['id']}/adjust", json={"adjustment": -10, "reason": "damaged"}
    )
    assert ok.data["new_stock"] == 0
    assert ok.data["new_status"] == "out_of_stock"


async def test_fifty_concurrent_adjustments_are_exact(api):
    _, fg = await _item(api)
    await api.post(f"/inventory/{fg['id']}/adjust", json={"adjustment": 10})
    deltas = [(-3 if i % 5 < 3 else 2) for i in range(50)]  # 30 x -3, 20 x +2: some must fail
    replies = await asyncio.gather(
        *(api.post(f"/inventory/{fg['id']}/adjust", json={"adjustment": d}) for d in deltas)
    )
    applied = [d for d, r in zip(deltas, replies, strict=True) if r.status == 200]
    rejected = [r for r in replies if r.status != 200]
    assert rejected
    assert all(r.status == 400 and r.code == "INSUFFICIENT_STOCK" for r in rejected)
    final = (await fg_of(api, fg["product_sku_id"]))["ready_stock"]
    assert final == 10 + sum(applied)
    assert final >= 0
    for reply in replies:
        if reply.status == 200:
            assert (
                reply.data["new_stock"] == reply.data["previous_stock"] + reply.data["adjustment"]
            )
            assert reply.data["new_stock"] >= 0
    async with api.farm.db.read() as conn:
        ledger = (
            await conn.execute(
                select(func.count(), func.sum(stock_adjustments.c.adjustment)).where(
                    stock_adjustments.c.finished_good_id == fg["id"]
                )
            )
        ).one()
    assert ledger[0] == 1 + len(applied)
    assert ledger[1] == final


async def test_low_stock_event_on_crossing(api):
    _, fg = await _item(api, threshold=3)
    await api.post(f"/inventory/{fg['id']}/adjust", json={"adjustment": 5})
    crossed = await api.post(f"/inventory/{fg['id']}/adjust", json={"adjustment": -2})
    assert crossed.data["is_low_stock"] is True
    assert crossed.data["new_status"] == "low_stock"
    await api.post(f"/inventory/{fg['id']}/adjust", json={"adjustment": -1})  # already low
    async with api.farm.db.read() as conn:
        payloads = [
            r.payload
            for r in await conn.execute(
                select(events.c.payload).where(events.c.type == "inventory.low_stock")
            )
        ]
    assert len(payloads) == 1
    assert payloads[0]["id"] == fg["id"]
    assert payloads[0]["ready_stock"] == 3
    assert not HIDDEN & set(payloads[0])


async def test_list_filters_paging_and_hidden_fields(empty_api):
    api = empty_api  # no demo data: exact lists
    _sku_a, fg_a = await _item(api, "B-2", threshold=2)
    _sku_b, fg_b = await _item(api, "A-1", threshold=2)
    async with api.farm.db.begin() as conn:  # internal values that must never leak
        await conn.execute(
            update(finished_goods).values(
                unit_price=999,
                profit_margin=40,
                extra_cost=12,
                assembly_status="printed",
                print_job_id="job-x",
                quantity_needs_assembly=0,
            )
        )
    await api.post(f"/inventory/{fg_a['id']}/adjust", json={"adjustment": 9})
    full = await api.get("/inventory", key="read")
    assert full.status == 200
    assert "meta" not in full.body
    codes = [r["sku"] for r in full.data]
    assert codes == sorted(codes)
    for row in full.data:
        assert not HIDDEN & set(row)
        assert set(row) == {
            "id",
            "product_sku_id",
            "sku",
            "color",
            "material",
            "ready_stock",
            "low_stock_threshold",
            "status",
            "image_url",
            "is_active",
            "created_at",
            "updated_at",
        }
    detail = await api.get(f"/inventory/{fg_a['id']}")
    assert not HIDDEN & set(detail.data)
    assert detail.data["parts_on_hand"] is None
    assert detail.data["available_to_build"] == 0
    page = await api.get("/inventory", params={"limit": 1})
    assert page.body["meta"] == {"limit": 1, "offset": 0, "count": 1}
    page = await api.get("/inventory", params={"offset": 1})
    assert page.body["meta"]["limit"] == 50
    assert page.body["meta"]["offset"] == 1
    big = await api.get("/inventory", params={"limit": 500})
    assert big.status == 200
    too_big = await api.get("/inventory", params={"limit": 501})
    assert too_big.status == 400
    assert too_big.code == "VALIDATION_ERROR"
    low = await api.get("/inventory", params={"low_stock": "true"})
    assert fg_b["id"] in {r["id"] for r in low.data}
    assert fg_a["id"] not in {r["id"] for r in low.data}
    not_low = await api.get("/inventory", params={"low_stock": "false"})
    assert fg_a["id"] in {r["id"] for r in not_low.data}
    assert [r["id"] for r in (await api.get("/inventory", params={"sku": "B-2"})).data] == [
        fg_a["id"]
    ]
    assert (await api.get("/inventory", params={"sku": "b-2"})).data == []
    assert len((await api.get("/inventory", params={"material": "PLA"})).data) >= 2
    in_stock = await api.get("/inventory", params={"status": "in_stock"})
    assert [r["id"] for r in in_stock.data] == [fg_a["id"]]
    bad = await api.get("/inventory", params={"status": "lots"})
    assert bad.status == 400
    assert bad.code == "VALIDATION_ERROR"
    bad = await api.get("/inventory", params={"low_stock": "yes"})
    assert bad.status == 400


async def test_alerts_stats_threshold_patch_and_create(api):
    sku_a, fg_a = await _item(api, "AL-1", threshold=5)
    sku_b, fg_b = await _item(api, "AL-2", threshold=5)
    await api.post(f"/inventory/{fg_a['id']}/adjust", json={"adjustment": 4})
    alerts = (await api.get("/inventory/alerts")).data
    ids = [a["id"] for a in alerts]
    assert ids.index(fg_b["id"]) < ids.index(fg_a["id"])  # deficit 5 before deficit 1
    assert alerts[0]["product_name"].startswith("P ")
    stats = (await api.get("/inventory/stats")).data
    assert stats["low_stock"] >= 1
    assert stats["out_of_stock"] >= 1
    assert stats["total_stock"] >= 4
    assert "total_value" not in stats
    raised = await api.put(f"/inventory/{fg_a['id']}/threshold", json={"low_stock_threshold": 2})
    assert raised.data["status"] == "in_stock"
    assert raised.data["low_stock_threshold"] == 2
    assert (await api.get(f"/skus/{sku_a['id']}")).data["low_stock_threshold"] == 2
    patched = await api.patch(
        f"/inventory/{fg_a['id']}",
        json={
            "image_url": "https://img.example/a.png",
            "assembly_status": "assembled",
            "is_active": False,
        },
    )
    assert patched.status == 200, patched.body
    assert patched.data["image_url"] == "https://img.example/a.png"
    assert patched.data["is_active"] is False
    assert "assembly_status" not in patched.data
    assert fg_a["id"] not in {a["id"] for a in (await api.get("/inventory/alerts")).data}
    price = await api.patch(f"/inventory/{fg_a['id']}", json={"unit_price": 5})
    assert price.status == 400
    assert price.code == "VALIDATION_ERROR"
    dup = await api.post("/inventory", json={"product_sku_id": sku_a["id"]})
    assert dup.status == 409
    assert dup.code == "DUPLICATE_INVENTORY"
    missing = await api.post("/inventory", json={"product_sku_id": "nope"})
    assert missing.status == 404
    assert missing.code == "SKU_NOT_FOUND"
    async with api.farm.db.begin() as conn:
        await conn.execute(finished_goods.delete().where(finished_goods.c.id == fg_b["id"]))
    gone = await api.get(f"/inventory/by-sku/{sku_b['id']}")
    assert gone.status == 404
    assert gone.code == "INVENTORY_NOT_FOUND"
    made = await api.post("/inventory", json={"product_sku_id": sku_b["id"], "ready_stock": 7})
    assert made.status == 201, made.body
    assert made.data["ready_stock"] == 7
    assert made.data["low_stock_threshold"] == 5
    assert made.data["status"] == "in_stock"


async def test_threshold_raise_emits_low_stock_once(api):
    _, fg = await _item(api, "TH-1", threshold=1)
    await api.post(f"/inventory/{fg['id']}/adjust", json={"adjustment": 4})
    raised = await api.put(f"/inventory/{fg['id']}/threshold", json={"low_stock_threshold": 4})
    assert raised.data["status"] == "low_stock"
    await api.put(f"/inventory/{fg['id']}/threshold", json={"low_stock_threshold": 5})
    async with api.farm.db.read() as conn:
        n = await conn.scalar(
            select(func.count()).select_from(events).where(events.c.type == "inventory.low_stock")
        )
    assert n == 1


async def test_low_stock_filter_skips_inactive_items(empty_api):
    api = empty_api
    _, fg = await _item(api, "IA-1", threshold=3)
    _, other = await _item(api, "IA-2", threshold=3)
    await api.patch(f"/inventory/{other['id']}", json={"is_active": False})
    low = await api.get("/inventory", params={"low_stock": "true"})
    assert [r["id"] for r in low.data] == [fg["id"]]
    inactive = await api.get("/inventory", params={"is_active": "false"})
    assert [r["id"] for r in inactive.data] == [other["id"]]
