"""The end-to-end flows of issue 3, driven over HTTP only."""

from __future__ import annotations

import asyncio
import random
from typing import Any

from .conftest import assert_error, fg, file_ids, kit, line, order, product, sku


async def _stock(api: Any, fg_id: str) -> int:
    return int((await api.get(f"/inventory/{fg_id}")).data["ready_stock"])


# --- 1. catalogue --------------------------------------------------------------------------


async def test_catalogue_flow_and_duplicates(api):
    files = await file_ids(api)
    p = await product(api, "Flow lamp", category="Lighting", print_file_id=files[0])
    s = await sku(api, p["id"], "LAMP-1", color="White", filament_type="PLA", hex_code="#ffffff")
    row = await fg(api, s["id"])
    assert (row["ready_stock"], row["status"], row["sku"]) == (0, "out_of_stock", "LAMP-1")
    assert row["product_sku_id"] == s["id"] and row["material"] == "PLA"
    listed = (await api.get("/inventory", params={"sku": "LAMP-1"})).data
    assert [r["id"] for r in listed] == [row["id"]]
    detail = (await api.get(f"/products/{p['id']}")).data
    assert [x["id"] for x in detail["skus"]] == [s["id"]]

    assert_error(await api.post("/products", json={"name": "Flow lamp"}), 409, "DUPLICATE_NAME")
    other = await product(api, "Flow shade")
    assert_error(
        await api.patch(f"/products/{other['id']}", json={"name": "Flow lamp"}),
        409,
        "DUPLICATE_NAME",
    )
    dup = await api.post("/skus", json={"product_id": other["id"], "sku": "LAMP-1"})
    assert dup.status == 409 and dup.body["success"] is False
    dup_code = dup.body["code"]
    s2 = await sku(api, other["id"], "SHADE-1")
    assert_error(await api.patch(f"/skus/{s2['id']}", json={"sku": "LAMP-1"}), 409, dup_code)
    assert_error(
        await api.post(f"/products/{other['id']}/skus", json={"sku": "LAMP-1"}), 409, dup_code
    )
    # the refused SKU left nothing behind
    assert len((await api.get("/inventory", params={"sku": "LAMP-1"})).data) == 1

    colour = {"color_name": "Sunset", "hex_code": "#ff8800", "filament_type": "PLA"}
    first = await api.post("/colors", json=colour)
    assert first.status == 201 and first.data["hex_code"] == "#FF8800"
    assert_error(await api.post("/colors", json=colour), 409, "DUPLICATE_COLOR")
    same_other_type = await api.post("/colors", json={**colour, "filament_type": "PETG"})
    assert same_other_type.status == 201
    assert_error(
        await api.patch(f"/colors/{same_other_type.data['id']}", json={"filament_type": "PLA"}),
        409,
        "DUPLICATE_COLOR",
    )


# --- 2. order to shipment ------------------------------------------------------------------------


async def test_order_produce_assemble_fulfil(api):
    files = await file_ids(api)
    stand = await product(api, "Flow stand", requires_assembly=True, print_file_id=files[2])
    stand_sku = await sku(api, stand["id"], "FS-BLK", color="Black")
    k = await kit(api, "Flow kit", "FK")
    kit_sku = next(s for s in k["skus"] if s["sku"] == "FK-RED")
    o = await order(
        api,
        [line("FS-BLK", 2, 1500), line("FK-RED", 1, 4000)],
        order_number="FLOW-1",
        platform="etsy",
    )
    assert o["total_revenue"] == 7000
    assert [i["product_sku_id"] for i in o["items"]] == [stand_sku["id"], kit_sku["id"]]

    produced = await api.post(f"/orders/{o['id']}/produce")
    assert produced.status == 200, produced.body
    jobs = produced.data["jobs"]
    tasks = produced.data["assembly_tasks"]
    assert sorted(j["number_of_units"] for j in jobs) == [1, 2, 2]  # lid, tray x2, stand x2
    assert all(j["status"] == "queued" for j in jobs)
    assert [t["task_type"] for t in tasks] == ["kit_assembly"]
    assert tasks[0]["status"] == "pending" and tasks[0]["sku"] == "FK-RED"
    again = await api.post(f"/orders/{o['id']}/produce")
    assert (again.data["jobs"], again.data["assembly_tasks"]) == ([], [])
    queued = (await api.get("/jobs", params={"status": "queued", "limit": 100})).data
    assert {j["id"] for j in jobs} <= {j["id"] for j in queued}

    # nothing made yet: nothing deducted, every line reported
    early = await api.post(f"/orders/{o['id']}/fulfill", json={})
    assert early.status == 200
    assert any(e.startswith("KIT_NOT_PRODUCED") for e in early.data["fulfillment_errors"])
    assert len(early.data["fulfillment_errors"]) == 2
    assert early.data["shipped_at"] is None
    assert all(i["quantity_fulfilled"] == 0 for i in early.data["items"])

    for job in jobs:
        done = await api.post(f"/jobs/{job['id']}/complete", json={})
        assert done.status == 200, done.body
    stand_fg = await fg(api, stand_sku["id"])
    assert (stand_fg["ready_stock"], stand_fg["status"]) == (0, "needs_assembly")
    kit_fg = await fg(api, kit_sku["id"])
    assert (kit_fg["ready_stock"], kit_fg["available_to_build"]) == (0, 1)
    assert all(p["enough_for_one_kit"] for p in kit_fg["parts_on_hand"])

    mid = await api.post(f"/orders/{o['id']}/fulfill", json={})
    assert any(e.startswith("KIT_NOT_ASSEMBLED") for e in mid.data["fulfillment_errors"])
    assert not any(e.startswith("KIT_NOT_PRODUCED") for e in mid.data["fulfillment_errors"])

    print_tasks = (await api.get("/assembly", params={"task_type": "print_assembly"})).data
    stand_task = next(t for t in print_tasks if t["sku"] == "FS-BLK")
    assert stand_task["quantity"] == 2
    finished = await api.post(f"/assembly/{stand_task['id']}/complete", json={"notes": "ok"})
    assert finished.status == 200, finished.body
    assert finished.data["quantity_completed"] == 2
    assert (await fg(api, stand_sku["id"]))["ready_stock"] == 2
    assert_error(
        await api.post(f"/assembly/{stand_task['id']}/complete", json={}),
        400,
        "TASK_ALREADY_COMPLETED",
    )

    assembled = await api.post(f"/assembly/{tasks[0]['id']}/complete", json={})
    assert assembled.status == 200, assembled.body
    kit_fg = await fg(api, kit_sku["id"])
    assert kit_fg["ready_stock"] == 1
    assert [p["on_hand"] for p in kit_fg["parts_on_hand"]] == [0, 0], "parts consumed"

    shipped = await api.post(
        f"/orders/{o['id']}/fulfill",
        json={"tracking_number": "1Z1", "tracking_url": "https://t.example/1Z1"},
    )
    assert shipped.status == 200, shipped.body
    assert shipped.data["fulfillment_errors"] == []
    assert shipped.data["status"] in ("shipped", "fulfilled")
    assert shipped.data["shipped_at"]
    assert all(i["fulfillment_status"] == "fulfilled" for i in shipped.data["items"])
    assert (await fg(api, stand_sku["id"]))["ready_stock"] == 0
    assert (await fg(api, kit_sku["id"]))["ready_stock"] == 0
    assert_error(
        await api.post(f"/orders/{o['id']}/fulfill", json={}), 400, "ORDER_ALREADY_FULFILLED"
    )
    stats = (await api.get("/orders/stats")).data
    assert stats["by_status"][shipped.data["status"]] >= 1


async def test_fulfil_deducts_nothing_for_short_lines(api):
    p = await product(api, "Short")
    a = await sku(api, p["id"], "SH-A")
    b = await sku(api, p["id"], "SH-B")
    fa, fb = await fg(api, a["id"]), await fg(api, b["id"])
    await api.post(f"/inventory/{fa['id']}/adjust", json={"adjustment": 5})
    await api.post(f"/inventory/{fb['id']}/adjust", json={"adjustment": 1})
    o = await order(api, [line("SH-A", 3), line("SH-B", 2)])
    reply = await api.post(f"/orders/{o['id']}/fulfill", json={})
    assert len(reply.data["fulfillment_errors"]) == 1
    assert "SH-B" in reply.data["fulfillment_errors"][0]
    assert (await _stock(api, fa["id"]), await _stock(api, fb["id"])) == (2, 1)
    assert reply.data["shipped_at"] is None
    assert reply.data["status"] not in ("shipped", "fulfilled")

    item_b = next(i for i in o["items"] if i["sku"] == "SH-B")
    too_many = await api.post(
        f"/orders/{o['id']}/items/{item_b['id']}/fulfill", json={"quantity": 3}
    )
    assert too_many.status == 400 and too_many.body["code"] == "EXCESSIVE_FULFILLMENT"
    short = await api.post(f"/orders/{o['id']}/items/{item_b['id']}/fulfill", json={"quantity": 2})
    assert short.status == 400 and short.body["success"] is False
    assert await _stock(api, fb["id"]) == 1
    one = await api.post(f"/orders/{o['id']}/items/{item_b['id']}/fulfill", json={"quantity": 1})
    assert one.status == 200, one.body
    assert await _stock(api, fb["id"]) == 0
    line_b = next(i for i in one.data["items"] if i["sku"] == "SH-B")
    assert line_b["quantity_fulfilled"] == 1


async def test_cancelled_orders_cannot_be_fulfilled(api):
    p = await product(api, "Cancel")
    await sku(api, p["id"], "CN-1")
    o = await order(api, [line("CN-1")])
    assert (await api.patch(f"/orders/{o['id']}", json={"status": "cancelled"})).status == 200
    assert_error(await api.post(f"/orders/{o['id']}/fulfill", json={}), 400, "ORDER_CANNOT_FULFILL")


async def test_order_create_codes(api):
    p = await product(api, "Codes")
    await sku(api, p["id"], "CD-1")
    await order(api, [line("CD-1")], order_number="CD-ORDER")
    assert_error(
        await api.post(
            "/orders",
            json={"customer_name": "x", "order_number": "CD-ORDER", "items": [line("CD-1")]},
        ),
        409,
        "DUPLICATE_ORDER_NUMBER",
    )
    assert_error(
        await api.post(
            "/orders",
            json={"customer_name": "x", "items": [line("CD-1", product_sku_id="no-such-sku")]},
        ),
        400,
        "INVALID_PRODUCT_SKU",
    )
    total = (await api.get("/orders", params={"limit": 1})).body["meta"]["total"]
    assert total == 2  # the demo order and ours: refused creates left nothing


# --- 3. stock safety -----------------------------------------------------------------------------


async def test_fifty_concurrent_adjustments_are_exact(api):
    p = await product(api, "Race")
    s = await sku(api, p["id"], "RACE-1")
    row = await fg(api, s["id"])
    await api.post(f"/inventory/{row['id']}/adjust", json={"adjustment": 10})
    rng = random.Random(7)
    deltas = [rng.choice([-3, -2, -1, 1, 2]) for _ in range(50)]
    replies = await asyncio.gather(
        *(api.post(f"/inventory/{row['id']}/adjust", json={"adjustment": d}) for d in deltas)
    )
    applied = 0
    for delta, reply in zip(deltas, replies, strict=True):
        if reply.status == 200:
            applied += delta
            data = reply.data
            assert data["new_stock"] == data["previous_stock"] + delta
            assert data["new_stock"] >= 0
        else:
            assert_error(reply, 400, "INSUFFICIENT_STOCK")
            assert delta < 0
    final = await _stock(api, row["id"])
    assert final == 10 + applied
    assert final >= 0
    # the applied adjustments form one chain: each starts where another ended
    chain = sorted(
        (r.data["previous_stock"], r.data["new_stock"]) for r in replies if r.status == 200
    )
    assert len({prev for prev, _ in chain}) >= 1


async def test_concurrent_drain_never_goes_negative(api):
    p = await product(api, "Drain")
    s = await sku(api, p["id"], "DRAIN-1")
    row = await fg(api, s["id"])
    await api.post(f"/inventory/{row['id']}/adjust", json={"adjustment": 20})
    replies = await asyncio.gather(
        *(api.post(f"/inventory/{row['id']}/adjust", json={"adjustment": -1}) for _ in range(50))
    )
    assert sum(r.status == 200 for r in replies) == 20
    assert sum(r.status == 400 for r in replies) == 30
    assert await _stock(api, row["id"]) == 0
    assert sorted(r.data["new_stock"] for r in replies if r.status == 200) == list(range(20))


async def test_concurrent_fulfilments_share_stock_exactly(api):
    p = await product(api, "Popular")
    s = await sku(api, p["id"], "POP-1")
    row = await fg(api, s["id"])
    await api.post(f"/inventory/{row['id']}/adjust", json={"adjustment": 5})
    orders = [await order(api, [line("POP-1", 2)]) for _ in range(5)]
    replies = await asyncio.gather(
        *(api.post(f"/orders/{o['id']}/fulfill", json={}) for o in orders)
    )
    assert all(r.status == 200 for r in replies), [r.body for r in replies]
    shipped = [r for r in replies if not r.data["fulfillment_errors"]]
    assert len(shipped) == 2
    assert await _stock(api, row["id"]) == 1


async def test_component_consume_never_below_zero(api):
    component = (await api.get("/materials/components")).data[0]
    start = component["remaining_units"]
    replies = await asyncio.gather(
        *(
            api.post(f"/materials/components/{component['id']}/consume", json={"quantity": 1})
            for _ in range(start + 10)
        )
    )
    ok = [r for r in replies if r.status == 200]
    assert len(ok) == start
    for r in replies:
        if r.status != 200:
            assert_error(r, 400, "INSUFFICIENT_QUANTITY")
    after = (await api.get(f"/materials/components/{component['id']}")).data
    assert after["remaining_units"] == 0


# --- 4. kits and BOMs ------------------------------------------------------------------------------


async def test_bom_numbers_and_nesting(api):
    p = await product(api, "Bundle")
    parent = await sku(api, p["id"], "BUN-1")
    child_a = await sku(api, p["id"], "BUN-A")
    child_b = await sku(api, p["id"], "BUN-B")
    body = {
        "children": [
            {"child_sku_id": child_a["id"], "quantity_required": 2},
            {"child_sku_id": child_b["id"], "quantity_required": 1},
        ]
    }
    bom = (await api.put(f"/skus/{parent['id']}/bom", json=body)).data
    assert bom["is_composite"] is True and bom["available_to_build"] == 0
    fa, fb = await fg(api, child_a["id"]), await fg(api, child_b["id"])
    await api.post(f"/inventory/{fa['id']}/adjust", json={"adjustment": 5})
    await api.post(f"/inventory/{fb['id']}/adjust", json={"adjustment": 4})
    detail = await fg(api, parent["id"])
    assert detail["available_to_build"] == 2  # 5 // 2 and 4 // 1
    assert detail["is_composite"] is True
    parts = {x["part_sku_id"]: x for x in detail["parts_on_hand"]}
    assert parts[child_a["id"]]["on_hand"] == 5 and parts[child_a["id"]]["quantity_per_kit"] == 2
    assert detail["effective_status"] != "out_of_stock"
    sku_detail = (await api.get(f"/skus/{parent['id']}")).data
    assert sku_detail["available_to_build"] == 2

    # one level deep only
    grand = await sku(api, p["id"], "BUN-GRAND")
    assert_error(
        await api.put(
            f"/skus/{grand['id']}/bom", json={"children": [{"child_sku_id": parent["id"]}]}
        ),
        400,
        "NESTING_NOT_ALLOWED",
    )
    assert_error(
        await api.put(
            f"/skus/{child_a['id']}/bom", json={"children": [{"child_sku_id": child_b["id"]}]}
        ),
        400,
        "NESTING_NOT_ALLOWED",
    )
    self_ref = await api.put(
        f"/skus/{grand['id']}/bom", json={"children": [{"child_sku_id": grand["id"]}]}
    )
    assert self_ref.status == 400 and self_ref.body["success"] is False
    assert_error(
        await api.put(
            f"/skus/{grand['id']}/bom",
            json={"children": [], "inventory": [{"inventory_item_id": "missing"}]},
        ),
        404,
        "UNKNOWN_INVENTORY_ITEM",
    )

    # kit assembly from the BOM
    short = await api.post(f"/skus/{parent['id']}/kit-assembly", json={"quantity": 3})
    assert_error(short, 400, "INSUFFICIENT_FOR_KIT")
    assert short.body["shortages"]
    task = await api.post(f"/skus/{parent['id']}/kit-assembly", json={"quantity": 2})
    assert task.status == 201, task.body
    assert (task.data["task_type"], task.data["status"]) == ("kit_assembly", "pending")
    done = await api.post(f"/assembly/{task.data['id']}/complete", json={})
    assert done.status == 200, done.body
    assert (await _stock(api, fa["id"]), await _stock(api, fb["id"])) == (1, 2)
    assert (await fg(api, parent["id"]))["ready_stock"] == 2


async def test_kit_replace_keeps_stock_and_refuses(api):
    k = await kit(api, "Replace kit", "RK")
    red = next(s for s in k["skus"] if s["sku"] == "RK-RED")
    red_fg = await fg(api, red["id"])
    await api.post(f"/inventory/{red_fg['id']}/adjust", json={"adjustment": 4})
    files = await file_ids(api)
    body = {
        "name": "Replace kit",
        "variants": [{"sku": "RK-RED", "color": "Red"}, {"sku": "RK-GRN", "color": "Green"}],
        "parts": [{"name": "Tray", "print_file_id": files[0], "quantity_per_kit": 2}],
    }
    replaced = await api.put(f"/products/{k['id']}/kit", json=body)
    assert replaced.status == 200, replaced.body
    codes = sorted(s["sku"] for s in replaced.data["skus"])
    assert codes == ["RK-GRN", "RK-RED"]
    survivor = next(s for s in replaced.data["skus"] if s["sku"] == "RK-RED")
    assert survivor["id"] == red["id"]
    assert (await fg(api, red["id"]))["ready_stock"] == 4

    # an open order needs RK-GRN: dropping it is refused
    await order(api, [line("RK-GRN")])
    drop = {**body, "variants": [{"sku": "RK-RED", "color": "Red"}]}
    assert_error(await api.put(f"/products/{k['id']}/kit", json=drop), 409, "SKU_IN_USE_BY_ORDER")

    # a part SKU used by another BOM cannot disappear
    tray_child = replaced.data["kit"]["parts"][0]["variants"][0]["child_sku_id"]
    other = await product(api, "Outsider")
    outsider = await sku(api, other["id"], "OUT-1")
    wired = await api.put(
        f"/skus/{outsider['id']}/bom", json={"children": [{"child_sku_id": tray_child}]}
    )
    assert wired.status == 200, wired.body
    no_tray = {
        **body,
        "parts": [{"name": "Cup", "print_file_id": files[1]}],
    }
    assert_error(
        await api.put(f"/products/{k['id']}/kit", json=no_tray), 409, "PART_IN_EXTERNAL_BOM"
    )
    # refusals were atomic
    after = (await api.get(f"/products/{k['id']}")).data
    assert sorted(s["sku"] for s in after["skus"]) == ["RK-GRN", "RK-RED"]
    assert [part["name"] for part in after["kit"]["parts"]] == ["Tray"]


async def test_kit_create_codes(api):
    files = await file_ids(api)
    base = {
        "name": "Code kit",
        "variants": [{"sku": "CK-1", "color": "Red"}],
        "parts": [{"name": "P", "print_file_id": files[0]}],
    }
    assert (await api.post("/products/kits", json=base)).status == 201
    assert_error(await api.post("/products/kits", json=base), 409, "DUPLICATE_NAME")
    missing_file = {**base, "name": "Code kit 2", "parts": [{"name": "P", "print_file_id": "nope"}]}
    assert_error(await api.post("/products/kits", json=missing_file), 404, "PRINT_FILE_NOT_FOUND")
    bad_extra = {
        **base,
        "name": "Code kit 3",
        "variants": [{"sku": "CK-3", "color": "Red"}],
        "bundle_extras": [{"inventory_item_id": "nope"}],
    }
    assert_error(await api.post("/products/kits", json=bad_extra), 404, "UNKNOWN_INVENTORY_ITEM")
    for empty in ({**base, "variants": []}, {**base, "parts": []}):
        assert_error(await api.post("/products/kits", json=empty), 400, "VALIDATION_ERROR")
    assert "Code kit 2" not in {p["name"] for p in (await api.get("/products")).data}


# --- assembly rules ---------------------------------------------------------------------------------


async def test_assembly_patch_has_no_stock_side_effects(api):
    p = await product(api, "Patchy", requires_assembly=True)
    s = await sku(api, p["id"], "PAT-1")
    row = await fg(api, s["id"])
    task = (await api.post("/assembly", json={"finished_good_id": row["id"], "quantity": 3})).data
    done = (await api.patch(f"/assembly/{task['id']}", json={"status": "completed"})).data
    assert done["status"] == "completed" and done["completed_at"]
    back = (await api.patch(f"/assembly/{task['id']}", json={"status": "pending"})).data
    assert back["status"] == "pending"
    assert back["completed_at"] == done["completed_at"], "completed_at is kept when moved back"
    assert (await fg(api, s["id"]))["ready_stock"] == 0
    unassign = await api.patch(f"/assembly/{task['id']}", json={"assigned_to": None})
    assert unassign.status == 200
    assert_error(
        await api.patch(f"/assembly/{task['id']}", json={"status": "cancelled"}),
        400,
        "VALIDATION_ERROR",
    )
    assert_error(
        await api.patch(f"/assembly/{task['id']}", json={"quantity": 0}), 400, "VALIDATION_ERROR"
    )


async def test_assembly_complete_appends_notes(api):
    p = await product(api, "Notes", requires_assembly=True)
    s = await sku(api, p["id"], "NOTE-1")
    k = await kit(api, "Notes kit", "NK")
    kit_fg = await fg(api, k["skus"][0]["id"])
    assert kit_fg["is_composite"] is True
    t = await api.post("/assembly", json={"finished_good_id": kit_fg["id"], "notes": "first"})
    assert t.status == 201 and t.data["task_type"] == "kit_assembly"
    # parts are missing: kit assembly completion is refused and changes nothing
    refused = await api.post(f"/assembly/{t.data['id']}/complete", json={"notes": "second"})
    assert_error(refused, 400, "INSUFFICIENT_FOR_KIT")
    assert (await api.get(f"/assembly/{t.data['id']}")).data["status"] == "pending"

    row = await fg(api, s["id"])
    task = (await api.post("/assembly", json={"finished_good_id": row["id"], "notes": "a"})).data
    patched = await api.patch(f"/assembly/{task['id']}", json={"notes": "first"})
    assert patched.data["notes"] == "first"
    stats = (await api.get("/assembly/stats")).data
    assert stats["by_status"]["pending"]["count"] >= 2


async def test_concurrent_sku_level_adjustments(api):
    p = await product(api, "Sku race")
    s = await sku(api, p["id"], "SKR-1")
    await api.post(f"/skus/{s['id']}/adjust", json={"adjustment": 20})
    replies = await asyncio.gather(
        *(api.post(f"/skus/{s['id']}/adjust", json={"adjustment": -1}) for _ in range(50))
    )
    assert sum(r.status == 200 for r in replies) == 20
    for r in replies:
        if r.status != 200:
            assert_error(r, 400, "INVALID_STOCK_LEVEL")
    assert (await api.get(f"/skus/{s['id']}")).data["stock_level"] == 0


async def test_competing_kit_assemblies_never_overdraw_parts(api):
    p = await product(api, "Kit race")
    parent = await sku(api, p["id"], "KR-KIT")
    part = await sku(api, p["id"], "KR-PART")
    await api.put(
        f"/skus/{parent['id']}/bom",
        json={"children": [{"child_sku_id": part["id"], "quantity_required": 3}]},
    )
    part_fg = await fg(api, part["id"])
    await api.post(f"/inventory/{part_fg['id']}/adjust", json={"adjustment": 7})
    tasks = []
    for _ in range(2):  # each fits on its own (2 kits = 6 parts), not both together
        reply = await api.post(f"/skus/{parent['id']}/kit-assembly", json={"quantity": 2})
        assert reply.status == 201, reply.body
        tasks.append(reply.data["id"])
    replies = await asyncio.gather(*(api.post(f"/assembly/{t}/complete", json={}) for t in tasks))
    assert sorted(r.status for r in replies) == [200, 400]
    refused = next(r for r in replies if r.status == 400)
    assert_error(refused, 400, "INSUFFICIENT_FOR_KIT")
    assert await _stock(api, part_fg["id"]) == 1
    assert (await fg(api, parent["id"]))["ready_stock"] == 2


async def test_duplicates_ignore_case_beyond_ascii(api):
    """Same answer on SQLite and PostgreSQL, whose lower()/upper() differ outside ASCII."""
    await product(api, "Ünïcorn lamp")
    assert_error(await api.post("/products", json={"name": "üNÏCORN LAMP"}), 409, "DUPLICATE_NAME")
    colour = {"color_name": "Äqua", "hex_code": "#00ffee", "filament_type": "PLA"}
    assert (await api.post("/colors", json=colour)).status == 201
    assert_error(
        await api.post("/colors", json={**colour, "color_name": "äQUA"}), 409, "DUPLICATE_COLOR"
    )
