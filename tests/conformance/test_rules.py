"""Smaller documented rules: wiki lookup for assembly, component replace, races on uniques,
order patching, and no never-exposed field in the event log."""

from __future__ import annotations

import asyncio

from .conftest import (
    NEVER_ANYWHERE,
    NEVER_IN_INVENTORY,
    all_keys,
    assert_error,
    fg,
    file_ids,
    line,
    order,
    product,
    sku,
)


async def test_assembly_wiki_lookup_order(api):
    p = await product(api, "Wiki lamp", requires_assembly=True)
    s = await sku(api, p["id"], "WIKI-1")
    row = await fg(api, s["id"])
    task = (await api.post("/assembly", json={"finished_good_id": row["id"]})).data
    assert (await api.get(f"/assembly/{task['id']}")).data["wiki_article"] is None

    async def article(title: str, **links: str) -> str:
        reply = await api.post("/wiki", json={"title": title, **links})
        assert reply.status == 201, reply.body
        return str(reply.data["id"])

    await article("By product", product_id=p["id"])
    got = (await api.get(f"/assembly/{task['id']}")).data["wiki_article"]
    assert got["title"] == "By product"
    assert "content" in got and "sections" in got, "the detail wiki object"
    await article("By SKU", sku_id=s["id"])
    assert (await api.get(f"/assembly/{task['id']}")).data["wiki_article"]["title"] == "By SKU"
    linked = await article("Linked")
    assert (await api.patch(f"/products/{p['id']}", json={"wiki_id": linked})).status == 200
    assert (await api.get(f"/assembly/{task['id']}")).data["wiki_article"]["title"] == "Linked"

    missing = await api.patch(f"/products/{p['id']}", json={"wiki_id": "no-such-article"})
    assert missing.status == 404 and missing.body["success"] is False
    assert (await api.get(f"/products/{p['id']}")).data["wiki_id"] == linked
    assert (await api.patch(f"/products/{p['id']}", json={"wiki_id": None})).status == 200


async def test_components_append_and_replace(api):
    p = await product(api, "Screwed")
    url = f"/products/{p['id']}/components"
    one = {"components": [{"component_name": "M3 screw", "quantity_required": 4}]}
    two = {"components": [{"component_name": "Label"}]}
    assert (await api.post(url, json=one)).status == 200
    assert (await api.post(url, json=two)).status == 200
    names = sorted(c["component_name"] for c in (await api.get(url)).data)
    assert names == ["Label", "M3 screw"]
    replaced = await api.post(url, json={**two, "replace": True})
    assert [c["component_name"] for c in replaced.data] == ["Label"]
    assert [c["component_name"] for c in (await api.get(url)).data] == ["Label"]
    detail = (await api.get(f"/products/{p['id']}")).data
    assert [c["component_name"] for c in detail["components"]] == ["Label"]
    assert_error(
        await api.post(url, json={"components": [{"component_name": "x", "quantity_required": 0}]}),
        400,
        "VALIDATION_ERROR",
    )


async def test_concurrent_duplicates_give_one_winner(api):
    replies = await asyncio.gather(
        *(api.post("/products", json={"name": "Contested"}) for _ in range(10))
    )
    assert sorted(r.status for r in replies) == [201] + [409] * 9
    assert {r.body.get("code") for r in replies if r.status == 409} == {"DUPLICATE_NAME"}
    pid = next(r.data["id"] for r in replies if r.status == 201)

    replies = await asyncio.gather(
        *(api.post("/skus", json={"product_id": pid, "sku": "CONTESTED"}) for _ in range(10))
    )
    assert sorted(r.status for r in replies) == [201] + [409] * 9
    assert len((await api.get("/inventory", params={"sku": "CONTESTED"})).data) == 1

    colour = {"color_name": "Contested", "hex_code": "#123456", "filament_type": "PLA"}
    replies = await asyncio.gather(*(api.post("/colors", json=colour) for _ in range(10)))
    assert sorted(r.status for r in replies) == [201] + [409] * 9

    body = {"customer_name": "x", "order_number": "CONTESTED", "items": [line("CONTESTED")]}
    replies = await asyncio.gather(*(api.post("/orders", json=body) for _ in range(10)))
    assert sorted(r.status for r in replies) == [201] + [409] * 9
    oid = next(r.data["id"] for r in replies if r.status == 201)

    files = await file_ids(api)
    await api.patch(f"/products/{pid}", json={"print_file_id": files[0]})
    replies = await asyncio.gather(*(api.post(f"/orders/{oid}/produce") for _ in range(10)))
    assert all(r.status == 200 for r in replies)
    assert sum(len(r.data["jobs"]) for r in replies) == 1, "produce is idempotent under races"


async def test_concurrent_completion_credits_once(api):
    p = await product(api, "Once", requires_assembly=True)
    s = await sku(api, p["id"], "ONCE-1")
    await fg(api, s["id"])
    files = await file_ids(api)
    job = await api.post(
        "/jobs",
        json={"print_file_id": files[0], "product_sku_id": s["id"], "number_of_units": 3},
    )
    assert job.status == 201, job.body
    replies = await asyncio.gather(
        *(api.post(f"/jobs/{job.data['id']}/complete", json={}) for _ in range(10))
    )
    assert sum(r.status == 200 for r in replies) == 1
    tasks = (await api.get("/assembly", params={"task_type": "print_assembly"})).data
    task = next(t for t in tasks if t["sku"] == "ONCE-1")
    replies = await asyncio.gather(
        *(api.post(f"/assembly/{task['id']}/complete", json={}) for _ in range(10))
    )
    assert sum(r.status == 200 for r in replies) == 1
    assert {r.body["code"] for r in replies if r.status != 200} == {"TASK_ALREADY_COMPLETED"}
    detail = await fg(api, s["id"])
    assert (detail["ready_stock"], detail["status"]) == (3, "low_stock")


async def test_order_patch(api):
    p = await product(api, "Patch order")
    await sku(api, p["id"], "PO-1")
    o = await order(api, [line("PO-1", 2, 500)])
    reply = await api.patch(
        f"/orders/{o['id']}",
        json={
            "customer_email": "c@d.example",
            "shipping_city": "Zürich",
            "tracking_number": "TRK",
            "tracking_url": "https://t.example/TRK",
            "shipping_cost": 250,
        },
    )
    assert reply.status == 200, reply.body
    assert (reply.data["shipping_city"], reply.data["shipping_cost"]) == ("Zürich", 250)
    assert reply.data["total_revenue"] == 1000, "line items and revenue are untouched"
    shipped = (await api.patch(f"/orders/{o['id']}", json={"status": "shipped"})).data
    assert shipped["status"] == "shipped" and shipped["shipped_at"]
    detail = (await api.get(f"/orders/{o['id']}")).data
    assert [i["quantity"] for i in detail["items"]] == [2]
    for bad in ({"status": "lost"}, {"tracking_url": "ftp://x"}, {"shipping_cost": -1}):
        assert_error(await api.patch(f"/orders/{o['id']}", json=bad), 400, "VALIDATION_ERROR")


async def test_event_log_leaks_nothing(api):
    """Events carry the REST resource fields, so the same hiding rules apply."""
    p = await product(api, "Evented", requires_assembly=True)
    s = await sku(api, p["id"], "EV-1")
    row = await fg(api, s["id"])
    await api.post(f"/inventory/{row['id']}/adjust", json={"adjustment": 9})
    await api.post("/assembly", json={"finished_good_id": row["id"], "assigned_to": "someone"})
    o = await order(api, [line("EV-1")])
    await api.post(f"/orders/{o['id']}/fulfill", json={})
    reply = await api.get("/events", params={"limit": 500})
    assert reply.status == 200, reply.body
    for event in reply.data:
        keys = all_keys(event)
        assert not keys & NEVER_ANYWHERE, (event.get("type"), keys & NEVER_ANYWHERE)
        if str(event.get("type", "")).startswith("inventory."):
            assert not keys & NEVER_IN_INVENTORY, event
