"""Auth and scope on every operations route (materials, wiki, worklist, analytics)."""

from __future__ import annotations

import re
import uuid

from apf_core.api.app import all_routes

from .helpers import check_auth

PREFIXES = ("/materials", "/wiki", "/worklist", "/analytics")
ROUTES = [r for r in all_routes() if r.path.startswith(PREFIXES)]


def test_every_operations_route_is_registered_with_its_scope() -> None:
    found = {(r.method, r.path): r.scope for r in ROUTES}
    for segment in ("filament", "components", "packaging", "parts"):
        base = f"/materials/{segment}"
        assert found[("GET", base)] == "read"
        assert found[("GET", f"{base}/{{id}}")] == "read"
        assert found[("POST", base)] == "write"
        assert found[("PATCH", f"{base}/{{id}}")] == "write"
    assert found[("POST", "/materials/components/{id}/consume")] == "write"
    assert found[("POST", "/materials/components/check-availability")] == "read"
    for path in ("/wiki", "/wiki/categories", "/wiki/{id}", "/worklist", "/worklist/stats",
                 "/worklist/{id}", *(f"/analytics/{n}" for n in (
                     "overview", "production", "printers", "failures", "inventory", "revenue"))):
        assert found[("GET", path)] == "read", path
    for method, path in (("POST", "/wiki"), ("PATCH", "/wiki/{id}"), ("POST", "/wiki/{id}/publish"),
                         ("POST", "/wiki/{id}/unpublish"), ("POST", "/worklist"),
                         ("PATCH", "/worklist/{id}"), ("PUT", "/worklist/{id}/status"),
                         ("PUT", "/worklist/{id}/assign"), ("POST", "/worklist/{id}/start"),
                         ("POST", "/worklist/{id}/complete")):
        assert found[(method, path)] == "write", (method, path)


async def test_bad_keys_and_missing_scope_on_every_route(empty_api) -> None:
    for route in ROUTES:
        path = re.sub(r"{\w+}", str(uuid.uuid4()), route.path)
        await check_auth(empty_api, route.method, path, route.scope, body={})
        granted = await empty_api.request(route.method, path, key="all", json={})
        assert granted.status not in (401, 403), (route.method, route.path, granted.body)
        assert granted.status < 500, (route.method, route.path, granted.body)


async def test_read_write_key_covers_everything_but_control(empty_api) -> None:
    for route in ROUTES:
        assert route.scope in ("read", "write")
        path = re.sub(r"{\w+}", str(uuid.uuid4()), route.path)
        reply = await empty_api.request(route.method, path, key="read_write", json={})
        assert reply.status not in (401, 403), (route.method, route.path)
