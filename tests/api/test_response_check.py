"""The response check: a success that departs from its route's documented schema is caught."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
import voluptuous as vol

from apf_core.api import response_check
from apf_core.api.framework import Ctx, Route, ok, paged


async def _never(ctx: Ctx) -> Any:  # pragma: no cover - the handler is never called here
    raise AssertionError


def _route(response: Any, *, paginated: bool = False) -> Route:
    schema = vol.Schema(response, extra=vol.PREVENT_EXTRA)
    return Route(
        "GET",
        "/things/{id}",
        _never,
        "read",
        "A thing",
        "Things",
        response=schema,
        paginated=paginated,
    )


@pytest.fixture(autouse=True)
def _own_mismatches() -> Any:
    """This module makes mismatches on purpose: keep them out of the suite-wide check."""
    yield
    response_check.MISMATCHES.clear()


def test_a_matching_response_passes_unchanged() -> None:
    route = _route({"id": str, "size": vol.Any(None, int)})
    response = ok({"id": "a", "size": None})
    assert response_check.check(route, response) is response
    assert response_check.MISMATCHES == []


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"id": "a", "size": 1, "colour": "red"}, "data.colour"),  # undocumented field
        ({"id": 7, "size": 1}, "data.id"),  # wrong type
        ({"size": 1}, "data.id"),  # documented field missing
    ],
)
def test_a_departing_response_becomes_a_500_naming_the_field(data: Any, field: str) -> None:
    route = _route({vol.Required("id"): str, vol.Required("size"): vol.Any(None, int)})
    response = response_check.check(route, ok(data))
    assert response.status == 500
    body = orjson.loads(response.body)
    assert body["code"] == "RESPONSE_SCHEMA_MISMATCH"
    assert field in body["error"] and "GET /things/{id}" in body["error"]
    assert response_check.MISMATCHES and field in response_check.MISMATCHES[0]


def test_a_page_needs_its_documented_meta() -> None:
    route = _route([{"id": str}], paginated=True)
    assert response_check.check(route, paged([{"id": "a"}], 50, 0)).status == 200
    assert response_check.check(route, ok([{"id": "a"}], meta={"limit": 50})).status == 500


def test_errors_and_other_content_types_are_not_checked() -> None:
    route = _route({"id": str})
    failure = ok({"id": 1}, status=404)
    assert response_check.check(route, failure) is failure
