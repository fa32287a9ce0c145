"""Response shapes and status codes of every endpoint in 3.3, 3.4, 3.5 and 3.8."""

from __future__ import annotations

from typing import Any

from .conftest import (
    EXTRA_COLOR,
    EXTRA_PRODUCT,
    EXTRA_SKU,
    EXTRA_SKU_ADJUST,
    EXTRA_TASK,
    FG_STATUSES,
    NEVER_IN_INVENTORY,
    ORDER_STATUSES,
    PLATFORMS,
    REF_ADJUST,
    REF_ALERT,
    REF_BOM,
    REF_BOM_CHILD,
    REF_BOM_INVENTORY,
    REF_COLOR,
    REF_COMPONENT,
    REF_FG,
    REF_FG_DETAIL,
    REF_ITEM,
    REF_KIT,
    REF_KIT_PART,
    REF_KIT_VARIANT,
    REF_ORDER,
    REF_ORDER_STATS,
    REF_ORDER_STATS_30,
    REF_PART_ON_HAND,
    REF_PRODUCT,
    REF_PRODUCT_DETAIL,
    REF_PRODUCT_IMAGE,
    REF_SKU,
    REF_SKU_ADJUST,
    REF_SKU_DETAIL,
    REF_TASK,
    TASK_STATUSES,
    assert_iso,
    assert_no_leaks,
    assert_shape,
    created,
    fg,
    kit,
    line,
    order,
    product,
    sku,
)


def _ok(reply: Any, *, meta: bool = False) -> Any:
    assert reply.status == 200, (reply.status, reply.body)
    assert reply.body["success"] is True
    assert ("meta" in reply.body) is meta, reply.body.keys()
    return reply.data


# --- inventory ------------------------------------------------------------------------------


async def test_inventory_projections(api):
    rows = _ok(await api.get("/inventory"))
    assert rows, "the demo farm has finished goods"
    for row in rows:
        assert_shape(row, REF_FG)
        assert row["status"] in FG_STATUSES
        assert isinstance(row["ready_stock"], int) and row["ready_stock"] >= 0
        assert_iso(row["created_at"])
        assert_iso(row["updated_at"])
    assert_no_leaks(rows, NEVER_IN_INVENTORY)

    detail = _ok(await api.get(f"/inventory/{rows[0]['id']}"))
    assert_shape(detail, REF_FG_DETAIL)
    assert_no_leaks(detail, NEVER_IN_INVENTORY)
    by_sku = _ok(await api.get(f"/inventory/by-sku/{rows[0]['product_sku_id']}"))
    assert by_sku == detail

    alerts = _ok(await api.get("/inventory/alerts"))
    for row in alerts:
        assert_shape(row, REF_ALERT)
        assert row["is_active"] is True
        assert row["low_stock_threshold"] is not None
        assert row["ready_stock"] <= row["low_stock_threshold"]
    assert_no_leaks(alerts, NEVER_IN_INVENTORY)
    deficits = [r["low_stock_threshold"] - r["ready_stock"] for r in alerts]
    assert deficits == sorted(deficits, reverse=True), "largest deficit first"

    stats = _ok(await api.get("/inventory/stats"))
    for status in FG_STATUSES:
        assert isinstance(stats[status], int)
    assert "total_value" not in stats
    assert_no_leaks(stats, NEVER_IN_INVENTORY | {"total_value"})


async def test_inventory_kit_detail_has_parts_on_hand(api):
    k = await kit(api, "Shape Kit", "SHK")
    variant = k["skus"][0]
    detail = await fg(api, variant["id"])
    assert_shape(detail, REF_FG_DETAIL)
    assert detail["is_composite"] is True
    assert detail["parts_on_hand"]
    for part in detail["parts_on_hand"]:
        assert_shape(part, REF_PART_ON_HAND)
    simple = await fg(api, (await sku(api, (await product(api, "Plain"))["id"], "PLN-1"))["id"])
    assert simple["parts_on_hand"] is None and simple["is_composite"] is False
    assert simple["available_to_build"] == 0


async def test_inventory_write_shapes(api):
    p = await product(api, "Inventory shapes")
    s = await sku(api, p["id"], "INV-SHAPE")
    row = await fg(api, s["id"])

    adjusted = _ok(await api.post(f"/inventory/{row['id']}/adjust", json={"adjustment": 7}))
    assert_shape(adjusted, REF_ADJUST)
    assert adjusted["reason"] == "manual", "reason defaults to manual"
    assert (adjusted["previous_stock"], adjusted["new_stock"]) == (0, 7)

    updated = _ok(await api.patch(f"/inventory/{row['id']}", json={"image_url": None}))
    assert_shape(updated, REF_FG)
    threshold = _ok(
        await api.put(f"/inventory/{row['id']}/threshold", json={"low_stock_threshold": 9})
    )
    assert_shape(threshold, REF_FG)
    assert threshold["low_stock_threshold"] == 9 and threshold["status"] == "low_stock"

    # POST /inventory: a SKU that already has its row is refused; a row for a SKU without one
    # cannot be made black-box (every SKU gets its row), so check the refusal's envelope.
    dup = await api.post("/inventory", json={"product_sku_id": s["id"]})
    assert dup.status == 409 and dup.body["success"] is False


# --- orders -------------------------------------------------------------------------------------


async def test_order_projections(api):
    p = await product(api, "Order shapes")
    await sku(api, p["id"], "ORD-SHAPE")
    o = await order(
        api, [line("ORD-SHAPE", 2, 1250)], order_number="SHAPE-1", customer_email="a@b.example"
    )
    assert_shape({k: v for k, v in o.items() if k != "items"}, REF_ORDER)
    assert "items" in o
    for item in o["items"]:
        assert_shape(item, REF_ITEM)
    assert_no_leaks(o)
    assert o["platform"] == "manual" and o["shipping_country"] == "USA"
    assert o["status"] == "pending"
    assert o["total_revenue"] == 2500
    for k in ("total_revenue", "shipping_cost", "tax_amount", "discount_amount"):
        assert isinstance(o[k], int)

    rows = _ok(await api.get("/orders"), meta=True)
    for row in rows:
        assert_shape(row, REF_ORDER)
        assert row["status"] in ORDER_STATUSES and row["platform"] in PLATFORMS
    assert_no_leaks(rows)

    detail = _ok(await api.get(f"/orders/{o['id']}"))
    assert_shape({k: v for k, v in detail.items() if k != "items"}, REF_ORDER)
    for item in detail["items"]:
        assert_shape(item, REF_ITEM)
    assert_no_leaks(detail)

    patched = _ok(await api.patch(f"/orders/{o['id']}", json={"notes": "fragile"}))
    assert patched["notes"] == "fragile"
    assert_shape({k: v for k, v in patched.items() if k != "items"}, REF_ORDER)
    assert_no_leaks(patched)

    stats = _ok(await api.get("/orders/stats"))
    assert_shape(stats, REF_ORDER_STATS)
    assert_shape(stats["last_30_days"], REF_ORDER_STATS_30)
    assert set(stats["by_status"]) <= set(ORDER_STATUSES)
    assert set(stats["by_platform"]) <= set(PLATFORMS)


async def test_fulfil_and_produce_shapes(api):
    p = await product(api, "Fulfil shapes")
    s = await sku(api, p["id"], "FUL-SHAPE")
    o = await order(api, [line("FUL-SHAPE", 1)])
    produced = _ok(await api.post(f"/orders/{o['id']}/produce"))
    for key in ("shortages", "unmatched_items"):
        assert isinstance(produced[key], list)
    assert_no_leaks(produced)

    await api.post(f"/inventory/{(await fg(api, s['id']))['id']}/adjust", json={"adjustment": 1})
    item_id = o["items"][0]["id"]
    partial = _ok(
        await api.post(f"/orders/{o['id']}/items/{item_id}/fulfill", json={"quantity": 1})
    )
    assert_shape(
        {k: v for k, v in partial.items() if k not in ("items", "fulfillment_errors")}, REF_ORDER
    )
    assert_no_leaks(partial)

    o2 = await order(api, [line("FUL-SHAPE", 1)])
    done = _ok(await api.post(f"/orders/{o2['id']}/fulfill", json={}))
    assert isinstance(done["fulfillment_errors"], list)
    assert all(isinstance(e, str) for e in done["fulfillment_errors"])
    assert_shape(
        {k: v for k, v in done.items() if k not in ("items", "fulfillment_errors")}, REF_ORDER
    )
    for item in done["items"]:
        assert_shape(item, REF_ITEM)
    assert_no_leaks(done)


# --- products, SKUs, colours, components, images, kits, BOMs ------------------------------------


async def test_product_projections(api):
    rows = _ok(await api.get("/products"), meta=True)
    assert rows
    for row in rows:
        assert_shape(row, REF_PRODUCT, EXTRA_PRODUCT)
        for image in row["images"]:
            assert_shape(image, REF_PRODUCT_IMAGE)
    assert_no_leaks(rows)

    p = await product(api, "Product shapes", description="d", category="Cat")
    assert_shape(p, REF_PRODUCT, EXTRA_PRODUCT)
    assert p["requires_assembly"] is False and p["requires_post_processing"] is False
    assert p["images"] == [] and p["image_url"] is None

    detail = _ok(await api.get(f"/products/{p['id']}"))
    assert_shape(detail, REF_PRODUCT_DETAIL, EXTRA_PRODUCT)
    updated = _ok(await api.patch(f"/products/{p['id']}", json={"description": None}))
    assert_shape(updated, REF_PRODUCT, EXTRA_PRODUCT | {"skus", "components", "kit"})
    assert updated["description"] is None

    categories = _ok(await api.get("/products/categories"))
    assert categories == sorted(set(categories)) and "" not in categories
    assert "Cat" in categories


async def test_kit_detail_shape(api):
    k = await kit(api, "Kit shapes", "KSH")
    assert_shape(k, REF_PRODUCT_DETAIL, EXTRA_PRODUCT)
    detail = _ok(await api.get(f"/products/{k['id']}"))
    assert_shape(detail, REF_PRODUCT_DETAIL, EXTRA_PRODUCT)
    assert_shape(detail["kit"], REF_KIT)
    assert len(detail["kit"]["parts"]) == 2
    for part in detail["kit"]["parts"]:
        assert_shape(part, REF_KIT_PART)
        for variant in part["variants"]:
            assert_shape(variant, REF_KIT_VARIANT)
    for s in detail["skus"]:
        assert_shape(s, REF_SKU, EXTRA_SKU)
        assert s["is_composite"] is True
    assert_no_leaks(detail)


async def test_sku_projections(api):
    p = await product(api, "SKU shapes")
    s = await sku(api, p["id"], "SKU-SHAPE", color="Red", filament_type="PLA", hex_code="#aabbcc")
    assert_shape(s, REF_SKU, EXTRA_SKU)
    assert s["hex_code"] == "#AABBCC" and s["finished_goods_stock"] == 0
    via_product = await created(await api.post(f"/products/{p['id']}/skus", json={"sku": "SKU-2"}))
    assert_shape(via_product, REF_SKU, EXTRA_SKU)
    assert via_product["product_id"] == p["id"]

    for row in _ok(await api.get("/skus")):
        assert_shape(row, REF_SKU, EXTRA_SKU)
    for row in _ok(await api.get("/skus/low-stock")):
        assert_shape(row, REF_SKU, EXTRA_SKU)
    detail = _ok(await api.get(f"/skus/{s['id']}"))
    assert_shape(detail, REF_SKU_DETAIL, EXTRA_SKU)
    assert detail["available_to_build"] == 0
    patched = _ok(await api.patch(f"/skus/{s['id']}", json={"color": "Blue"}))
    assert_shape(patched, REF_SKU, EXTRA_SKU)
    adjusted = _ok(await api.post(f"/skus/{s['id']}/adjust", json={"adjustment": 3}))
    assert_shape(adjusted, REF_SKU_ADJUST, EXTRA_SKU_ADJUST)
    assert (adjusted["previous_stock_level"], adjusted["new_stock_level"]) == (0, 3)


async def test_bom_shapes(api):
    p = await product(api, "BOM shapes")
    parent = await sku(api, p["id"], "BOM-P")
    child = await sku(api, p["id"], "BOM-C")
    components = _ok(await api.get("/materials/components"))
    body = {
        "children": [{"child_sku_id": child["id"], "quantity_required": 2}],
        "inventory": [{"inventory_item_id": components[0]["id"], "quantity_required": 1}],
    }
    replaced = _ok(await api.put(f"/skus/{parent['id']}/bom", json=body))
    assert_shape(replaced, REF_BOM)
    assert replaced["is_composite"] is True
    for c in replaced["children"]:
        assert_shape(c, REF_BOM_CHILD)
    for i in replaced["inventory"]:
        assert_shape(i, REF_BOM_INVENTORY)
    assert _ok(await api.get(f"/skus/{parent['id']}/bom")) == replaced
    cleared = _ok(await api.put(f"/skus/{parent['id']}/bom", json={"children": []}))
    assert cleared["is_composite"] is False and cleared["children"] == []


async def test_color_shapes(api):
    rows = _ok(await api.get("/colors"))
    for row in rows:
        assert_shape(row, REF_COLOR, EXTRA_COLOR)
    c = await created(
        await api.post(
            "/colors", json={"color_name": "Mint", "hex_code": "#a0f0c0", "filament_type": "PLA"}
        )
    )
    assert_shape(c, REF_COLOR, EXTRA_COLOR)
    assert c["hex_code"] == "#A0F0C0"
    patched = _ok(await api.patch(f"/colors/{c['id']}", json={"is_active": False}))
    assert_shape(patched, REF_COLOR, EXTRA_COLOR)
    types = _ok(await api.get("/colors/filament-types"))
    assert types == sorted(set(types))


async def test_component_shapes(api):
    p = await product(api, "Component shapes")
    body = {"components": [{"component_name": "M3 screw", "component_type": "screw"}]}
    added = _ok(await api.post(f"/products/{p['id']}/components", json=body))
    for c in added:
        assert_shape(c, REF_COMPONENT)
    listed = _ok(await api.get(f"/products/{p['id']}/components"))
    assert [c["component_name"] for c in listed] == ["M3 screw"]
    for c in listed:
        assert_shape(c, REF_COMPONENT)
    everything = _ok(await api.get("/products/components"))
    assert any(c["product_id"] == p["id"] for c in everything)
    for c in everything:
        assert_shape(c, REF_COMPONENT | {"product_id"}, {"product_name"})
    gone = _ok(await api.delete(f"/products/{p['id']}/components"))
    assert gone["deleted"] == 1
    assert _ok(await api.get(f"/products/{p['id']}/components")) == []


# --- assembly ---------------------------------------------------------------------------------


async def test_assembly_shapes(api):
    p = await product(api, "Assembly shapes", requires_assembly=True)
    s = await sku(api, p["id"], "ASM-SHAPE")
    row = await fg(api, s["id"])
    task = await created(
        await api.post(
            "/assembly", json={"finished_good_id": row["id"], "quantity": 2, "assigned_to": "u1"}
        )
    )
    assert_shape(task, REF_TASK, EXTRA_TASK)
    assert task["status"] == "pending" and task["task_type"] == "print_assembly"
    assert task["completed_at"] is None
    assert_no_leaks(task)

    rows = _ok(await api.get("/assembly"), meta=True)
    for r in rows:
        assert_shape(r, REF_TASK, EXTRA_TASK)
        assert r["status"] in TASK_STATUSES
    assert_no_leaks(rows)

    detail = _ok(await api.get(f"/assembly/{task['id']}"))
    assert_shape(detail, REF_TASK | {"wiki_article"}, EXTRA_TASK)
    assert detail["wiki_article"] is None
    assert_no_leaks(detail)

    patched = _ok(await api.patch(f"/assembly/{task['id']}", json={"notes": "n"}))
    assert_shape(patched, REF_TASK, EXTRA_TASK)

    stats = _ok(await api.get("/assembly/stats"))
    assert set(stats) == {"by_status", "total_units_awaiting"}
    assert set(stats["by_status"]) == set(TASK_STATUSES)
    for bucket in stats["by_status"].values():
        assert set(bucket) == {"count", "total_quantity"}
    assert stats["total_units_awaiting"] == sum(
        stats["by_status"][s]["total_quantity"] for s in ("pending", "in_progress")
    )

    await api.post(f"/inventory/{row['id']}/adjust", json={"adjustment": 0})
    completed = await api.post(f"/assembly/{task['id']}/complete", json={})
    # nothing is waiting for assembly, so print_assembly refuses; the envelope is an error
    assert completed.status == 400 and completed.body["success"] is False
