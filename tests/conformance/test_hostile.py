"""Hostile input: wrong types, huge or odd strings, negatives, missing bodies, unknown ids.

Whatever a client sends, the answer is a documented envelope (never a 500), and nothing
is half-written.
"""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import assert_error, fg, line, order, product, sku

MISSING = "00000000-0000-4000-8000-000000000000"

#: every templated route of 3.3/3.4/3.5/3.8 with an id that does not exist
NOT_FOUND: list[tuple[str, str, Any]] = [
    ("GET", "/inventory/{x}", None),
    ("GET", "/inventory/by-sku/{x}", None),
    ("PATCH", "/inventory/{x}", {"is_active": False}),
    ("POST", "/inventory/{x}/adjust", {"adjustment": 1}),
    ("PUT", "/inventory/{x}/threshold", {"low_stock_threshold": 1}),
    ("POST", "/inventory", {"product_sku_id": "{x}"}),
    ("GET", "/orders/{x}", None),
    ("PATCH", "/orders/{x}", {"notes": "n"}),
    ("POST", "/orders/{x}/fulfill", {}),
    ("POST", "/orders/{x}/items/{x}/fulfill", {"quantity": 1}),
    ("POST", "/orders/{x}/produce", {}),
    ("GET", "/products/{x}", None),
    ("PATCH", "/products/{x}", {"name": "n"}),
    ("POST", "/products/{x}/skus", {"sku": "NF-1"}),
    ("GET", "/products/{x}/components", None),
    ("POST", "/products/{x}/components", {"components": []}),
    ("DELETE", "/products/{x}/components", None),
    ("GET", "/products/{x}/images", None),
    ("GET", "/products/{x}/images/{x}", None),
    ("DELETE", "/products/{x}/images/{x}", None),
    ("PUT", "/products/{x}/images/order", {"order": []}),
    ("PUT", "/products/{x}/kit", None),  # body filled in below
    ("POST", "/skus", {"product_id": "{x}", "sku": "NF-2"}),
    ("GET", "/skus/{x}", None),
    ("PATCH", "/skus/{x}", {"color": "Red"}),
    ("POST", "/skus/{x}/adjust", {"adjustment": 1}),
    ("GET", "/skus/{x}/bom", None),
    ("PUT", "/skus/{x}/bom", {"children": []}),
    ("POST", "/skus/{x}/kit-assembly", {"quantity": 1}),
    ("PATCH", "/colors/{x}", {"is_active": False}),
    ("GET", "/assembly/{x}", None),
    ("PATCH", "/assembly/{x}", {"notes": "n"}),
    ("POST", "/assembly/{x}/complete", {}),
    ("POST", "/assembly", {"finished_good_id": "{x}"}),
]


def _fill(value: Any, ident: str) -> Any:
    if isinstance(value, str):
        return value.replace("{x}", ident)
    if isinstance(value, dict):
        return {k: _fill(v, ident) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, ident) for v in value]
    return value


@pytest.mark.parametrize("ident", [MISSING, "nope", "x'; DROP TABLE skus;--", "%25", "ü🙂"])
async def test_unknown_ids_are_404(api, ident):
    files = [f["id"] for f in (await api.get("/files")).data]
    kit_body = {
        "name": "K",
        "variants": [{"sku": "NFK-1", "color": "Red"}],
        "parts": [{"name": "P", "print_file_id": files[0]}],
    }
    for method, path, body in NOT_FOUND:
        if path == "/products/{x}/kit":
            body = kit_body
        reply = await api.request(method, _fill(path, ident), json=_fill(body, ident))
        assert reply.status == 404, (method, path, reply.status, reply.body)
        assert reply.body["success"] is False and reply.body["code"].endswith("NOT_FOUND"), (
            method,
            path,
            reply.body,
        )


#: create endpoints and a body missing everything required
CREATE_ROUTES = [
    ("/products", "name"),
    ("/skus", "product_id"),
    ("/colors", "color_name"),
    ("/orders", "customer_name"),
    ("/inventory", "product_sku_id"),
    ("/assembly", "finished_good_id"),
    ("/products/kits", "name"),
]


@pytest.mark.parametrize(("path", "required"), CREATE_ROUTES)
async def test_missing_and_malformed_bodies(api, path, required):
    for raw in (None, b"", b"{}"):
        reply = await api.post(path, data=raw, headers={"Content-Type": "application/json"})
        assert_error(reply, 400, "VALIDATION_ERROR")
        assert required in reply.body["error"], reply.body
        assert any(d["field"] == required for d in reply.body["details"])
    for raw in (b"{", b"[1,2]", b'"text"', b"null", b"\xff\xfe", b"{'single': 1}"):
        reply = await api.post(path, data=raw, headers={"Content-Type": "application/json"})
        assert_error(reply, 400, "VALIDATION_ERROR")


async def test_wrong_types_are_named(api):
    p = await product(api, "Types")
    s = await sku(api, p["id"], "TYP-1")
    row = await fg(api, s["id"])
    cases: list[tuple[str, str, dict[str, Any], str]] = [
        ("POST", "/products", {"name": 5}, "name"),
        ("POST", "/products", {"name": "T2", "requires_assembly": "true"}, "requires_assembly"),
        ("POST", "/products", {"name": "T3", "is_active": 1}, "is_active"),
        ("PATCH", f"/products/{p['id']}", {"description": ["x"]}, "description"),
        ("POST", "/skus", {"product_id": p["id"], "sku": "TYP-2", "quantity": "2"}, "quantity"),
        ("POST", "/skus", {"product_id": p["id"], "sku": "TYP-3", "hex_code": "red"}, "hex_code"),
        ("PATCH", f"/skus/{s['id']}", {"low_stock_threshold": -1}, "low_stock_threshold"),
        ("PATCH", f"/skus/{s['id']}", {"filament_type": "PETG"}, "filament_type"),
        ("PATCH", f"/skus/{s['id']}", {"quantity": 3}, "quantity"),
        ("POST", f"/skus/{s['id']}/adjust", {"adjustment": 1.5}, "adjustment"),
        ("POST", f"/inventory/{row['id']}/adjust", {"adjustment": "1"}, "adjustment"),
        ("POST", f"/inventory/{row['id']}/adjust", {"adjustment": True}, "adjustment"),
        (
            "POST",
            f"/inventory/{row['id']}/adjust",
            {"adjustment": 1, "reason": "order_fulfillment"},
            "reason",
        ),
        ("POST", f"/inventory/{row['id']}/adjust", {"adjustment": 1, "notes": "n" * 501}, "notes"),
        (
            "PUT",
            f"/inventory/{row['id']}/threshold",
            {"low_stock_threshold": -5},
            "low_stock_threshold",
        ),
        ("PUT", f"/inventory/{row['id']}/threshold", {}, "low_stock_threshold"),
        ("PATCH", f"/inventory/{row['id']}", {"assembly_status": "glued"}, "assembly_status"),
        ("PATCH", f"/inventory/{row['id']}", {"image_url": "javascript:alert(1)"}, "image_url"),
        ("PATCH", f"/inventory/{row['id']}", {"unit_price": 100}, "unit_price"),
        ("PATCH", f"/inventory/{row['id']}", {"profit_margin": 1}, "profit_margin"),
        ("POST", "/inventory", {"product_sku_id": s["id"], "ready_stock": -1}, "ready_stock"),
        (
            "POST",
            "/colors",
            {"color_name": "C", "hex_code": "#12345", "filament_type": "PLA"},
            "hex_code",
        ),
        (
            "POST",
            "/colors",
            {"color_name": "", "hex_code": "#123456", "filament_type": "PLA"},
            "color_name",
        ),
        ("POST", "/orders", {"customer_name": "A", "items": []}, "items"),
        (
            "POST",
            "/orders",
            {"customer_name": "A", "items": [line("TYP-1", 0)]},
            "items.0.quantity",
        ),
        (
            "POST",
            "/orders",
            {"customer_name": "A", "items": [line("TYP-1", 1, -5)]},
            "items.0.unit_price",
        ),
        (
            "POST",
            "/orders",
            {"customer_name": "A", "items": [line("TYP-1", 1, 9.99)]},
            "items.0.unit_price",
        ),
        (
            "POST",
            "/orders",
            {"customer_name": "A", "items": [line("TYP-1")], "shipping_cost": -1},
            "shipping_cost",
        ),
        (
            "POST",
            "/orders",
            {"customer_name": "A", "items": [line("TYP-1")], "platform": "ebay"},
            "platform",
        ),
        (
            "POST",
            "/orders",
            {"customer_name": "A", "items": [line("TYP-1")], "customer_email": "nope"},
            "customer_email",
        ),
        (
            "POST",
            "/orders",
            {"customer_name": "A", "items": [line("TYP-1")], "order_date": "soon"},
            "order_date",
        ),
        (
            "POST",
            "/orders",
            {"customer_name": "A", "items": [line("TYP-1")], "external_data": {}},
            "external_data",
        ),
        ("POST", "/orders", {"customer_name": "A", "items": "TYP-1"}, "items"),
        ("POST", "/assembly", {"finished_good_id": row["id"], "quantity": 0}, "quantity"),
        ("POST", "/assembly", {"finished_good_id": row["id"], "notes": "n" * 2001}, "notes"),
    ]
    for method, path, body, field in cases:
        reply = await api.request(method, path, json=body)
        assert_error(reply, 400, "VALIDATION_ERROR")
        named = {d["field"] for d in reply.body.get("details", [])}
        assert field in named, (method, path, body, reply.body)


async def test_unknown_fields_rejected_not_stored(api):
    p = await product(api, "Extras")
    s = await sku(api, p["id"], "EXT-1")
    o = await order(api, [line("EXT-1")])
    for method, path, body, field in [
        ("PATCH", f"/orders/{o['id']}", {"external_data": {"a": 1}}, "external_data"),
        ("PATCH", f"/orders/{o['id']}", {"items": []}, "items"),
        ("PATCH", f"/products/{p['id']}", {"id": "other"}, "id"),
        ("PATCH", f"/skus/{s['id']}", {"stock_level": 99}, "stock_level"),
        ("POST", "/products", {"name": "Extra 2", "unit_price": 5}, "unit_price"),
    ]:
        reply = await api.request(method, path, json=body)
        assert_error(reply, 400, "VALIDATION_ERROR")
        assert field in reply.body["error"]
    assert (await api.get(f"/skus/{s['id']}")).data["stock_level"] == 0
    assert (await api.get(f"/products/{p['id']}")).data["id"] == p["id"]


@pytest.mark.parametrize(
    "name",
    [
        "Ünïcödé ✓ 日本語 🙂",
        "שלום עולם",
        "e\u0301\u0301",  # combining marks
        "x'; DROP TABLE products; --",
        '" OR 1=1 --',
        "<script>alert(1)</script>",
        "a" * 200,
    ],
)
async def test_odd_strings_round_trip(api, name):
    p = await product(api, name, description=name, category=name[:100])
    assert p["name"] == name and p["description"] == name
    again = (await api.get(f"/products/{p['id']}")).data
    assert again["name"] == name
    s = await sku(api, p["id"], name[:100], color=name[:50])
    assert s["sku"] == name[:100]
    listed = (await api.get("/inventory", params={"sku": name[:100]})).data
    assert [r["sku"] for r in listed] == [name[:100]]
    found = (await api.get("/products", params={"search": name[:120]})).data
    assert p["id"] in {x["id"] for x in found}
    o = await order(api, [line(name[:100])], customer_name=name, notes=name)
    assert o["customer_name"] == name and o["items"][0]["product_sku_id"] == s["id"]
    assert (await api.get("/products")).status == 200  # the table is still there


async def test_nul_bytes_are_rejected_not_500(api):
    """PostgreSQL cannot store NUL in text: the API must refuse it cleanly everywhere."""
    p = await product(api, "Nul")
    for method, path, kw in [
        ("POST", "/products", {"json": {"name": "a\u0000b"}}),
        ("PATCH", f"/products/{p['id']}", {"json": {"description": "a\u0000b"}}),
        (
            "POST",
            "/colors",
            {"json": {"color_name": "a\u0000", "hex_code": "#000000", "filament_type": "PLA"}},
        ),
        ("POST", "/orders", {"json": {"customer_name": "a\u0000", "items": [line("X")]}}),
        ("GET", "/products", {"params": {"search": "a\u0000b"}}),
        ("GET", "/inventory", {"params": {"sku": "a\u0000b"}}),
        ("GET", "/skus", {"params": {"color": "a\u0000"}}),
        ("GET", "/products/a%00b", {}),
        ("GET", "/orders/a%00b", {}),
        ("GET", "/skus/a%00b", {}),
    ]:
        reply = await api.request(method, path, **kw)
        assert reply.status in (400, 404), (method, path, reply.status, reply.body)
        assert reply.body["success"] is False
        if reply.status == 400:
            assert reply.body["code"] == "VALIDATION_ERROR"


async def test_huge_strings_and_bodies(api):
    reply = await api.post("/products", json={"name": "x" * 100_000})
    assert_error(reply, 400, "VALIDATION_ERROR")
    reply = await api.get("/products", params={"search": "y" * 5_000})
    assert_error(reply, 400, "VALIDATION_ERROR")
    big = await api.post(
        "/products",
        data=b'{"name":"' + b"z" * (30 * 1024 * 1024) + b'"}',
        headers={"Content-Type": "application/json"},
    )
    assert big.status in (400, 413) and big.body["success"] is False


async def test_numbers_at_the_edges_never_500(api):
    """Money and stock far beyond a 32-bit column are refused cleanly (or stored exactly)."""
    p = await product(api, "Edges")
    s = await sku(api, p["id"], "EDGE-1")
    row = await fg(api, s["id"])
    for body in (
        {"customer_name": "Big", "items": [line("EDGE-1", 1, 3_000_000_000)]},
        {"customer_name": "Big", "items": [line("EDGE-1", 100_000, 10**12)]},
        {"customer_name": "Big", "items": [line("EDGE-1")], "shipping_cost": 3_000_000_000},
        {"customer_name": "Big", "items": [line("EDGE-1")], "total_revenue": 10**12},
        {"customer_name": "Big", "items": [line("EDGE-1", 1, 2**63)]},
    ):
        reply = await api.post("/orders", json=body)
        assert reply.status in (201, 400), reply.body
        if reply.status == 201:  # stored exactly, read back exactly
            got = (await api.get(f"/orders/{reply.data['id']}")).data
            assert got["total_revenue"] == reply.data["total_revenue"]
            assert got["items"][0]["total_price"] == reply.data["items"][0]["total_price"]
        else:
            assert reply.body["code"] == "VALIDATION_ERROR"

    # ready stock pushed towards and past any integer limit: refused, never a 500
    statuses = []
    for _ in range(4):
        reply = await api.post(f"/inventory/{row['id']}/adjust", json={"adjustment": 1_000_000_000})
        statuses.append(reply.status)
        assert reply.status in (200, 400), reply.body
    stock = (await api.get(f"/inventory/{row['id']}")).data["ready_stock"]
    assert stock == statuses.count(200) * 1_000_000_000
    for _ in range(4):
        reply = await api.post(f"/skus/{s['id']}/adjust", json={"adjustment": 1_000_000_000})
        assert reply.status in (200, 400), reply.body
    for value in (10**12, -(10**12), 2**63):
        reply = await api.post(f"/inventory/{row['id']}/adjust", json={"adjustment": value})
        assert_error(reply, 400, "VALIDATION_ERROR")
    reply = await api.put(f"/inventory/{row['id']}/threshold", json={"low_stock_threshold": 2**40})
    assert_error(reply, 400, "VALIDATION_ERROR")


async def test_wrong_methods_and_unknown_routes(api):
    reply = await api.request("DELETE", "/orders")
    assert_error(reply, 405, "METHOD_NOT_ALLOWED")
    reply = await api.request("PUT", "/inventory/stats")
    assert reply.status == 405 and reply.body["success"] is False
    reply = await api.get("/inventory/not/a/route")
    assert_error(reply, 404, "NOT_FOUND")


async def test_service_level_validation_names_fields(api):
    """Rules checked past the schema still answer 400 VALIDATION_ERROR with `details`."""
    files = [f["id"] for f in (await api.get("/files")).data]
    dup_variants = {
        "name": "Dup kit",
        "variants": [{"sku": "DV-1", "color": "Red"}, {"sku": "DV-1", "color": "Blue"}],
        "parts": [{"name": "P", "print_file_id": files[0]}],
    }
    dup_parts = {
        "name": "Dup kit",
        "variants": [{"sku": "DV-2", "color": "Red"}],
        "parts": [
            {"name": "P", "print_file_id": files[0]},
            {"name": "p", "print_file_id": files[0]},
        ],
    }
    p = await product(api, "Detail rules", requires_assembly=True)
    a = await sku(api, p["id"], "DR-A")
    b = await sku(api, p["id"], "DR-B")
    twice = {"children": [{"child_sku_id": b["id"]}, {"child_sku_id": b["id"]}]}
    row = await fg(api, a["id"])
    task = (await api.post("/assembly", json={"finished_good_id": row["id"], "quantity": 2})).data
    for method, path, body, field in [
        ("POST", "/products/kits", dup_variants, "variants"),
        ("POST", "/products/kits", dup_parts, "parts"),
        ("PUT", f"/skus/{a['id']}/bom", twice, "children"),
        (
            "POST",
            f"/assembly/{task['id']}/complete",
            {"quantity_completed": 3},
            "quantity_completed",
        ),
    ]:
        reply = await api.request(method, path, json=body)
        assert_error(reply, 400, "VALIDATION_ERROR")
        assert field in {d["field"] for d in reply.body["details"]}, reply.body
    assert "Dup kit" not in {x["name"] for x in (await api.get("/products")).data}
