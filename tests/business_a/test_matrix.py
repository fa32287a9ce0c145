"""Table-driven checks for every business-A endpoint: scopes, auth, validation, not-found."""

from __future__ import annotations

from typing import Any

import aiohttp

from apf_core.api.app import all_routes

ORDER_ITEM = {"sku": "X", "product_name": "X", "quantity": 1, "unit_price": 100}
KIT = {
    "name": "K",
    "variants": [{"sku": "K-1", "color": "Red"}],
    "parts": [{"name": "P", "print_file_id": "nope"}],
}

# method, path, scope, a valid body, the 404 code for an unknown id (None: no id)
ENDPOINTS: list[tuple[str, str, str, Any, str | None]] = [
    ("GET", "/inventory", "read", None, None),
    ("POST", "/inventory", "write", {"product_sku_id": "nope"}, "SKU_NOT_FOUND"),
    ("GET", "/inventory/alerts", "read", None, None),
    ("GET", "/inventory/stats", "read", None, None),
    ("GET", "/inventory/by-sku/nope", "read", None, "INVENTORY_NOT_FOUND"),
    ("GET", "/inventory/nope", "read", None, "INVENTORY_NOT_FOUND"),
    ("PATCH", "/inventory/nope", "write", {"is_active": True}, "INVENTORY_NOT_FOUND"),
    ("POST", "/inventory/nope/adjust", "write", {"adjustment": 1}, "INVENTORY_NOT_FOUND"),
    (
        "PUT",
        "/inventory/nope/threshold",
        "write",
        {"low_stock_threshold": 1},
        "INVENTORY_NOT_FOUND",
    ),
    ("GET", "/orders", "read", None, None),
    ("POST", "/orders", "write", {"customer_name": "A", "items": [ORDER_ITEM]}, None),
    ("GET", "/orders/stats", "read", None, None),
    ("GET", "/orders/nope", "read", None, "ORDER_NOT_FOUND"),
    ("PATCH", "/orders/nope", "write", {"notes": "x"}, "ORDER_NOT_FOUND"),
    ("POST", "/orders/nope/fulfill", "write", {}, "ORDER_NOT_FOUND"),
    ("POST", "/orders/nope/items/nope/fulfill", "write", {"quantity": 1}, "ORDER_NOT_FOUND"),
    ("POST", "/orders/nope/produce", "write", {}, "ORDER_NOT_FOUND"),
    ("GET", "/products", "read", None, None),
    ("POST", "/products", "write", {"name": "New"}, None),
    ("GET", "/products/categories", "read", None, None),
    ("GET", "/products/components", "read", None, None),
    ("POST", "/products/kits", "write", KIT, None),
    ("GET", "/products/nope", "read", None, "PRODUCT_NOT_FOUND"),
    ("PATCH", "/products/nope", "write", {"name": "Z"}, "PRODUCT_NOT_FOUND"),
    ("PUT", "/products/nope/kit", "write", KIT, "PRODUCT_NOT_FOUND"),
    ("POST", "/products/nope/skus", "write", {"sku": "Q"}, "PRODUCT_NOT_FOUND"),
    ("GET", "/products/nope/components", "read", None, "PRODUCT_NOT_FOUND"),
    ("POST", "/products/nope/components", "write", {"components": []}, "PRODUCT_NOT_FOUND"),
    ("DELETE", "/products/nope/components", "write", None, "PRODUCT_NOT_FOUND"),
    ("GET", "/products/nope/images", "read", None, "PRODUCT_NOT_FOUND"),
    ("POST", "/products/nope/images", "write", "multipart", "PRODUCT_NOT_FOUND"),
    ("PUT", "/products/nope/images/order", "write", {"order": []}, "PRODUCT_NOT_FOUND"),
    ("GET", "/products/nope/images/nope", "read", None, "PRODUCT_NOT_FOUND"),
    ("DELETE", "/products/nope/images/nope", "write", None, "PRODUCT_NOT_FOUND"),
    ("GET", "/skus", "read", None, None),
    ("POST", "/skus", "write", {"product_id": "nope", "sku": "Q"}, "PRODUCT_NOT_FOUND"),
    ("GET", "/skus/low-stock", "read", None, None),
    ("GET", "/skus/nope", "read", None, "SKU_NOT_FOUND"),
    ("PATCH", "/skus/nope", "write", {"color": "Red"}, "SKU_NOT_FOUND"),
    ("POST", "/skus/nope/adjust", "write", {"adjustment": 1}, "SKU_NOT_FOUND"),
    ("GET", "/skus/nope/bom", "read", None, "SKU_NOT_FOUND"),
    ("PUT", "/skus/nope/bom", "write", {"children": []}, "SKU_NOT_FOUND"),
    ("POST", "/skus/nope/kit-assembly", "write", {"quantity": 1}, "SKU_NOT_FOUND"),
    ("GET", "/colors", "read", None, None),
    (
        "POST",
        "/colors",
        "write",
        {"color_name": "C", "hex_code": "#000000", "filament_type": "PLA"},
        None,
    ),
    ("GET", "/colors/filament-types", "read", None, None),
    ("PATCH", "/colors/nope", "write", {"is_active": False}, "COLOR_NOT_FOUND"),
    ("GET", "/assembly", "read", None, None),
    ("GET", "/assembly/stats", "read", None, None),
    ("POST", "/assembly", "write", {"finished_good_id": "nope"}, "FINISHED_GOOD_NOT_FOUND"),
    ("GET", "/assembly/nope", "read", None, "ASSEMBLY_TASK_NOT_FOUND"),
    ("PATCH", "/assembly/nope", "write", {"notes": "x"}, "ASSEMBLY_TASK_NOT_FOUND"),
    ("POST", "/assembly/nope/complete", "write", {}, "ASSEMBLY_TASK_NOT_FOUND"),
]
WITHOUT = {"read": ("write", "control"), "write": ("read", "control")}
WITH = {"read": ("read", "read_write", "all"), "write": ("write", "read_write", "all")}
MY_PREFIXES = ("/inventory", "/orders", "/products", "/skus", "/colors", "/assembly")


def _route(method: str, path: str) -> Any:
    import re

    return next(
        r
        for r in all_routes()
        if r.method == method
        and r.path.startswith(MY_PREFIXES)
        and re.fullmatch(re.sub(r"{\w+}", "[^/]+", r.path), path)
    )


def _required(method: str, path: str) -> list[str]:
    import voluptuous as vol

    schema = _route(method, path).body
    if schema is None:
        return []
    return [str(k) for k in schema.schema if isinstance(k, vol.Required)]


def _body(body: Any) -> dict[str, Any]:
    if body == "multipart":
        form = aiohttp.FormData()
        form.add_field("file", b"\x89PNG\r\n\x1a\n" + b"\x00" * 16, filename="a.png")
        return {"data": form}
    return {"json": body} if body is not None else {}


def test_table_covers_every_route_declared_here():
    declared = {(r.method, r.path) for r in all_routes() if r.path.startswith(MY_PREFIXES)}
    import re

    tabled = set()
    for method, path, scope, _, _ in ENDPOINTS:
        tabled.add(method)
        match = next(
            (
                r
                for r in all_routes()
                if r.method == method
                and re.fullmatch(re.sub(r"{\w+}", "[^/]+", r.path), path)
                and r.path.startswith(MY_PREFIXES)
            ),
            None,
        )
        assert match is not None, (method, path)
        assert match.scope == scope, (method, path)
        declared.discard((match.method, match.path))
    assert declared == set(), declared


async def test_scope_matrix(empty_api):
    for method, path, scope, body, _ in ENDPOINTS:
        for key in WITHOUT[scope]:
            reply = await empty_api.request(method, path, key=key, **_body(body))
            assert reply.status == 403, (method, path, key, reply.body)
            assert reply.code == "INSUFFICIENT_SCOPE"
            assert reply.body["error"] == f"API key missing required scope: {scope}"
        for key in WITH[scope]:
            reply = await empty_api.request(method, path, key=key, **_body(body))
            assert reply.status not in (401, 403), (method, path, key, reply.body)
            assert reply.status < 500, (method, path, reply.body)


async def test_bad_keys(empty_api):
    for method, path, _, body, _ in ENDPOINTS:
        for key, code in (
            (None, "UNAUTHORIZED"),
            ("invalid", "TOKEN_INVALID"),
            ("malformed", "TOKEN_INVALID"),
            ("revoked", "TOKEN_REVOKED"),
            ("expired", "TOKEN_EXPIRED"),
        ):
            reply = await empty_api.request(method, path, key=key, **_body(body))
            assert reply.status == 401, (method, path, key, reply.body)
            assert reply.code == code, (method, path, key, reply.body)


async def test_not_found_codes(empty_api):
    for method, path, _, body, code in ENDPOINTS:
        if code is None:
            continue
        reply = await empty_api.request(method, path, **_body(body))
        assert reply.status == 404, (method, path, reply.body)
        assert reply.code == code, (method, path, reply.body)


async def test_validation_names_fields(empty_api):
    for method, path, _, body, _ in ENDPOINTS:
        if not isinstance(body, dict):
            continue
        reply = await empty_api.request(method, path, json={**body, "surprise": 1})
        assert reply.status == 400, (method, path, reply.body)
        assert reply.code == "VALIDATION_ERROR"
        assert any(d["field"] == "surprise" for d in reply.body["details"]), reply.body
        required = _required(method, path)
        if required:
            missing = await empty_api.request(method, path, json={})
            assert missing.status == 400, (path, missing.body)
            assert missing.code == "VALIDATION_ERROR"
            assert required[0] in missing.body["error"], (path, missing.body)
    not_json = await empty_api.request(
        "POST", "/orders", data=b"{nope", headers={"Content-Type": "application/json"}
    )
    assert not_json.status == 400
    assert not_json.code == "VALIDATION_ERROR"
    for path, params in (
        ("/orders", {"status": "lost"}),
        ("/orders", {"from": "yesterday"}),
        ("/assembly", {"task_type": "gluing"}),
        ("/orders", {"limit": "101"}),
        ("/assembly", {"offset": "-1"}),
        ("/skus", {"is_active": "1"}),
    ):
        reply = await empty_api.get(path, params=params)
        assert reply.status == 400, (path, params, reply.body)
        assert reply.code == "VALIDATION_ERROR", (path, params, reply.body)
