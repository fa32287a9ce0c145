"""Order to shipment, end to end: produce → print → assemble → fulfil."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from apf_core.storage.tables.catalogue import stock_adjustments
from apf_core.storage.tables.spine import events, jobs

from .conftest import fg_of, file_ids, make_kit, make_product, make_sku


async def _event_types(api: Any) -> list[str]:
    async with api.farm.db.read() as conn:
        return [r.type for r in await conn.execute(select(events.c.type).order_by(events.c.id))]


async def _setup(api: Any) -> dict[str, Any]:
    files = await file_ids(api)
    stand = await make_product(api, "Stand", requires_assembly=True, print_file_id=files[2])
    stand_sku = await make_sku(api, stand["id"], "STAND-BLK", color="Black")
    kit = await make_kit(api, "Desk Kit")
    kit_sku = next(s for s in kit["skus"] if s["sku"] == "DESK-RED")
    order = await api.post(
        "/orders",
        json={
            "customer_name": "Ada",
            "order_number": "A-1",
            "platform": "etsy",
            "items": [
                {
                    "sku": "STAND-BLK",
                    "product_name": "Stand",
                    "quantity": 2,
                    "unit_price": 1500,
                    "product_sku_id": stand_sku["id"],
                },
                {"sku": "DESK-RED", "product_name": "Desk Kit", "quantity": 1, "unit_price": 4000},
            ],
        },
    )
    assert order.status == 201, order.body
    return {"stand_sku": stand_sku, "kit": kit, "kit_sku": kit_sku, "order": order.data}


async def test_order_to_shipment(api):
    ctx = await _setup(api)
    order = ctx["order"]
    assert order["total_revenue"] == 2 * 1500 + 4000
    assert order["status"] == "pending"
    assert [i["sku"] for i in order["items"]] == ["STAND-BLK", "DESK-RED"]
    assert order["items"][1]["product_sku_id"] == ctx["kit_sku"]["id"]  # matched by code

    produced = await api.post(f"/orders/{order['id']}/produce")
    assert produced.status == 200, produced.body
    jobs = produced.data["jobs"]
    assert len(jobs) == 3  # stand + two kit parts
    assert all(j["status"] == "queued" and j["order_id"] == order["id"] for j in jobs)
    units = sorted(j["number_of_units"] for j in jobs)
    assert units == [1, 2, 2]  # lid x1, tray x2 per kit, stand x2
    tasks = produced.data["assembly_tasks"]
    assert [t["task_type"] for t in tasks] == ["kit_assembly"]
    assert produced.data["shortages"] == []
    assert produced.data["unmatched_items"] == []

    again = await api.post(f"/orders/{order['id']}/produce")
    assert again.data["jobs"] == []
    assert again.data["assembly_tasks"] == []
    listed = await api.get("/jobs", params={"status": "queued", "limit": 100})
    assert sum(1 for j in listed.data if j["order_id"] == order["id"]) == 3
    assert (await api.get(f"/orders/{order['id']}")).data["status"] == "processing"

    # nothing printed yet: fulfilment deducts nothing and reports per line
    early = await api.post(f"/orders/{order['id']}/fulfill", json={})
    assert early.status == 200, early.body
    errors = early.data["fulfillment_errors"]
    assert any(e.startswith("INSUFFICIENT_STOCK") for e in errors)
    assert any(e.startswith("KIT_NOT_PRODUCED") for e in errors)
    assert early.data["status"] == "processing"
    assert early.data["shipped_at"] is None

    for job in jobs:
        done = await api.post(f"/jobs/{job['id']}/complete", json={})
        assert done.status == 200, done.body

    assert (await api.get(f"/orders/{order['id']}")).data["status"] == "printed"
    stand_fg = await fg_of(api, ctx["stand_sku"]["id"])
    assert stand_fg["ready_stock"] == 0
    assert stand_fg["status"] == "needs_assembly"
    print_tasks = (await api.get("/assembly", params={"task_type": "print_assembly"})).data
    assert [t["quantity"] for t in print_tasks] == [2]

    kit_fg = await fg_of(api, ctx["kit_sku"]["id"])
    assert kit_fg["ready_stock"] == 0
    assert kit_fg["available_to_build"] == 1
    assert kit_fg["effective_status"] != "out_of_stock"
    assert all(p["enough_for_one_kit"] for p in kit_fg["parts_on_hand"])

    mid = await api.post(f"/orders/{order['id']}/fulfill", json={})
    assert any(e.startswith("KIT_NOT_ASSEMBLED") for e in mid.data["fulfillment_errors"])

    done = await api.post(f"/assembly/{print_tasks[0]['id']}/complete", json={"notes": "glued"})
    assert done.status == 200, done.body
    assert done.data["quantity_completed"] == 2
    assert done.data["task"]["status"] == "completed"
    assert done.data["task"]["completed_at"]
    assert (await fg_of(api, ctx["stand_sku"]["id"]))["ready_stock"] == 2

    partial = await api.post(f"/orders/{order['id']}/fulfill", json={})
    assert len(partial.data["fulfillment_errors"]) == 1
    assert partial.data["fulfillment_errors"][0].startswith("KIT_NOT_ASSEMBLED")
    lines = {i["sku"]: i for i in partial.data["items"]}
    assert lines["STAND-BLK"]["quantity_fulfilled"] == 2
    assert lines["STAND-BLK"]["fulfillment_status"] == "fulfilled"
    assert lines["DESK-RED"]["quantity_fulfilled"] == 0
    assert (await fg_of(api, ctx["stand_sku"]["id"]))["ready_stock"] == 0
    assert partial.data["shipped_at"] is None
    assert partial.data["status"] == "printed"

    kit_task = tasks[0]
    assembled = await api.post(f"/assembly/{kit_task['id']}/complete", json={})
    assert assembled.status == 200, assembled.body
    assert (await api.get(f"/orders/{order['id']}")).data["status"] == "assembled"
    kit_fg = await fg_of(api, ctx["kit_sku"]["id"])
    assert kit_fg["ready_stock"] == 1
    assert [p["on_hand"] for p in kit_fg["parts_on_hand"]] == [0, 0]  # parts consumed

    shipped = await api.post(
        f"/orders/{order['id']}/fulfill",
        json={"tracking_number": "1Z999", "tracking_url": "https://track.example/1Z999"},
    )
    assert shipped.status == 200, shipped.body
    assert shipped.data["fulfillment_errors"] == []
    assert shipped.data["status"] == "shipped"
    assert shipped.data["shipped_at"].endswith("Z")
    assert shipped.data["tracking_number"] == "1Z999"
    assert (await fg_of(api, ctx["kit_sku"]["id"]))["ready_stock"] == 0

    types = await _event_types(api)
    for expected in ("order.created", "order.fulfilled", "assembly.completed"):
        assert expected in types
    async with api.farm.db.read() as conn:
        reasons = {r.reason for r in await conn.execute(select(stock_adjustments.c.reason))}
    assert {
        "print_completion",
        "assembly_completed",
        "kit_assembly",
        "order_fulfillment",
    } <= reasons


async def test_fulfil_without_tracking_is_fulfilled(api):
    files = await file_ids(api)
    product = await make_product(api, "Clip", print_file_id=files[0])
    sku = await make_sku(api, product["id"], "CLIP-1")
    fg = await fg_of(api, sku["id"])
    await api.post(f"/inventory/{fg['id']}/adjust", json={"adjustment": 5})
    order = (
        await api.post(
            "/orders",
            json={
                "customer_name": "Bob",
                "items": [
                    {"sku": "CLIP-1", "product_name": "Clip", "quantity": 3, "unit_price": 100},
                ],
            },
        )
    ).data
    assert order["order_number"].startswith("MAN-")
    assert len(order["order_number"]) == len("MAN-20260101-ABCD")
    assert order["shipping_country"] == "USA"
    produced = (await api.post(f"/orders/{order['id']}/produce")).data
    assert produced["unmatched_items"] == []
    reply = await api.post(f"/orders/{order['id']}/fulfill", json={})
    assert reply.data["status"] == "fulfilled"
    assert reply.data["fulfillment_errors"] == []
    assert (await fg_of(api, sku["id"]))["ready_stock"] == 2


async def test_unknown_sku_is_refused_naming_the_line(api):
    await make_sku(api, (await make_product(api, "Card"))["id"], "CARD-1")
    before = len((await api.get("/orders")).data)
    reply = await api.post(
        "/orders",
        json={
            "customer_name": "Bob",
            "items": [
                {"sku": "CARD-1", "product_name": "Card", "quantity": 1, "unit_price": 100},
                {"sku": "GIFT-NOTE", "product_name": "Gift note", "quantity": 1, "unit_price": 0},
            ],
        },
    )
    assert (reply.status, reply.code) == (400, "INVALID_PRODUCT_SKU")
    assert reply.body["error"].startswith("items[1].sku:") and "GIFT-NOTE" in reply.body["error"]
    assert len((await api.get("/orders")).data) == before  # nothing half-created


async def test_item_fulfil_and_order_reads(api):
    product = await make_product(api, "Hook")
    sku = await make_sku(api, product["id"], "HOOK-1")
    fg = await fg_of(api, sku["id"])
    await api.post(f"/inventory/{fg['id']}/adjust", json={"adjustment": 1})
    order = (
        await api.post(
            "/orders",
            json={
                "customer_name": "Cy",
                "order_date": "2026-01-02T03:04:05Z",
                "shipping_cost": 500,
                "items": [
                    {"sku": "HOOK-1", "product_name": "Hook", "quantity": 3, "unit_price": 250}
                ],
            },
        )
    ).data
    item = order["items"][0]
    assert order["order_date"] == "2026-01-02T03:04:05Z"
    one = await api.post(f"/orders/{order['id']}/items/{item['id']}/fulfill", json={"quantity": 1})
    assert one.status == 200, one.body
    assert one.data["items"][0]["fulfillment_status"] == "partial"
    short = await api.post(
        f"/orders/{order['id']}/items/{item['id']}/fulfill", json={"quantity": 1}
    )
    assert short.status == 400
    assert short.code == "INSUFFICIENT_STOCK"
    too_many = await api.post(
        f"/orders/{order['id']}/items/{item['id']}/fulfill", json={"quantity": 5}
    )
    assert too_many.status == 400
    assert too_many.code == "EXCESSIVE_FULFILLMENT"
    missing = await api.post(f"/orders/{order['id']}/items/nope/fulfill", json={"quantity": 1})
    assert missing.status == 404
    assert missing.code == "ORDER_ITEM_NOT_FOUND"
    await api.post(f"/inventory/{fg['id']}/adjust", json={"adjustment": 2})
    rest = await api.post(f"/orders/{order['id']}/items/{item['id']}/fulfill", json={"quantity": 2})
    assert rest.data["status"] == "fulfilled"
    assert rest.data["shipped_at"]

    listed = await api.get("/orders", params={"from": "2026-01-01", "to": "2026-01-02"})
    assert listed.body["meta"] == {"limit": 50, "offset": 0, "count": 1, "total": 1}
    assert "external_data" not in listed.data[0]
    patched = await api.patch(
        f"/orders/{order['id']}", json={"notes": "gift", "status": "refunded"}
    )
    assert patched.data["notes"] == "gift"
    assert patched.data["status"] == "refunded"
    stats = (await api.get("/orders/stats")).data
    assert stats["by_status"]["refunded"] >= 1
    assert set(stats["last_30_days"]) == {
        "total_orders",
        "total_revenue",
        "total_shipping",
        "total_tax",
        "total_discount",
        "avg_order_value",
    }


async def test_order_errors(api):
    bad = await api.post(
        "/orders",
        json={
            "customer_name": "X",
            "items": [
                {
                    "sku": "A",
                    "product_name": "A",
                    "quantity": 1,
                    "unit_price": 1,
                    "product_sku_id": "missing",
                }
            ],
        },
    )
    assert bad.status == 400
    assert bad.code == "INVALID_PRODUCT_SKU"
    await make_sku(api, (await make_product(api, "A"))["id"], "A")
    body = {
        "customer_name": "X",
        "order_number": "DUP-1",
        "items": [{"sku": "A", "product_name": "A", "quantity": 1, "unit_price": 1}],
    }
    assert (await api.post("/orders", json=body)).status == 201
    dup = await api.post("/orders", json=body)
    assert dup.status == 409
    assert dup.code == "DUPLICATE_ORDER_NUMBER"
    hidden = await api.post(
        "/orders", json={**body, "order_number": "D2", "external_data": {"a": 1}}
    )
    assert hidden.status == 400
    assert hidden.code == "VALIDATION_ERROR"
    money = await api.post("/orders", json={**body, "order_number": "D3", "total_revenue": 12.5})
    assert money.status == 400
    assert money.code == "VALIDATION_ERROR"


async def test_concurrent_fulfilment_never_oversells(api):
    import asyncio

    product = await make_product(api, "Scarce")
    sku = await make_sku(api, product["id"], "SCARCE-1")
    fg = await fg_of(api, sku["id"])
    await api.post(f"/inventory/{fg['id']}/adjust", json={"adjustment": 5})
    ids = []
    for n in range(8):
        order = await api.post(
            "/orders",
            json={
                "customer_name": f"C{n}",
                "items": [
                    {"sku": "SCARCE-1", "product_name": "Scarce", "quantity": 2, "unit_price": 10}
                ],
            },
        )
        ids.append(order.data["id"])
    replies = await asyncio.gather(*(api.post(f"/orders/{i}/fulfill", json={}) for i in ids))
    assert all(r.status == 200 for r in replies)
    shipped = [r for r in replies if not r.data["fulfillment_errors"]]
    assert len(shipped) == 2  # 5 units: two orders of 2, the rest refused whole
    assert all(r.data["status"] == "fulfilled" for r in shipped)
    assert (await fg_of(api, sku["id"]))["ready_stock"] == 1


async def test_fulfil_state_errors(api):
    product = await make_product(api, "Peg")
    sku = await make_sku(api, product["id"], "PEG-1")
    fg = await fg_of(api, sku["id"])
    await api.post(f"/inventory/{fg['id']}/adjust", json={"adjustment": 10})
    line = {"sku": "PEG-1", "product_name": "Peg", "quantity": 2, "unit_price": 10}
    order = (await api.post("/orders", json={"customer_name": "P", "items": [line]})).data
    item_id = order["items"][0]["id"]
    first = await api.post(f"/orders/{order['id']}/items/{item_id}/fulfill", json={"quantity": 1})
    assert first.data["status"] == "processing"  # partially fulfilled
    done = await api.post(f"/orders/{order['id']}/fulfill", json={})
    assert done.data["status"] == "fulfilled"
    again = await api.post(f"/orders/{order['id']}/fulfill", json={})
    assert again.status == 400
    assert again.code == "ORDER_ALREADY_FULFILLED"
    item_again = await api.post(
        f"/orders/{order['id']}/items/{item_id}/fulfill", json={"quantity": 1}
    )
    assert item_again.status == 400
    assert item_again.code == "ORDER_ALREADY_FULFILLED"
    assert (await fg_of(api, sku["id"]))["ready_stock"] == 8
    cancelled = (await api.post("/orders", json={"customer_name": "Q", "items": [line]})).data
    await api.patch(f"/orders/{cancelled['id']}", json={"status": "cancelled"})
    refused = await api.post(f"/orders/{cancelled['id']}/fulfill", json={})
    assert refused.status == 400
    assert refused.code == "ORDER_CANNOT_FULFILL"
    two = (await api.post("/orders", json={"customer_name": "R", "items": [line, line]})).data
    one_item = two["items"][0]["id"]
    await api.post(f"/orders/{two['id']}/items/{one_item}/fulfill", json={"quantity": 2})
    twice = await api.post(f"/orders/{two['id']}/items/{one_item}/fulfill", json={"quantity": 1})
    assert twice.status == 400
    assert twice.code == "ITEM_ALREADY_FULFILLED"


async def test_external_data_is_never_returned(api):
    from sqlalchemy import update

    from apf_core.storage.tables.orders import orders

    await make_sku(api, (await make_product(api, "Z"))["id"], "Z")
    line = {"sku": "Z", "product_name": "Z", "quantity": 1, "unit_price": 1}
    order = (await api.post("/orders", json={"customer_name": "E", "items": [line]})).data
    async with api.farm.db.begin() as conn:
        await conn.execute(update(orders).values(external_data={"secret": "token"}))
    for reply in (
        await api.get(f"/orders/{order['id']}"),
        await api.get("/orders"),
        await api.patch(f"/orders/{order['id']}", json={"notes": "x"}),
        await api.post(f"/orders/{order['id']}/fulfill", json={}),
    ):
        assert reply.status == 200, reply.body
        assert "external_data" not in str(reply.body)
        assert "token" not in str(reply.body)
        assert "finished_good_id" not in str(reply.body)


async def test_order_line_takes_the_product_name_from_the_catalogue(api):
    await make_sku(api, (await make_product(api, "Lamp"))["id"], "LAMP-RED")
    order = await api.post(
        "/orders",
        json={
            "customer_name": "Cy",
            "items": [{"sku": "LAMP-RED", "quantity": 2, "unit_price": 900}],
        },
    )
    assert order.status == 201, order.body
    line = order.data["items"][0]
    assert (line["product_name"], line["total_price"]) == ("Lamp", 1800)
    before = len((await api.get("/orders")).data)
    unpriced = await api.post(
        "/orders", json={"customer_name": "Cy", "items": [{"sku": "LAMP-RED", "quantity": 1}]}
    )
    assert (unpriced.status, unpriced.code) == (400, "VALIDATION_ERROR")
    assert unpriced.body["details"] == [
        {
            "field": "items.0.unit_price",
            "message": "is required: SKU LAMP-RED has no price (set the SKU's price, "
            "PATCH /skus/{id}, to leave unit_price out)",
        }
    ]
    assert len((await api.get("/orders")).data) == before  # nothing half-created


async def test_producing_a_closed_order_is_a_409_and_queues_nothing(api):
    order = (await _setup(api))["order"]
    closed = await api.patch(f"/orders/{order['id']}", json={"status": "cancelled"})
    assert closed.status == 200, closed.body
    async with api.farm.db.read() as conn:
        before = (await conn.execute(select(func.count()).select_from(jobs))).scalar_one()
    refused = await api.post(f"/orders/{order['id']}/produce")
    assert (refused.status, refused.code) == (409, "INVALID_STATE")
    assert "cancelled" in refused.body["error"]
    async with api.farm.db.read() as conn:
        after = (await conn.execute(select(func.count()).select_from(jobs))).scalar_one()
    assert after == before
