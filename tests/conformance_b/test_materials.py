"""3.9 Materials: filament, components, packaging, parts, consume, check-availability."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from .conftest import (
    MATERIAL_STATUSES,
    MAX_INT32,
    REF_AVAILABILITY_ITEM,
    REF_COMPONENT,
    REF_CONSUMED,
    REF_FILAMENT,
    REF_UNIT_ITEM,
    Api,
    assert_error,
    assert_fields,
    assert_list,
    assert_no_leaks,
    assert_validation,
)

KINDS = {
    "filament": (REF_FILAMENT, {"type": "PLA", "color": "Teal"}, "remaining_grams",
                 "FILAMENT_NOT_FOUND"),
    "components": (REF_COMPONENT, {"type": "m3-screw"}, "remaining_units", "COMPONENT_NOT_FOUND"),
    "packaging": (REF_UNIT_ITEM, {"type": "box"}, "remaining_units", "PACKAGING_NOT_FOUND"),
    "parts": (REF_UNIT_ITEM, {"type": "nozzle"}, "remaining_units", "PART_NOT_FOUND"),
}


@pytest.mark.parametrize("kind", list(KINDS))
async def test_list_create_get_patch_shapes(api: Api, kind: str) -> None:
    ref, minimal, quantity, _ = KINDS[kind]
    base = f"/materials/{kind}"
    assert_list(await api.get(base, key="read"), ref, paged=False)
    made = await api.post(base, json=minimal, key="write")
    assert made.status == 201, made.body
    item = made.data
    assert_fields(item, ref, f"POST {base}")
    assert item[quantity] == 0 and item["status"] == "out_of_stock", "remaining defaults to 0"
    got = await api.get(f"{base}/{item['id']}", key="read")
    assert got.status == 200 and got.data == item
    patched = await api.patch(f"{base}/{item['id']}",
                              json={quantity: 50, "low_threshold": 10, "location": "Shelf 9"})
    assert patched.status == 200, patched.body
    assert_fields(patched.data, ref)
    assert patched.data["status"] == "in_stock" and patched.data["location"] == "Shelf 9"
    low = await api.patch(f"{base}/{item['id']}", json={quantity: 10})
    assert low.data["status"] == "low_stock", "at the threshold is low"
    listed = (await api.get(base)).data
    assert item["id"] in {row["id"] for row in listed}
    assert all(row["status"] in MATERIAL_STATUSES for row in listed)
    # paging parameters do not page a reference list, and never add meta
    assert "meta" not in (await api.get(base, params={"limit": 1})).body


@pytest.mark.parametrize("kind", list(KINDS))
async def test_not_found_and_scopes(api: Api, kind: str) -> None:
    _, minimal, _, code = KINDS[kind]
    base = f"/materials/{kind}"
    assert_error(await api.get(f"{base}/nope"), 404, code)
    assert_error(await api.patch(f"{base}/nope", json={"location": "x"}), 404, code)
    reply = await api.get(base, key="write")
    assert_error(reply, 403, "INSUFFICIENT_SCOPE")
    assert reply.body["error"] == "API key missing required scope: read"
    reply = await api.post(base, json=minimal, key="read")
    assert_error(reply, 403, "INSUFFICIENT_SCOPE")
    assert reply.body["error"] == "API key missing required scope: write"
    for key, code401 in ((None, "UNAUTHORIZED"), ("invalid", "TOKEN_INVALID"),
                         ("revoked", "TOKEN_REVOKED"), ("expired", "TOKEN_EXPIRED")):
        assert_error(await api.get(base, key=key), 401, code401)


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("hidden", ["cost_per_unit", "reorder_link", "status", "id", "created_at"])
async def test_hidden_and_computed_fields_are_not_accepted(api: Api, kind: str,
                                                           hidden: str) -> None:
    _, minimal, _, _ = KINDS[kind]
    assert_validation(await api.post(f"/materials/{kind}", json={**minimal, hidden: 1}), hidden)
    item = (await api.get(f"/materials/{kind}")).data
    if item:
        assert_validation(
            await api.patch(f"/materials/{kind}/{item[0]['id']}", json={hidden: 1}), hidden)


FILAMENT_BAD = [
    ({"color": "Red"}, "type"), ({"type": "PLA"}, "color"), ({"type": "", "color": "R"}, "type"),
    ({"type": "P" * 101, "color": "R"}, "type"), ({"type": "PLA", "color": "R" * 51}, "color"),
    ({"type": "PLA", "color": "R", "hex_code": "#1234567"}, "hex_code"),
    ({"type": "PLA", "color": "R", "diameter": 1.75}, "diameter"),
    ({"type": "PLA", "color": "R", "remaining_grams": -1}, "remaining_grams"),
    ({"type": "PLA", "color": "R", "remaining_grams": "5"}, "remaining_grams"),
    ({"type": "PLA", "color": "R", "remaining_grams": True}, "remaining_grams"),
    ({"type": "PLA", "color": "R", "remaining_grams": None}, "remaining_grams"),
    ({"type": "PLA", "color": "R", "spool_weight_grams": -0.5}, "spool_weight_grams"),
    ({"type": "PLA", "color": "R", "low_threshold": "low"}, "low_threshold"),
    ({"type": "PLA", "color": "R", "location": "L" * 201}, "location"),
    ({"type": 5, "color": "R"}, "type"), ({"type": ["PLA"], "color": "R"}, "type"),
]


@pytest.mark.parametrize(("body", "field"), FILAMENT_BAD)
async def test_filament_validation(api: Api, body: dict[str, Any], field: str) -> None:
    assert_validation(await api.post("/materials/filament", json=body), field)


@pytest.mark.parametrize("kind", ["components", "packaging", "parts"])
@pytest.mark.parametrize(
    ("extra", "field"),
    [({"remaining_units": 1.5}, "remaining_units"), ({"remaining_units": -1}, "remaining_units"),
     ({"remaining_units": MAX_INT32 + 1}, "remaining_units"),
     ({"remaining_units": 10**30}, "remaining_units"),
     ({"low_threshold": MAX_INT32 + 1}, "low_threshold"), ({"name": "n" * 201}, "name"),
     ({"brand": "b" * 101}, "brand"), ({"color": "c" * 51}, "color")],
)
async def test_unit_item_validation(api: Api, kind: str, extra: dict[str, Any],
                                    field: str) -> None:
    _, minimal, _, _ = KINDS[kind]
    assert_validation(await api.post(f"/materials/{kind}", json={**minimal, **extra}), field)


async def test_largest_int32_is_accepted(api: Api) -> None:
    made = await api.post("/materials/components",
                          json={"type": "bead", "remaining_units": MAX_INT32})
    assert made.status == 201, made.body
    assert made.data["remaining_units"] == MAX_INT32


async def test_filament_filters(api: Api) -> None:
    for body in ({"type": "ASA", "color": "Red", "remaining_grams": 10, "low_threshold": 50},
                 {"type": "ASA", "color": "Blue", "remaining_grams": 900, "low_threshold": 50},
                 {"type": "asa", "color": "Red", "remaining_grams": 0}):
        assert (await api.post("/materials/filament", json=body)).status == 201
    asa = (await api.get("/materials/filament", params={"material_type": "ASA"})).data
    assert {(r["type"], r["color"]) for r in asa} == {("ASA", "Red"), ("ASA", "Blue")}, "exact"
    red = (await api.get("/materials/filament",
                         params={"material_type": "ASA", "color": "Red"})).data
    assert [r["color"] for r in red] == ["Red"]
    every = {r["id"] for r in (await api.get("/materials/filament")).data}
    low = (await api.get("/materials/filament", params={"low_stock": "true"})).data
    rest = (await api.get("/materials/filament", params={"low_stock": "false"})).data
    assert {r["id"] for r in low} | {r["id"] for r in rest} == every
    assert not {r["id"] for r in low} & {r["id"] for r in rest}
    assert all(r["status"] != "in_stock" for r in low)
    assert all(r["status"] == "in_stock" for r in rest)
    for bad in ("yes", "1", "", "maybe"):
        assert_validation(await api.get("/materials/filament", params={"low_stock": bad}),
                          "low_stock")


async def test_components_low_stock_filter(api: Api) -> None:
    low = (await api.get("/materials/components", params={"low_stock": "true"})).data
    assert all(r["status"] in ("low_stock", "out_of_stock") for r in low)
    assert_validation(await api.get("/materials/components", params={"low_stock": "no"}),
                      "low_stock")


# --- consume --------------------------------------------------------------------------------


async def component(api: Api, units: int, threshold: int | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"type": "insert", "name": "M3 heat insert", "remaining_units": units}
    if threshold is not None:
        body["low_threshold"] = threshold
    reply = await api.post("/materials/components", json=body)
    assert reply.status == 201, reply.body
    return dict(reply.data)


async def test_consume_shape_and_arithmetic(api: Api) -> None:
    item = await component(api, 10, threshold=4)
    reply = await api.post(f"/materials/components/{item['id']}/consume",
                           json={"quantity": 6, "notes": "used on a kit"}, key="write")
    assert reply.status == 200, reply.body
    assert set(reply.data) == {"component", "consumed"}
    assert_fields(reply.data["component"], REF_COMPONENT, "consume.component")
    assert_fields(reply.data["consumed"], REF_CONSUMED, "consume.consumed")
    assert reply.data["consumed"] == {"quantity": 6, "notes": "used on a kit",
                                      "reason": "manual_adjustment",
                                      "previous_quantity": 10, "new_quantity": 4}
    assert reply.data["component"]["remaining_units"] == 4
    assert reply.data["component"]["status"] == "low_stock"
    for reason in ("manual_adjustment", "damaged", "other"):
        ok = await api.post(f"/materials/components/{item['id']}/consume",
                            json={"quantity": 1, "reason": reason})
        assert ok.status == 200, ok.body
    empty = (await api.get(f"/materials/components/{item['id']}")).data
    assert empty["remaining_units"] == 1


async def test_consume_refusals_change_nothing(api: Api) -> None:
    item = await component(api, 3)
    path = f"/materials/components/{item['id']}/consume"
    short = await api.post(path, json={"quantity": 4})
    assert_error(short, 400, "INSUFFICIENT_QUANTITY")
    for body, field in (({}, "quantity"), ({"quantity": 0}, "quantity"),
                        ({"quantity": -2}, "quantity"), ({"quantity": "1"}, "quantity"),
                        ({"quantity": 1.5}, "quantity"), ({"quantity": True}, "quantity"),
                        ({"quantity": MAX_INT32 + 1}, "quantity"),
                        ({"quantity": 1, "reason": "assembly_completion"}, "reason"),
                        ({"quantity": 1, "reason": "theft"}, "reason"),
                        ({"quantity": 1, "notes": "n" * 501}, "notes"),
                        ({"quantity": 1, "extra": 1}, "extra")):
        assert_validation(await api.post(path, json=body), field)
    assert (await api.get(f"/materials/components/{item['id']}")).data["remaining_units"] == 3
    assert_error(await api.post("/materials/components/nope/consume", json={"quantity": 1}), 404,
                 "COMPONENT_NOT_FOUND")
    assert_error(await api.post(path, json={"quantity": 1}, key="read"), 403,
                 "INSUFFICIENT_SCOPE")


async def test_concurrent_consumes_never_go_below_zero(api: Api) -> None:
    item = await component(api, 10)
    path = f"/materials/components/{item['id']}/consume"
    replies = await asyncio.gather(*(api.post(path, json={"quantity": 1}) for _ in range(25)))
    assert sorted(r.status for r in replies) == [200] * 10 + [400] * 15
    assert all(r.code == "INSUFFICIENT_QUANTITY" for r in replies if r.status == 400)
    final = (await api.get(f"/materials/components/{item['id']}")).data
    assert final["remaining_units"] == 0 and final["status"] == "out_of_stock"


# --- check-availability -----------------------------------------------------------------------


async def test_check_availability(api: Api) -> None:
    first = await component(api, 7)
    await component(api, 5)  # same type "insert": stock is summed per type
    reply = await api.post(
        "/materials/components/check-availability",
        json={"components": [{"component_type": "insert", "quantity_needed": 12},
                             {"component_type": "insert", "quantity_needed": 13},
                             {"component_type": "unobtainium", "quantity_needed": 1}]},
        key="read",
    )
    assert reply.status == 200, reply.body
    data = reply.data
    assert set(data) == {"has_shortage", "components"}
    assert data["has_shortage"] is True
    for row in data["components"]:
        assert_fields(row, REF_AVAILABILITY_ITEM, "availability")
    enough, short, unknown = data["components"]
    assert (enough["quantity_available"], enough["has_shortage"], enough["shortage_amount"]) == (
        12, False, 0)
    assert (short["has_shortage"], short["shortage_amount"]) == (True, 1)
    assert enough["component_id"] == first["id"], "the best-stocked component represents the type"
    assert (unknown["quantity_available"], unknown["component_id"]) == (0, None)
    fine = await api.post("/materials/components/check-availability",
                          json={"components": [{"component_type": "insert",
                                                "quantity_needed": 1}]})
    assert fine.data["has_shortage"] is False
    after = (await api.get(f"/materials/components/{first['id']}")).data
    assert after["remaining_units"] == 7, "a pure read"


@pytest.mark.parametrize(
    ("body", "field"),
    [({}, "components"), ({"components": []}, "components"), ({"components": "x"}, "components"),
     ({"components": [{"quantity_needed": 1}]}, "component_type"),
     ({"components": [{"component_type": "a"}]}, "quantity_needed"),
     ({"components": [{"component_type": "a", "quantity_needed": 0}]}, "quantity_needed"),
     ({"components": [{"component_type": "a", "quantity_needed": "2"}]}, "quantity_needed"),
     ({"components": [{"component_type": "a", "quantity_needed": 1, "x": 1}]}, "x"),
     ({"components": [{"component_type": f"t{n}", "quantity_needed": 1} for n in range(1001)]},
      "components")],
)
async def test_check_availability_validation(api: Api, body: Any, field: str) -> None:
    assert_validation(await api.post("/materials/components/check-availability", json=body),
                      field)


async def test_unicode_and_sqlish_text_round_trips(api: Api) -> None:
    text = "Bambu ✓ 中文 '; DROP TABLE filament_spools;--"
    made = await api.post("/materials/filament",
                          json={"type": "PLA", "color": "Röd", "brand": text[:100]})
    assert made.status == 201
    again = await api.get(f"/materials/filament/{made.data['id']}")
    assert again.data["brand"] == text[:100] and again.data["color"] == "Röd"
    assert_no_leaks(again.body)
    assert (await api.get("/materials/filament", params={"color": "'; --"})).data == []


@pytest.mark.parametrize("kind", list(KINDS))
async def test_delete(api: Api, kind: str) -> None:
    _, minimal, _, code = KINDS[kind]
    item = (await api.post(f"/materials/{kind}", json=minimal)).data
    assert_error(await api.delete(f"/materials/{kind}/{item['id']}", key="read"), 403,
                 "INSUFFICIENT_SCOPE")
    gone = await api.delete(f"/materials/{kind}/{item['id']}", key="write")
    assert gone.status == 200, gone.body
    assert_error(await api.get(f"/materials/{kind}/{item['id']}"), 404, code)
    assert_error(await api.delete(f"/materials/{kind}/{item['id']}"), 404, code)
