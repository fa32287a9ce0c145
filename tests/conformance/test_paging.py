"""Pagination, fixed orderings and "true"/"false" filters (reference 2.5)."""

from __future__ import annotations

import pytest

from .conftest import assert_error, fg, line, order, product, sku

UNPAGED = ["/skus", "/skus/low-stock", "/colors", "/inventory/alerts", "/products/categories"]
PAGED_100 = ["/products", "/orders", "/assembly"]


@pytest.mark.parametrize("path", UNPAGED)
async def test_unpaginated_lists_have_no_meta(api, path):
    reply = await api.get(path)
    assert reply.status == 200
    assert "meta" not in reply.body
    assert isinstance(reply.data, list)


@pytest.mark.parametrize("path", PAGED_100)
async def test_paginated_lists(api, path):
    reply = await api.get(path)
    assert reply.status == 200
    meta = reply.body["meta"]
    assert (meta["limit"], meta["offset"], meta["count"]) == (50, 0, len(reply.data))
    if path == "/orders":
        assert set(meta) == {"limit", "offset", "count", "total"}
    else:
        assert set(meta) == {"limit", "offset", "count"}
    assert (await api.get(path, params={"limit": 100})).status == 200
    for bad in ({"limit": 101}, {"limit": 0}, {"limit": -1}, {"limit": "x"}, {"offset": -1}):
        assert_error(await api.get(path, params=bad), 400, "VALIDATION_ERROR")
    far = await api.get(path, params={"offset": 10_000})
    assert far.status == 200 and far.data == [] and far.body["meta"]["count"] == 0


async def test_inventory_paging_is_opt_in(api):
    full = await api.get("/inventory")
    assert "meta" not in full.body
    everything = full.data
    assert len(everything) > 2

    limited = await api.get("/inventory", params={"limit": 2})
    assert limited.body["meta"] == {"limit": 2, "offset": 0, "count": 2}
    assert limited.data == everything[:2]

    offset_only = await api.get("/inventory", params={"offset": 1})
    assert offset_only.body["meta"] == {"limit": 50, "offset": 1, "count": len(everything) - 1}
    assert offset_only.data == everything[1:51]

    assert (await api.get("/inventory", params={"limit": 500})).status == 200
    for bad in ({"limit": 501}, {"limit": 0}, {"offset": -1}, {"limit": "many"}):
        assert_error(await api.get("/inventory", params=bad), 400, "VALIDATION_ERROR")


async def test_inventory_ordered_by_sku_and_filters(api):
    p = await product(api, "Filter product")
    low = await sku(api, p["id"], "FLT-A", filament_type="PETG", low_stock_threshold=5)
    high = await sku(api, p["id"], "FLT-B", filament_type="PETG", low_stock_threshold=1)
    no_threshold = await sku(api, p["id"], "FLT-C", filament_type="PETG")
    await api.put(
        f"/inventory/{(await fg(api, no_threshold['id']))['id']}/threshold",
        json={"low_stock_threshold": 0},
    )
    await api.post(f"/inventory/{(await fg(api, low['id']))['id']}/adjust", json={"adjustment": 2})
    await api.post(
        f"/inventory/{(await fg(api, high['id']))['id']}/adjust", json={"adjustment": 20}
    )

    rows = (await api.get("/inventory")).data
    codes = [r["sku"] for r in rows]
    assert codes == sorted(codes), "inventory is ordered by SKU"

    petg = (await api.get("/inventory", params={"material": "PETG"})).data
    assert {r["material"] for r in petg} == {"PETG"}
    assert {"FLT-A", "FLT-B", "FLT-C"} <= {r["sku"] for r in petg}

    exact = (await api.get("/inventory", params={"sku": "FLT-A"})).data
    assert [r["sku"] for r in exact] == ["FLT-A"]
    assert (await api.get("/inventory", params={"sku": "flt-a"})).data == [], "case-sensitive"
    assert (await api.get("/inventory", params={"sku": "FLT"})).data == [], "exact, not prefix"

    low_rows = (await api.get("/inventory", params={"low_stock": "true"})).data
    assert all(r["ready_stock"] <= r["low_stock_threshold"] for r in low_rows)
    assert "FLT-A" in {r["sku"] for r in low_rows}
    assert "FLT-B" not in {r["sku"] for r in low_rows}
    not_low = (await api.get("/inventory", params={"low_stock": "false"})).data
    assert "FLT-B" in {r["sku"] for r in not_low}
    assert not {r["sku"] for r in low_rows} & {r["sku"] for r in not_low}

    for status in ("in_stock", "low_stock", "out_of_stock", "needs_assembly"):
        rows = (await api.get("/inventory", params={"status": status})).data
        assert all(r["status"] == status for r in rows)
    for bad in ({"low_stock": "yes"}, {"low_stock": "1"}, {"status": "sold_out"}):
        assert_error(await api.get("/inventory", params=bad), 400, "VALIDATION_ERROR")


async def test_orders_most_recent_first_with_total(api):
    p = await product(api, "Paging orders")
    await sku(api, p["id"], "PG-ORD")
    dates = ["2026-01-03T10:00:00Z", "2026-01-01T10:00:00Z", "2026-01-02T10:00:00Z"]
    for n, d in enumerate(dates):
        await order(api, [line("PG-ORD")], order_number=f"PG-{n}", order_date=d, platform="shopify")
    reply = await api.get("/orders", params={"platform": "shopify", "limit": 2})
    assert reply.body["meta"] == {"limit": 2, "offset": 0, "count": 2, "total": 3}
    assert [o["order_number"] for o in reply.data] == ["PG-0", "PG-2"]
    rest = await api.get("/orders", params={"platform": "shopify", "limit": 2, "offset": 2})
    assert rest.body["meta"] == {"limit": 2, "offset": 2, "count": 1, "total": 3}
    assert [o["order_number"] for o in rest.data] == ["PG-1"]

    window = await api.get(
        "/orders", params={"from": "2026-01-02T00:00:00Z", "to": "2026-01-02T23:59:59Z"}
    )
    assert [o["order_number"] for o in window.data] == ["PG-2"]
    assert window.body["meta"]["total"] == 1
    day = await api.get("/orders", params={"from": "2026-01-02", "to": "2026-01-02"})
    assert [o["order_number"] for o in day.data] == ["PG-2"]
    pending = await api.get("/orders", params={"status": "pending", "platform": "shopify"})
    assert pending.body["meta"]["total"] == 3
    for bad in ({"status": "lost"}, {"platform": "amazon"}, {"from": "yesterday"}):
        assert_error(await api.get("/orders", params=bad), 400, "VALIDATION_ERROR")


async def test_products_filters(api):
    await product(api, "Alpha lamp", category="Lighting", description="warm glow")
    await product(api, "Beta shelf", category="Storage", is_active=False)
    lighting = (await api.get("/products", params={"category": "Lighting"})).data
    assert [p["name"] for p in lighting] == ["Alpha lamp"]
    assert (await api.get("/products", params={"category": "lighting"})).data == []
    inactive = (await api.get("/products", params={"is_active": "false"})).data
    assert [p["name"] for p in inactive] == ["Beta shelf"]
    active = (await api.get("/products", params={"is_active": "true"})).data
    assert "Beta shelf" not in {p["name"] for p in active}
    found = (await api.get("/products", params={"search": "GLOW"})).data
    assert [p["name"] for p in found] == ["Alpha lamp"], "search covers description, any case"
    assert (await api.get("/products", params={"search": "%"})).data == [], "LIKE wildcards literal"
    assert (await api.get("/products", params={"search": "_"})).data == []
    assert_error(await api.get("/products", params={"is_active": "no"}), 400, "VALIDATION_ERROR")
    assert_error(await api.get("/products", params={"search": "x" * 121}), 400, "VALIDATION_ERROR")


async def test_skus_filters(api):
    p = await product(api, "SKU filters")
    a = await sku(api, p["id"], "SF-A", color="Red", filament_type="PLA", low_stock_threshold=2)
    b = await sku(api, p["id"], "SF-B", color="Blue", filament_type="PETG", low_stock_threshold=0)
    await api.patch(f"/skus/{b['id']}", json={"is_active": False})
    mine = (await api.get("/skus", params={"product_id": p["id"]})).data
    assert [s["sku"] for s in mine] == ["SF-A", "SF-B"]
    red = (await api.get("/skus", params={"product_id": p["id"], "color": "Red"})).data
    assert [s["id"] for s in red] == [a["id"]]
    petg = (await api.get("/skus", params={"product_id": p["id"], "filament_type": "PETG"})).data
    assert [s["id"] for s in petg] == [b["id"]]
    inactive = (await api.get("/skus", params={"product_id": p["id"], "is_active": "false"})).data
    assert [s["id"] for s in inactive] == [b["id"]]
    low = (await api.get("/skus", params={"product_id": p["id"], "low_stock": "true"})).data
    assert a["id"] in [s["id"] for s in low]
    codes = [s["sku"] for s in (await api.get("/skus")).data]
    assert codes == sorted(codes)
    assert_error(await api.get("/skus", params={"low_stock": "maybe"}), 400, "VALIDATION_ERROR")


async def test_colors_filters(api):
    await api.post(
        "/colors", json={"color_name": "Ink", "hex_code": "#111111", "filament_type": "ABS"}
    )
    abs_rows = (await api.get("/colors", params={"filament_type": "ABS"})).data
    assert [c["color_name"] for c in abs_rows] == ["INK"]
    assert (await api.get("/colors", params={"is_active": "false"})).data == []
    assert_error(await api.get("/colors", params={"is_active": "0"}), 400, "VALIDATION_ERROR")


async def test_assembly_ordering_and_filters(api):
    p = await product(api, "Assembly order", requires_assembly=True)
    s = await sku(api, p["id"], "AO-1")
    row = await fg(api, s["id"])
    ids = []
    for _ in range(3):
        reply = await api.post("/assembly", json={"finished_good_id": row["id"]})
        ids.append(reply.data["id"])
    await api.patch(f"/assembly/{ids[0]}", json={"status": "completed"})
    await api.patch(f"/assembly/{ids[2]}", json={"status": "in_progress"})
    listed = (await api.get("/assembly")).data
    statuses = [t["status"] for t in listed]
    rank = {"in_progress": 0, "pending": 1, "completed": 2, "cancelled": 3}
    assert statuses == sorted(statuses, key=rank.__getitem__)
    assert [t["id"] for t in listed[:3]] == [ids[2], ids[1], ids[0]]
    only = (await api.get("/assembly", params={"status": "pending"})).data
    assert [t["id"] for t in only] == [ids[1]]
    typed = (await api.get("/assembly", params={"task_type": "kit_assembly"})).data
    assert all(t["task_type"] == "kit_assembly" for t in typed)
    for bad in ({"status": "done"}, {"task_type": "glue"}):
        assert_error(await api.get("/assembly", params=bad), 400, "VALIDATION_ERROR")
