"""The OpenAPI document is generated from the route table."""

from __future__ import annotations

import aiohttp
from aiohttp import web

from apf_core.api.app import all_routes
from apf_core.api.framework import BASE_PATH, Ctx, Route, RouteTable


async def test_openapi_covers_every_route(api) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.get(api.server.api + "/openapi.json") as resp,
    ):
        assert resp.status == 200
        spec = await resp.json()
    assert spec["openapi"] == "3.1.0"
    for route in all_routes():
        op = spec["paths"][BASE_PATH + route.path][route.method.lower()]
        assert op["summary"] == route.summary
        if route.scope:
            assert f"`{route.scope}`" in op["description"]
    create = spec["paths"][BASE_PATH + "/printers"]["post"]["requestBody"]["content"][
        "application/json"
    ]["schema"]
    assert "name" in create["required"] and create["properties"]["protocol"]["enum"]
    params = {p["name"]: p for p in spec["paths"][BASE_PATH + "/jobs"]["get"]["parameters"]}
    assert params["limit"]["schema"]["maximum"] == 100


def test_openapi_validates_with_a_spec_validator() -> None:
    try:
        from openapi_spec_validator import validate
    except ImportError:
        import pytest

        pytest.skip("openapi-spec-validator is not installed")
    from apf_core.api.openapi import build_spec

    validate(build_spec(all_routes()))


def test_document_is_the_same_whatever_the_hash_seed() -> None:
    """Enums built from sets came out in a different order per process (SDK diffs, caches)."""
    import subprocess
    import sys
    from pathlib import Path

    script = (
        "import json; from apf_core.api.app import all_routes; from apf_core.api import openapi; "
        "print(json.dumps(openapi.build_spec(all_routes()), sort_keys=True))"
    )
    root = Path(__file__).resolve().parents[2]
    outputs = {
        subprocess.run(
            [sys.executable, "-c", script],
            cwd=root,
            env={"PYTHONHASHSEED": seed, "PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2", "3")
    }
    assert len(outputs) == 1


def test_schemas_convert_to_what_sdk_generators_read() -> None:
    """Null admitted by a nullable enum, int|float as one number type, list lengths as items."""
    import jsonschema
    import pytest
    import voluptuous as vol

    from apf_core.api.openapi import _convert

    schema = _convert(
        vol.Schema(
            {
                vol.Required("speed"): vol.Any(None, vol.In(["silent", "sport"])),
                vol.Required("temp"): vol.Any(None, int, float),
                vol.Required("trays"): vol.All([int], vol.Length(min=1, max=3)),
            }
        )
    )
    props = schema["properties"]
    assert props["speed"] == {
        "anyOf": [{"type": "string", "enum": ["silent", "sport"]}, {"type": "null"}]
    }
    assert props["temp"] == {"type": ["number", "null"]}
    assert (props["trays"]["minItems"], props["trays"]["maxItems"]) == (1, 3)
    jsonschema.validate({"speed": None, "temp": 21, "trays": [1]}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"speed": None, "temp": 21.5, "trays": [1, 2, 3, 4]}, schema)


def test_success_envelope_requires_its_keys() -> None:
    from apf_core.api.openapi import build_spec

    spec = build_spec(all_routes())
    paths = spec["paths"]
    ok = paths[BASE_PATH + "/printers/{id}/status"]["get"]["responses"]["200"]
    assert ok["content"]["application/json"]["schema"]["required"] == ["success", "data"]
    page = paths[BASE_PATH + "/jobs"]["get"]["responses"]["200"]
    assert page["content"]["application/json"]["schema"]["required"] == ["success", "data", "meta"]


def test_operation_ids_are_unique() -> None:
    import dataclasses

    import pytest

    from apf_core.api.openapi import build_spec

    routes = all_routes()
    ids = [op["operationId"] for ops in build_spec(routes)["paths"].values() for op in ops.values()]
    assert len(ids) == len(set(ids)) == len(routes)
    twin = next(r for r in routes if r.path == "/printers" and r.method == "GET")
    clash = next(r for r in routes if r.path == "/jobs" and r.method == "GET")
    renamed = dataclasses.replace(clash, handler=twin.handler)
    with pytest.raises(ValueError, match="operationId 'list_printers' is used by"):
        build_spec([twin, renamed])


def undocumented(routes: list[Route]) -> list[str]:
    """The JSON operations (not a WebSocket, not a 204) with no schema for ``data``."""
    return [
        f"{route.method} {route.path}"
        for route in routes
        if route.response_kind == "json"
        and not route.websocket
        and route.status != 204
        and route.response is None
    ]


def test_every_json_operation_documents_its_response() -> None:
    """The OpenAPI document is generated from the response schema and the test suite checks
    every response against it: an operation without one is undocumented and unchecked."""
    missing = undocumented(all_routes())
    assert not missing, "operations without a response schema: " + ", ".join(missing)


def test_undocumented_lists_only_json_operations_without_a_schema() -> None:
    table = RouteTable("Test")

    async def handler(ctx: Ctx) -> web.StreamResponse:  # never served
        raise AssertionError

    table.get("/bare", scope="read", summary="Bare")(handler)
    table.get("/typed", scope="read", summary="Typed", response={"id": str})(handler)
    table.get("/file", scope="read", summary="File", response_kind="csv")(handler)
    table.delete("/gone", scope="write", summary="Gone", status=204)(handler)
    table.get("/ws", scope="read", summary="Stream", websocket=True)(handler)
    assert undocumented(table.routes) == ["GET /bare"]


async def test_documented_error_statuses_are_the_ones_sent(api) -> None:
    """INVALID_STATE is a 409 for a wrong state, but the reference makes a bad light state a 400:
    the document says so per route, and the server sends exactly that."""
    from apf_core.api.openapi import build_spec

    paths = build_spec(all_routes())["paths"]
    light = paths[BASE_PATH + "/printers/{id}/light"]["post"]["responses"]
    control = paths[BASE_PATH + "/printers/{id}/control"]["post"]["responses"]
    assert "INVALID_STATE" in light["400"]["description"]
    assert "INVALID_STATE" not in light.get("409", {}).get("description", "")
    assert "INVALID_STATE" in control["409"]["description"]
    printer = (await api.get("/printers")).data[0]
    dim = await api.post(f"/printers/{printer['id']}/light", json={"state": "dim"}, key="control")
    assert (dim.status, dim.code) == (400, "INVALID_STATE")
