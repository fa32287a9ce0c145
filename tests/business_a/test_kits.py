"""Kits and BOMs: kit numbers, nesting, kit replace, kit create errors, kit assembly."""

from __future__ import annotations

import uuid

from sqlalchemy import insert

from apf_core.storage.tables import metadata
from apf_core.timeutil import utcnow

from .conftest import fg_of, file_ids, make_kit, make_product, make_sku


async def _stock(api, sku_id, amount):
    fg = await fg_of(api, sku_id)
    reply = await api.post(f"/inventory/{fg['id']}/adjust", json={"adjustment": amount})
    assert reply.status == 200, reply.body


async def _bom_kit(api):
    product = await make_product(api, "Bundle")
    parent = await make_sku(api, product["id"], "BUNDLE", low_stock_threshold=1)
    parts = await make_product(api, "Parts")
    a = await make_sku(api, parts["id"], "PART-A", color="Red")
    b = await make_sku(api, parts["id"], "PART-B", color="Blue")
    reply = await api.put(
        f"/skus/{parent['id']}/bom",
        json={
            "children": [
                {"child_sku_id": a["id"], "quantity_required": 2},
                {"child_sku_id": b["id"]},
            ]
        },
    )
    assert reply.status == 200, reply.body
    return parent, a, b, reply.data


async def test_bom_numbers_follow_parts(api):
    parent, a, b, bom = await _bom_kit(api)
    assert bom["is_composite"] is True
    assert bom["available_to_build"] == 0
    assert [(c["child_sku"], c["quantity_required"]) for c in bom["children"]] == [
        ("PART-A", 2),
        ("PART-B", 1),
    ]
    assert bom["inventory"] == []
    await _stock(api, a["id"], 5)
    await _stock(api, b["id"], 1)
    fg = await fg_of(api, parent["id"])
    assert fg["is_composite"] is True
    assert fg["available_to_build"] == 1  # B limits: 1 // 1; A allows 5 // 2 = 2
    assert fg["status"] == "out_of_stock"
    assert fg["effective_status"] == "low_stock"
    assert fg["parts_on_hand"] == [
        {
            "part_sku_id": a["id"],
            "part_name": "Parts",
            "color": "Red",
            "on_hand": 5,
            "quantity_per_kit": 2,
            "enough_for_one_kit": True,
        },
        {
            "part_sku_id": b["id"],
            "part_name": "Parts",
            "color": "Blue",
            "on_hand": 1,
            "quantity_per_kit": 1,
            "enough_for_one_kit": True,
        },
    ]
    await _stock(api, b["id"], 3)
    fg = await fg_of(api, parent["id"])
    assert fg["available_to_build"] == 2
    assert fg["effective_status"] == "in_stock"
    # a kit that could be assembled to a healthy level is not an alert
    assert fg["id"] not in {x["id"] for x in (await api.get("/inventory/alerts")).data}
    sku = (await api.get(f"/skus/{parent['id']}")).data
    assert sku["available_to_build"] == 2
    assert sku["effective_status"] == "in_stock"
    assert (await api.get(f"/skus/{parent['id']}/bom")).data["available_to_build"] == 2
    cleared = await api.put(f"/skus/{parent['id']}/bom", json={"children": []})
    assert cleared.data["is_composite"] is False
    assert cleared.data["children"] == []
    assert (await fg_of(api, parent["id"]))["parts_on_hand"] is None


async def test_nesting_not_allowed(api):
    parent, a, _, _ = await _bom_kit(api)
    product = await make_product(api, "Mega")
    mega = await make_sku(api, product["id"], "MEGA")
    nested = await api.put(
        f"/skus/{mega['id']}/bom", json={"children": [{"child_sku_id": parent["id"]}]}
    )
    assert nested.status == 400
    assert nested.code == "NESTING_NOT_ALLOWED"
    child_as_kit = await api.put(
        f"/skus/{a['id']}/bom", json={"children": [{"child_sku_id": mega["id"]}]}
    )
    assert child_as_kit.status == 400
    assert child_as_kit.code == "NESTING_NOT_ALLOWED"
    itself = await api.put(
        f"/skus/{mega['id']}/bom", json={"children": [{"child_sku_id": mega["id"]}]}
    )
    assert itself.status == 400
    assert itself.code == "NESTING_NOT_ALLOWED"
    unknown = await api.put(
        f"/skus/{mega['id']}/bom", json={"children": [{"child_sku_id": "nope"}]}
    )
    assert unknown.status == 404
    assert unknown.code == "SKU_NOT_FOUND"
    bad_item = await api.put(
        f"/skus/{mega['id']}/bom",
        json={
            "children": [{"child_sku_id": a["id"]}],
            "inventory": [{"inventory_item_id": "nope"}],
        },
    )
    assert bad_item.status == 404
    assert bad_item.code == "UNKNOWN_INVENTORY_ITEM"
    assert (await api.get(f"/skus/{mega['id']}")).data["is_composite"] is False  # rolled back


async def test_bom_with_material_items(api):
    table = metadata.tables.get("material_components")
    if table is None:
        import pytest

        pytest.skip("materials area not present")
    item_id = str(uuid.uuid4())
    async with api.farm.db.begin() as conn:
        now = utcnow()
        await conn.execute(
            insert(table).values(
                id=item_id,
                type="magnet",
                name="Magnet 6mm",
                remaining_units=3,
                created_at=now,
                updated_at=now,
            )
        )
    parent, a, _b, _ = await _bom_kit(api)
    reply = await api.put(
        f"/skus/{parent['id']}/bom",
        json={
            "children": [{"child_sku_id": a["id"]}],
            "inventory": [{"inventory_item_id": item_id, "quantity_required": 2}],
        },
    )
    assert reply.status == 200, reply.body
    assert reply.data["inventory"] == [
        {
            "inventory_item_id": item_id,
            "quantity_required": 2,
            "item_name": "Magnet 6mm",
            "remaining": 3,
            "unit": "units",
        }
    ]
    await _stock(api, a["id"], 10)
    assert (await fg_of(api, parent["id"]))["available_to_build"] == 1  # 3 magnets // 2
    task = await api.post(f"/skus/{parent['id']}/kit-assembly", json={"quantity": 1})
    assert task.status == 201, task.body
    done = await api.post(f"/assembly/{task.data['id']}/complete", json={})
    assert done.status == 200, done.body
    bom = (await api.get(f"/skus/{parent['id']}/bom")).data
    assert bom["inventory"][0]["remaining"] == 1
    assert (await fg_of(api, parent["id"]))["ready_stock"] == 1


async def test_kit_create_shape_and_errors(api):
    kit = await make_kit(api, "Desk Kit")
    assert kit["is_kit"] is True
    assert sorted(s["sku"] for s in kit["skus"]) == ["DESK-BLU", "DESK-RED"]
    assert all(s["is_composite"] for s in kit["skus"])
    parts = kit["kit"]["parts"]
    assert [p["name"] for p in parts] == ["Tray", "Lid"]
    assert parts[0]["quantity_per_kit"] == 2
    assert parts[0]["file_name"]
    tray_colors = sorted(v["child_color"] for v in parts[0]["variants"])
    assert tray_colors == ["Blue", "Red"]
    lid = {v["child_sku_id"] for v in parts[1]["variants"]}
    assert len(lid) == 1  # fixed colour: one shared child SKU
    assert parts[1]["variants"][0]["child_color"] == "Black"
    # internal part products and their SKUs stay out of lists
    names = [p["name"] for p in (await api.get("/products")).data]
    assert "Desk Kit" in names
    assert not any("/" in n for n in names)
    listed = {s["sku"] for s in (await api.get("/skus")).data}
    assert {"DESK-RED", "DESK-BLU"} <= listed
    assert not any("TRAY" in s for s in listed)
    part_product = await api.get(f"/products/{parts[0]['variants'][0]['child_sku_id']}")
    assert part_product.status == 404

    files = await file_ids(api)
    base = {
        "name": "Other",
        "variants": [{"sku": "OTH-1", "color": "Red"}],
        "parts": [{"name": "Body", "print_file_id": files[0]}],
    }
    dup = await api.post("/products/kits", json={**base, "name": "desk kit"})
    assert dup.status == 409
    assert dup.code == "DUPLICATE_NAME"
    no_file = await api.post(
        "/products/kits", json={**base, "parts": [{"name": "Body", "print_file_id": "missing"}]}
    )
    assert no_file.status == 404
    assert no_file.code == "PRINT_FILE_NOT_FOUND"
    no_item = await api.post(
        "/products/kits", json={**base, "bundle_extras": [{"inventory_item_id": "missing"}]}
    )
    assert no_item.status == 404
    assert no_item.code == "UNKNOWN_INVENTORY_ITEM"
    dup_sku = await api.post(
        "/products/kits", json={**base, "variants": [{"sku": "DESK-RED", "color": "Red"}]}
    )
    assert dup_sku.status == 409
    assert dup_sku.code == "DUPLICATE_SKU"
    empty = await api.post("/products/kits", json={**base, "parts": []})
    assert empty.status == 400
    assert empty.code == "VALIDATION_ERROR"
    assert "Other" not in [p["name"] for p in (await api.get("/products")).data]  # all rolled back


async def test_kit_replace_keeps_surviving_stock(api):
    kit = await make_kit(api, "Desk Kit")
    red = next(s for s in kit["skus"] if s["sku"] == "DESK-RED")
    tray_red = next(
        v["child_sku_id"]
        for v in kit["kit"]["parts"][0]["variants"]
        if v["kit_sku_id"] == red["id"]
    )
    await _stock(api, red["id"], 4)
    await _stock(api, tray_red, 6)
    files = await file_ids(api)
    body = {
        "name": "Desk Kit Pro",
        "description": "v2",
        "variants": [{"sku": "DESK-RED", "color": "Red"}, {"sku": "DESK-GRN", "color": "Green"}],
        "parts": [
            {"name": "Tray", "print_file_id": files[0], "quantity_per_kit": 3},
            {"name": "Pen cup", "print_file_id": files[2]},
        ],
    }
    replaced = await api.put(f"/products/{kit['id']}/kit", json=body)
    assert replaced.status == 200, replaced.body
    assert replaced.data["name"] == "Desk Kit Pro"
    codes = sorted(s["sku"] for s in replaced.data["skus"])
    assert codes == ["DESK-GRN", "DESK-RED"]
    red_after = next(s for s in replaced.data["skus"] if s["sku"] == "DESK-RED")
    assert red_after["id"] == red["id"]
    assert red_after["finished_goods_stock"] == 4
    assert (await api.get(f"/skus/{tray_red}")).data["finished_goods_stock"] == 6
    assert [p["name"] for p in replaced.data["kit"]["parts"]] == ["Tray", "Pen cup"]
    bom = (await api.get(f"/skus/{red['id']}/bom")).data
    assert {c["quantity_required"] for c in bom["children"]} == {3, 1}
    assert (await api.get(f"/skus/{kit['skus'][0]['id']}")).status in (200, 404)
    blue = next(s for s in kit["skus"] if s["sku"] == "DESK-BLU")
    assert (await api.get(f"/skus/{blue['id']}")).code == "SKU_NOT_FOUND"
    not_kit = await make_product(api, "Plain")
    refused = await api.put(f"/products/{not_kit['id']}/kit", json=body)
    assert refused.status == 400
    assert refused.code == "NOT_A_KIT"


async def test_kit_replace_refusals(api):
    kit = await make_kit(api, "Desk Kit")
    files = await file_ids(api)
    green_only = {
        "name": "Desk Kit",
        "variants": [{"sku": "DESK-GRN", "color": "Green"}],
        "parts": [{"name": "Tray", "print_file_id": files[0]}],
    }
    order = await api.post(
        "/orders",
        json={
            "customer_name": "Z",
            "items": [
                {"sku": "DESK-BLU", "product_name": "Desk Kit", "quantity": 1, "unit_price": 100}
            ],
        },
    )
    assert order.status == 201
    in_use = await api.put(f"/products/{kit['id']}/kit", json=green_only)
    assert in_use.status == 409
    assert in_use.code == "SKU_IN_USE_BY_ORDER"
    await api.patch(f"/orders/{order.data['id']}", json={"status": "cancelled"})

    lid_child = kit["kit"]["parts"][1]["variants"][0]["child_sku_id"]
    other = await make_product(api, "Spare lids")
    spare = await make_sku(api, other["id"], "SPARE-LID")
    wired = await api.put(
        f"/skus/{spare['id']}/bom", json={"children": [{"child_sku_id": lid_child}]}
    )
    assert wired.status == 200
    external = await api.put(f"/products/{kit['id']}/kit", json=green_only)
    assert external.status == 409
    assert external.code == "PART_IN_EXTERNAL_BOM"
    still = (await api.get(f"/products/{kit['id']}")).data
    assert sorted(s["sku"] for s in still["skus"]) == ["DESK-BLU", "DESK-RED"]  # nothing changed
    await api.put(f"/skus/{spare['id']}/bom", json={"children": []})
    ok = await api.put(f"/products/{kit['id']}/kit", json=green_only)
    assert ok.status == 200, ok.body
    assert [s["sku"] for s in ok.data["skus"]] == ["DESK-GRN"]


async def test_kit_assembly_endpoint(api):
    parent, a, b, _ = await _bom_kit(api)
    short = await api.post(f"/skus/{parent['id']}/kit-assembly", json={"quantity": 2})
    assert short.status == 400
    assert short.code == "INSUFFICIENT_FOR_KIT"
    assert {s["sku"] for s in short.body["shortages"]} == {"PART-A", "PART-B"}
    assert short.body["shortages"][0]["shortage"] > 0
    await _stock(api, a["id"], 4)
    await _stock(api, b["id"], 2)
    task = await api.post(
        f"/skus/{parent['id']}/kit-assembly", json={"quantity": 2, "notes": "rush"}
    )
    assert task.status == 201, task.body
    assert task.data["task_type"] == "kit_assembly"
    assert task.data["status"] == "pending"
    partial = await api.post(
        f"/assembly/{task.data['id']}/complete", json={"quantity_completed": 1, "notes": "one done"}
    )
    assert partial.status == 200, partial.body
    assert partial.data["task"]["status"] == "completed"
    assert partial.data["task"]["quantity"] == 1
    assert partial.data["task"]["notes"] == "rush\n---\none done"
    assert (await fg_of(api, parent["id"]))["ready_stock"] == 1
    assert (await fg_of(api, a["id"]))["ready_stock"] == 2
    await api.post(
        f"/inventory/{(await fg_of(api, b['id']))['id']}/adjust", json={"adjustment": -1}
    )
    parent_fg = await fg_of(api, parent["id"])
    manual = await api.post("/assembly", json={"finished_good_id": parent_fg["id"]})
    assert manual.data["task_type"] == "kit_assembly"
    blocked = await api.post(f"/assembly/{manual.data['id']}/complete", json={})
    assert blocked.status == 400
    assert blocked.code == "INSUFFICIENT_FOR_KIT"
    assert (await fg_of(api, a["id"]))["ready_stock"] == 2  # nothing half-applied
    plain = await make_sku(api, (await make_product(api, "Solo"))["id"], "SOLO")
    not_kit = await api.post(f"/skus/{plain['id']}/kit-assembly", json={})
    assert not_kit.status == 400
    assert not_kit.code == "NOT_A_KIT"
