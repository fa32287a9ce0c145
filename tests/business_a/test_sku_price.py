"""A SKU's price (integer cents, the finished good's unit_price) is set through the API and
prices the order lines that leave unit_price out."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import make_product, make_sku


async def _order(api: Any, *items: dict[str, Any]) -> Any:
    return await api.post("/orders", json={"customer_name": "Bea", "items": list(items)})


async def test_price_set_on_create_and_update_prices_order_lines(api):
    vase = await make_product(api, "Vase")
    sku = await make_sku(api, vase["id"], "VASE-1", price=1250)
    assert sku["price"] == 1250
    assert (await api.get(f"/skus/{sku['id']}")).data["price"] == 1250
    listed = (await api.get("/skus", params={"product_id": vase["id"]})).data
    assert [s["price"] for s in listed] == [1250]
    assert [s["price"] for s in (await api.get(f"/products/{vase['id']}")).data["skus"]] == [1250]

    first = await _order(api, {"sku": "VASE-1", "quantity": 3})
    assert first.status == 201, first.body
    line = first.data["items"][0]
    assert (line["unit_price"], line["total_price"]) == (1250, 3750)
    assert first.data["total_revenue"] == 3750

    patched = await api.patch(f"/skus/{sku['id']}", json={"price": 990})
    assert (patched.status, patched.data["price"]) == (200, 990)
    second = await _order(api, {"sku": "VASE-1", "quantity": 1})
    assert second.data["items"][0]["unit_price"] == 990
    # a price given on the line wins; an existing order keeps the price it was made with
    third = await _order(api, {"sku": "VASE-1", "quantity": 1, "unit_price": 700})
    assert third.data["items"][0]["unit_price"] == 700
    again = await api.get(f"/orders/{first.data['id']}")
    assert again.data["items"][0]["unit_price"] == 1250


async def test_price_through_the_product_route_and_zero_is_a_price(api):
    card = await make_product(api, "Card")
    reply = await api.post(f"/products/{card['id']}/skus", json={"sku": "CARD-0", "price": 0})
    assert (reply.status, reply.data["price"]) == (201, 0)
    order = await _order(api, {"sku": "CARD-0", "quantity": 2})
    assert order.status == 201, order.body
    assert (order.data["items"][0]["unit_price"], order.data["total_revenue"]) == (0, 0)


async def test_without_a_price_the_line_needs_unit_price(api):
    plain = await make_sku(api, (await make_product(api, "Plain"))["id"], "PLAIN-1")
    assert plain["price"] is None
    priced = await make_sku(api, (await make_product(api, "Priced"))["id"], "PRICED-1", price=5)
    cleared = await api.patch(f"/skus/{priced['id']}", json={"price": None})
    assert (cleared.status, cleared.data["price"]) == (200, None)
    for code in ("PLAIN-1", "PRICED-1"):
        refused = await _order(api, {"sku": code, "quantity": 1})
        assert (refused.status, refused.code) == (400, "VALIDATION_ERROR")
        assert [d["field"] for d in refused.body["details"]] == ["items.0.unit_price"]
        assert f"SKU {code} has no price" in refused.body["details"][0]["message"]


@pytest.mark.parametrize("bad", [-1, 2**31, 12.5, "1200", True])
async def test_price_must_be_whole_cents(api, bad):
    product = await make_product(api, "Bad price")
    sku = await make_sku(api, product["id"], "BAD-PRICE", price=100)
    for reply in (
        await api.post("/skus", json={"product_id": product["id"], "sku": "BAD-2", "price": bad}),
        await api.patch(f"/skus/{sku['id']}", json={"price": bad}),
    ):
        assert (reply.status, reply.code) == (400, "VALIDATION_ERROR"), reply.body
        assert reply.body["details"] == [
            {
                "field": "price",
                "message": "must be a price in whole cents: an integer from 0 to 2147483647, "
                "or null",
            }
        ]
    assert (await api.get(f"/skus/{sku['id']}")).data["price"] == 100  # unchanged
    assert (await api.get("/skus", params={"product_id": product["id"]})).data[0]["sku"] == (
        "BAD-PRICE"
    )  # nothing half-created
