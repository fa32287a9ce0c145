"""Materials: filament, components, packaging, parts (reference 3.9)."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from .helpers import stored_events, validation_fields

NEVER = ("cost_per_unit", "reorder_link")
FILAMENT_KEYS = {
    "id", "type", "color", "hex_code", "brand", "diameter", "remaining_grams",
    "spool_weight_grams", "low_threshold", "status", "location", "created_at", "updated_at",
}
COMPONENT_KEYS = {
    "id", "type", "name", "color", "brand", "diameter", "size", "remaining_units",
    "low_threshold", "status", "location", "created_at", "updated_at",
}
UNIT_KEYS = {
    "id", "type", "name", "color", "brand", "remaining_units", "low_threshold", "status",
    "location", "created_at", "updated_at",
}


async def make_filament(api, **fields):
    body = {"type": "PLA", "color": "Red", "remaining_grams": 500, "low_threshold": 100} | fields
    reply = await api.post("/materials/filament", json=body, key="write")
    assert reply.status == 201, reply.body
    return reply.data


async def make_component(api, **fields):
    body = {"type": "magnet", "name": "6x3", "remaining_units": 10, "low_threshold": 3} | fields
    reply = await api.post("/materials/components", json=body, key="write")
    assert reply.status == 201, reply.body
    return reply.data


# --- filament -----------------------------------------------------------------
async def test_filament_create_get_and_projection(empty_api) -> None:
    spool = await make_filament(empty_api, hex_code="#FF0000", brand="Prusament", diameter="1.75",
                                spool_weight_grams=1000, location="Shelf 1")
    assert set(spool) == FILAMENT_KEYS
    assert spool["status"] == "in_stock"
    assert spool["created_at"].endswith("Z")
    reply = await empty_api.get(f"/materials/filament/{spool['id']}", key="read")
    assert reply.status == 200
    assert reply.data == spool


@pytest.mark.parametrize(
    ("remaining", "threshold", "status"),
    [(500, 100, "in_stock"), (100, 100, "low_stock"), (40, 100, "low_stock"),
     (0, 100, "out_of_stock"), (0, None, "out_of_stock"), (5, None, "in_stock")],
)
async def test_filament_status_is_computed(empty_api, remaining, threshold, status) -> None:
    spool = await make_filament(empty_api, remaining_grams=remaining, low_threshold=threshold)
    assert spool["status"] == status


async def test_filament_status_is_not_accepted(empty_api) -> None:
    reply = await empty_api.post("/materials/filament", key="write",
                                 json={"type": "PLA", "color": "Red", "status": "in_stock"})
    assert "status" in validation_fields(reply)


async def test_filament_list_filters_and_no_meta(empty_api) -> None:
    await make_filament(empty_api, type="PLA", color="Red", remaining_grams=50)
    await make_filament(empty_api, type="PLA", color="Blue", remaining_grams=900)
    await make_filament(empty_api, type="PETG", color="Red", remaining_grams=0)
    reply = await empty_api.get("/materials/filament", key="read")
    assert reply.status == 200
    assert "meta" not in reply.body
    assert [(s["type"], s["color"]) for s in reply.data] == [
        ("PETG", "Red"), ("PLA", "Blue"), ("PLA", "Red")
    ]
    low = await empty_api.get("/materials/filament", params={"low_stock": "true"}, key="read")
    assert {(s["type"], s["color"]) for s in low.data} == {("PLA", "Red"), ("PETG", "Red")}
    ok = await empty_api.get("/materials/filament", params={"low_stock": "false"}, key="read")
    assert [(s["type"], s["color"]) for s in ok.data] == [("PLA", "Blue")]
    pla = await empty_api.get("/materials/filament", params={"material_type": "PLA"}, key="read")
    assert {s["color"] for s in pla.data} == {"Red", "Blue"}
    red = await empty_api.get("/materials/filament", params={"color": "Red"}, key="read")
    assert {s["type"] for s in red.data} == {"PLA", "PETG"}
    case = await empty_api.get("/materials/filament", params={"material_type": "pla"}, key="read")
    assert case.data == []  # exact match
    bad = await empty_api.get("/materials/filament", params={"low_stock": "yes"}, key="read")
    assert "low_stock" in validation_fields(bad)


async def test_filament_patch_recomputes_status(empty_api) -> None:
    spool = await make_filament(empty_api)
    reply = await empty_api.patch(f"/materials/filament/{spool['id']}", key="write",
                                  json={"remaining_grams": 80})
    assert reply.status == 200, reply.body
    assert reply.data["status"] == "low_stock"
    assert reply.data["remaining_grams"] == 80
    reply = await empty_api.patch(f"/materials/filament/{spool['id']}", key="write",
                                  json={"low_threshold": None, "location": "Shelf 9"})
    assert reply.data["status"] == "in_stock"
    assert reply.data["location"] == "Shelf 9"
    assert reply.data["color"] == "Red"  # untouched fields stay


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({}, {"type", "color"}),
        ({"type": "", "color": "Red"}, {"type"}),
        ({"type": "PLA", "color": "x" * 51}, {"color"}),
        ({"type": "PLA", "color": "Red", "remaining_grams": -1}, {"remaining_grams"}),
        ({"type": "PLA", "color": "Red", "remaining_grams": "500"}, {"remaining_grams"}),
        ({"type": "PLA", "color": "Red", "hex_code": "#1234567"}, {"hex_code"}),
        ({"type": "PLA", "color": "Red", "low_threshold": -5}, {"low_threshold"}),
        ({"type": "PLA", "color": "Red", "cost_per_unit": 1999}, {"cost_per_unit"}),
        ({"type": "PLA", "color": "Red", "reorder_link": "https://x.test"}, {"reorder_link"}),
    ],
)
async def test_filament_validation(empty_api, body, fields) -> None:
    reply = await empty_api.post("/materials/filament", json=body, key="write")
    assert fields <= validation_fields(reply)


async def test_filament_patch_rejects_hidden_fields_and_nulls(empty_api) -> None:
    spool = await make_filament(empty_api)
    path = f"/materials/filament/{spool['id']}"
    for body, field in (({"cost_per_unit": 5}, "cost_per_unit"),
                        ({"reorder_link": "x"}, "reorder_link"), ({"type": None}, "type")):
        reply = await empty_api.patch(path, json=body, key="write")
        assert field in validation_fields(reply)


async def test_filament_not_found(empty_api) -> None:
    missing = f"/materials/filament/{uuid.uuid4()}"
    for method, body in (("GET", None), ("PATCH", {"color": "Blue"}), ("DELETE", None)):
        reply = await empty_api.request(method, missing, json=body)
        assert reply.status == 404, (method, reply.body)
        assert reply.code == "FILAMENT_NOT_FOUND"


async def test_filament_delete(empty_api) -> None:
    spool = await make_filament(empty_api)
    reply = await empty_api.delete(f"/materials/filament/{spool['id']}", key="write")
    assert reply.status == 200
    assert reply.data == {"id": spool["id"], "deleted": True}
    gone = await empty_api.get(f"/materials/filament/{spool['id']}", key="read")
    assert gone.status == 404


async def test_filament_events_on_crossing(empty_api) -> None:
    spool = await make_filament(empty_api, remaining_grams=500, low_threshold=100)
    path = f"/materials/filament/{spool['id']}"
    await empty_api.patch(path, json={"remaining_grams": 90}, key="write")   # -> low
    await empty_api.patch(path, json={"remaining_grams": 80}, key="write")   # still low: no event
    await empty_api.patch(path, json={"remaining_grams": 0}, key="write")    # -> empty
    await empty_api.patch(path, json={"remaining_grams": 1000}, key="write")  # back in stock
    events = await stored_events(empty_api, "material.")
    assert [t for t, _ in events] == ["material.low", "material.empty"]
    assert events[0][1]["material"] == "filament"
    assert events[0][1]["id"] == spool["id"]
    assert events[0][1]["remaining_grams"] == 90


# --- components ------------------------------------------------------------------
async def test_component_crud(empty_api) -> None:
    part = await make_component(empty_api, color="silver", brand="Acme", diameter="6mm",
                                size="6x3mm", location="Drawer A")
    assert set(part) == COMPONENT_KEYS
    assert part["status"] == "in_stock"
    path = f"/materials/components/{part['id']}"
    assert (await empty_api.get(path, key="read")).data == part
    patched = await empty_api.patch(path, json={"remaining_units": 2, "name": "6x3 N52"},
                                    key="write")
    assert patched.data["status"] == "low_stock"
    assert patched.data["name"] == "6x3 N52"
    listed = await empty_api.get("/materials/components", key="read")
    assert [c["id"] for c in listed.data] == [part["id"]]
    assert "meta" not in listed.body
    low = await empty_api.get("/materials/components", params={"low_stock": "true"}, key="read")
    assert len(low.data) == 1
    assert (await empty_api.delete(path, key="write")).data["deleted"] is True
    assert (await empty_api.get(path, key="read")).code == "COMPONENT_NOT_FOUND"


@pytest.mark.parametrize(
    ("body", "field"),
    [({"remaining_units": 1.5, "type": "x"}, "remaining_units"),
     ({"remaining_units": True, "type": "x"}, "remaining_units"),
     ({"type": "x", "low_threshold": -1}, "low_threshold"),
     ({"type": "x" * 101}, "type"),
     ({"type": "x", "cost_per_unit": 3}, "cost_per_unit")],
)
async def test_component_validation(empty_api, body, field) -> None:
    reply = await empty_api.post("/materials/components", json=body, key="write")
    assert field in validation_fields(reply)


async def test_consume_decrements_and_reports(empty_api) -> None:
    part = await make_component(empty_api, remaining_units=10, low_threshold=3)
    reply = await empty_api.post(f"/materials/components/{part['id']}/consume", key="write",
                                 json={"quantity": 4, "reason": "damaged", "notes": "cracked"})
    assert reply.status == 200, reply.body
    assert reply.data["component"]["remaining_units"] == 6
    assert reply.data["component"]["status"] == "in_stock"
    consumed = reply.data["consumed"]
    assert consumed["quantity"] == 4
    assert consumed["notes"] == "cracked"
    assert (consumed["previous_quantity"], consumed["new_quantity"]) == (10, 6)
    default = await empty_api.post(f"/materials/components/{part['id']}/consume", key="write",
                                   json={"quantity": 3})
    assert default.data["consumed"]["reason"] == "manual_adjustment"
    assert default.data["component"]["status"] == "low_stock"


async def test_consume_never_below_zero(empty_api) -> None:
    part = await make_component(empty_api, remaining_units=5)
    path = f"/materials/components/{part['id']}/consume"
    reply = await empty_api.post(path, json={"quantity": 6}, key="write")
    assert reply.status == 400
    assert reply.code == "INSUFFICIENT_QUANTITY"
    assert reply.body["available"] == 5
    assert reply.body["requested"] == 6
    after = await empty_api.get(f"/materials/components/{part['id']}", key="read")
    assert after.data["remaining_units"] == 5
    exact = await empty_api.post(path, json={"quantity": 5}, key="write")
    assert exact.data["component"]["remaining_units"] == 0
    assert exact.data["component"]["status"] == "out_of_stock"
    again = await empty_api.post(path, json={"quantity": 1}, key="write")
    assert again.code == "INSUFFICIENT_QUANTITY"


@pytest.mark.parametrize(
    ("body", "field"),
    [({}, "quantity"), ({"quantity": 0}, "quantity"), ({"quantity": -2}, "quantity"),
     ({"quantity": 1.5}, "quantity"),
     ({"quantity": 1, "reason": "assembly_completion"}, "reason"),
     ({"quantity": 1, "reason": "stolen"}, "reason"),
     ({"quantity": 1, "notes": "x" * 501}, "notes")],
)
async def test_consume_validation(empty_api, body, field) -> None:
    part = await make_component(empty_api)
    reply = await empty_api.post(f"/materials/components/{part['id']}/consume", json=body,
                                 key="write")
    assert field in validation_fields(reply)
    after = await empty_api.get(f"/materials/components/{part['id']}", key="read")
    assert after.data["remaining_units"] == 10


async def test_consume_not_found(empty_api) -> None:
    reply = await empty_api.post(f"/materials/components/{uuid.uuid4()}/consume",
                                 json={"quantity": 1}, key="write")
    assert reply.status == 404
    assert reply.code == "COMPONENT_NOT_FOUND"


async def test_concurrent_consumes_end_exact(empty_api) -> None:
    """50 parallel consumers on 30 units: exactly 30 win, 20 are refused, nothing half-applied."""
    part = await make_component(empty_api, remaining_units=30, low_threshold=10)
    path = f"/materials/components/{part['id']}/consume"
    replies = await asyncio.gather(*(
        empty_api.post(path, json={"quantity": 1}, key="write") for _ in range(50)
    ))
    applied = [r for r in replies if r.status == 200]
    refused = [r for r in replies if r.status == 400]
    assert len(applied) == 30
    assert len(refused) == 20
    assert all(r.code == "INSUFFICIENT_QUANTITY" for r in refused)
    assert sorted(r.data["consumed"]["new_quantity"] for r in applied) == list(range(30))
    final = await empty_api.get(f"/materials/components/{part['id']}", key="read")
    assert final.data["remaining_units"] == 0
    assert final.data["status"] == "out_of_stock"
    events = [t for t, _ in await stored_events(empty_api, "material.")]
    assert events == ["material.low", "material.empty"]


async def test_concurrent_mixed_quantities(empty_api) -> None:
    part = await make_component(empty_api, remaining_units=100)
    path = f"/materials/components/{part['id']}/consume"
    quantities = [7, 3, 11, 5, 13, 2, 17, 19, 23, 1] * 3
    replies = await asyncio.gather(*(
        empty_api.post(path, json={"quantity": q}, key="write") for q in quantities
    ))
    taken = sum(q for q, r in zip(quantities, replies, strict=True) if r.status == 200)
    assert all(r.status in (200, 400) for r in replies)
    final = await empty_api.get(f"/materials/components/{part['id']}", key="read")
    assert final.data["remaining_units"] == 100 - taken >= 0


async def test_check_availability(empty_api) -> None:
    first = await make_component(empty_api, type="magnet", remaining_units=10)
    second = await make_component(empty_api, type="magnet", remaining_units=25)
    await make_component(empty_api, type="screw", remaining_units=4)
    body = {"components": [
        {"component_type": "magnet", "quantity_needed": 30},
        {"component_type": "screw", "quantity_needed": 8},
        {"component_type": "spring", "quantity_needed": 1},
    ]}
    reply = await empty_api.post("/materials/components/check-availability", json=body,
                                 key="read")
    assert reply.status == 200, reply.body
    report = reply.data
    assert report["has_shortage"] is True
    magnet, screw, spring = report["components"]
    assert magnet == {"component_type": "magnet", "quantity_needed": 30,
                      "quantity_available": 35, "has_shortage": False, "shortage_amount": 0,
                      "component_id": second["id"]}
    assert (screw["quantity_available"], screw["shortage_amount"], screw["has_shortage"]) == (
        4, 4, True)
    assert spring["component_id"] is None
    assert spring["shortage_amount"] == 1
    # a pure read: nothing changed
    assert (await empty_api.get(f"/materials/components/{first['id']}")).data[
        "remaining_units"] == 10
    enough = await empty_api.post("/materials/components/check-availability", key="read",
                                  json={"components": [{"component_type": "magnet",
                                                        "quantity_needed": 35}]})
    assert enough.data["has_shortage"] is False


@pytest.mark.parametrize(
    ("body", "field"),
    [({}, "components"), ({"components": []}, "components"),
     ({"components": [{"component_type": "x"}]}, "components.0.quantity_needed"),
     ({"components": [{"component_type": "x", "quantity_needed": 0}]},
      "components.0.quantity_needed")],
)
async def test_check_availability_validation(empty_api, body, field) -> None:
    reply = await empty_api.post("/materials/components/check-availability", json=body,
                                 key="read")
    assert field in validation_fields(reply)


# --- packaging and parts ---------------------------------------------------------
@pytest.mark.parametrize(("segment", "code"), [("packaging", "PACKAGING_NOT_FOUND"),
                                                ("parts", "PART_NOT_FOUND")])
async def test_unit_materials_crud(empty_api, segment, code) -> None:
    base = f"/materials/{segment}"
    created = await empty_api.post(base, key="write", json={
        "type": "box", "name": "Mailer", "color": "brown", "brand": "Uline",
        "remaining_units": 20, "low_threshold": 5, "location": "Bay 3",
    })
    assert created.status == 201, created.body
    item = created.data
    assert set(item) == UNIT_KEYS
    assert item["status"] == "in_stock"
    assert (await empty_api.get(f"{base}/{item['id']}", key="read")).data == item
    patched = await empty_api.patch(f"{base}/{item['id']}", json={"remaining_units": 0},
                                    key="write")
    assert patched.data["status"] == "out_of_stock"
    listed = await empty_api.get(base, key="read")
    assert [i["id"] for i in listed.data] == [item["id"]]
    assert (await empty_api.get(base, params={"low_stock": "false"}, key="read")).data == []
    invalid = await empty_api.post(base, json={"name": "no type", "size": "x"}, key="write")
    assert {"type", "size"} <= validation_fields(invalid)
    hidden = await empty_api.post(base, json={"type": "x", "cost_per_unit": 1}, key="write")
    assert "cost_per_unit" in validation_fields(hidden)
    for method in ("GET", "PATCH", "DELETE"):
        missing = await empty_api.request(method, f"{base}/{uuid.uuid4()}", json={})
        assert missing.status == 404
        assert missing.code == code
    assert (await empty_api.delete(f"{base}/{item['id']}", key="write")).status == 200
    assert (await empty_api.get(base, key="read")).data == []


async def test_demo_materials_never_expose_pricing(api) -> None:
    for segment in ("filament", "components", "packaging", "parts"):
        reply = await api.get(f"/materials/{segment}", key="read")
        assert reply.status == 200
        for item in reply.data:
            assert not set(NEVER) & set(item)
    spools = (await api.get("/materials/filament", key="read")).data
    assert {"low_stock", "out_of_stock"} <= {s["status"] for s in spools}
