"""Every endpoint of 3.3, 3.4, 3.5 and 3.8 exists, needs a valid key and the right scope."""

from __future__ import annotations

import pytest

from .conftest import assert_error

X = "00000000-0000-4000-8000-000000000000"

#: the reference's rows (method, path); GET needs read, everything else write (2.2)
REFERENCE_ROUTES = [
    ("GET", "/inventory"),
    ("POST", "/inventory"),
    ("GET", "/inventory/{id}"),
    ("PATCH", "/inventory/{id}"),
    ("POST", "/inventory/{id}/adjust"),
    ("PUT", "/inventory/{id}/threshold"),
    ("GET", "/inventory/alerts"),
    ("GET", "/inventory/stats"),
    ("GET", "/inventory/by-sku/{product_sku_id}"),
    ("GET", "/orders"),
    ("POST", "/orders"),
    ("GET", "/orders/{id}"),
    ("PATCH", "/orders/{id}"),
    ("GET", "/orders/stats"),
    ("POST", "/orders/{id}/fulfill"),
    ("POST", "/orders/{id}/items/{itemId}/fulfill"),
    ("POST", "/orders/{id}/produce"),
    ("GET", "/products"),
    ("POST", "/products"),
    ("GET", "/products/{id}"),
    ("PATCH", "/products/{id}"),
    ("GET", "/products/categories"),
    ("POST", "/products/kits"),
    ("PUT", "/products/{id}/kit"),
    ("GET", "/products/{id}/components"),
    ("POST", "/products/{id}/components"),
    ("DELETE", "/products/{id}/components"),
    ("GET", "/products/components"),
    ("GET", "/products/{id}/images"),
    ("POST", "/products/{id}/images"),
    ("GET", "/products/{id}/images/{imageId}"),
    ("DELETE", "/products/{id}/images/{imageId}"),
    ("PUT", "/products/{id}/images/order"),
    ("GET", "/skus"),
    ("POST", "/skus"),
    ("POST", "/products/{id}/skus"),
    ("GET", "/skus/{id}"),
    ("PATCH", "/skus/{id}"),
    ("GET", "/skus/low-stock"),
    ("POST", "/skus/{id}/adjust"),
    ("GET", "/skus/{id}/bom"),
    ("PUT", "/skus/{id}/bom"),
    ("POST", "/skus/{id}/kit-assembly"),
    ("GET", "/colors"),
    ("POST", "/colors"),
    ("PATCH", "/colors/{id}"),
    ("GET", "/colors/filament-types"),
    ("GET", "/assembly"),
    ("GET", "/assembly/stats"),
    ("POST", "/assembly"),
    ("GET", "/assembly/{id}"),
    ("PATCH", "/assembly/{id}"),
    ("POST", "/assembly/{id}/complete"),
]


def _concrete(path: str) -> str:
    for name in ("{id}", "{product_sku_id}", "{itemId}", "{imageId}"):
        path = path.replace(name, X)
    return path


async def test_every_reference_route_is_in_openapi(api):
    spec = (await api.get("/openapi.json")).body
    documented = {
        (method.upper(), path.removeprefix("/public/v1"))
        for path, ops in spec["paths"].items()
        for method in ops
    }
    missing = [r for r in REFERENCE_ROUTES if r not in documented]
    assert not missing, missing


@pytest.mark.parametrize(("method", "path"), REFERENCE_ROUTES)
async def test_keys_and_scopes(api, method, path):
    url = _concrete(path)
    body = None if method in ("GET", "DELETE") else {}

    assert_error(await api.request(method, url, key=None, json=body), 401, "UNAUTHORIZED")
    for key, code in (
        ("invalid", "TOKEN_INVALID"),
        ("malformed", "TOKEN_INVALID"),
        ("revoked", "TOKEN_REVOKED"),
        ("expired", "TOKEN_EXPIRED"),
    ):
        assert_error(await api.request(method, url, key=key, json=body), 401, code)

    needed = "read" if method == "GET" else "write"
    for key in ("read", "write", "control"):
        reply = await api.request(method, url, key=key, json=body)
        if key == needed:
            assert reply.status not in (401, 403), (key, reply.status, reply.body)
        else:
            assert_error(reply, 403, "INSUFFICIENT_SCOPE")
            assert reply.body["error"] == f"API key missing required scope: {needed}"
    reply = await api.request(method, url, key="read_write", json=body)
    assert reply.status not in (401, 403)
    for header in ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"):
        assert header in reply.headers
