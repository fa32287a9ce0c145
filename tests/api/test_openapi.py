"""The OpenAPI document is generated from the route table."""

from __future__ import annotations

import aiohttp

from apf_core.api.app import all_routes
from apf_core.api.framework import BASE_PATH


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
