"""Validation messages in plain words (issue 13): every route with a body schema, every field,
values of the wrong type; no voluptuous jargon reaches a client and each detail names its field."""

from __future__ import annotations

import re
from typing import Any

import pytest
import voluptuous as vol

from apf_core.api import validation_words
from apf_core.api.app import all_routes
from apf_core.api.framework import Route, integer, nullable, text
from apf_core.api.routes._business import HEX

JARGON = ("expected", "not a valid value", "extra keys", "required key", "invalid literal", "data[")
#: one of each JSON type, plus an integer no column holds
WRONG_VALUES: tuple[Any, ...] = ({"a": 1}, [1], "text", 1.5, True, 99999999999999999999, None)


@pytest.fixture
def farm_options() -> dict[str, Any]:
    return {"rate_limit": 100_000}


def _fields(route: Route) -> list[Any]:
    schema = route.body.schema if route.body is not None else None
    return list(schema) if isinstance(schema, dict) else []


def _wrong_for(route: Route, field: str, value: Any) -> bool:
    """Whether the route's own schema refuses ``value`` for ``field``."""
    assert route.body is not None
    try:
        route.body({field: value})
    except vol.MultipleInvalid as err:
        return any(e.path[:1] == [field] for e in err.errors)
    except vol.Invalid as err:  # a whole-body check
        return err.path[:1] == [field]
    return False


def _cases() -> list[tuple[Route, str, Any]]:
    cases = []
    for route in all_routes():
        if route.body is None or route.body_kind not in ("json", "json_or_multipart"):
            continue
        for marker in _fields(route):
            field = str(getattr(marker, "schema", marker))
            cases += [(route, field, v) for v in WRONG_VALUES if _wrong_for(route, field, v)]
    return cases


def _path(route: Route) -> str:
    return re.sub(r"{\w+}", "no-such-id", route.path)


def _assert_plain(body: dict[str, Any], fields: set[str]) -> None:
    assert (body["success"], body["code"]) == (False, "VALIDATION_ERROR"), body
    texts = [body["error"], *(d["message"] for d in body["details"])]
    for words in texts:
        assert not any(j in words.lower() for j in JARGON), body
    named = {d["field"].split(".")[0] for d in body["details"]}
    assert fields <= named, body
    for detail in body["details"]:
        assert detail["field"] and detail["message"], body
        assert f"{detail['field']}: {detail['message']}" in body["error"], body


def test_every_body_route_has_cases() -> None:
    cases = _cases()
    routes = {(r.method, r.path) for r, _, _ in cases}
    assert len(routes) > 40 and len(cases) > 300, (len(routes), len(cases))
    assert ("POST", "/printers") in routes and ("POST", "/orders") in routes


async def test_wrong_types_get_plain_words(api) -> None:
    failures = []
    for route, field, value in _cases():
        reply = await api.request(route.method, _path(route), json={field: value}, key="all")
        if reply.status != 400:
            failures.append((route.method, route.path, field, value, reply.status, reply.body))
            continue
        try:
            _assert_plain(reply.body, {field})
        except AssertionError as err:
            failures.append((route.method, route.path, field, value, str(err)))
    assert not failures, failures[:10]


async def test_unknown_field_and_missing_field(api) -> None:
    reply = await api.post("/printers", json={"name": "P", "protocol": "simulated", "colour": 1})
    assert reply.status == 400
    _assert_plain(reply.body, {"colour"})
    assert {"field": "colour", "message": "is not a field this endpoint accepts"} in reply.body[
        "details"
    ]
    reply = await api.post("/printers", json={"protocol": "simulated"})
    assert reply.status == 400
    assert {"field": "name", "message": "is required"} in reply.body["details"]


def _words(schema: Any, value: Any) -> str:
    compiled = vol.Schema({vol.Optional("f"): schema})
    with pytest.raises(vol.MultipleInvalid) as caught:
        compiled({"f": value})
    return validation_words.message(compiled, caught.value.errors[0])


@pytest.mark.parametrize(
    ("schema", "value", "words"),
    [
        (str, 5, "must be text"),
        (text(200, 1), 5, "must be text of 1 to 200 characters"),
        (nullable(text(10)), 5, "must be text of at most 10 characters, or null"),
        (integer(0), "x", "must be an integer between 0 and 2147483647"),
        (integer(0), 99999999999999999999, "must be an integer between 0 and 2147483647"),
        (nullable(integer(0, 10)), 11, "must be an integer between 0 and 10, or null"),
        (vol.Any(int, float), "x", "must be a number"),
        (
            vol.All(vol.Coerce(float), vol.Range(min=0.1, max=2.0)),
            -1,
            "must be a number between 0.1 and 2.0",
        ),
        (bool, "yes", "must be true or false"),
        (vol.In(["a", "b", "c"]), "d", "must be one of: a, b, c"),
        (nullable(vol.In(["a", "b"])), "d", "must be one of: a, b, or null"),
        (HEX, "red", "must be a hex colour like #FF8800"),
        (
            nullable(vol.Match(r"^#[0-9A-Fa-f]{6}$")),
            "red",
            "must be a hex colour like #FF8800, or null",
        ),
        ([str], "x", "must be a list"),
        ({vol.Required("k"): int}, 3, "must be an object"),
        (vol.Url(), "not a url", "must be a URL"),
    ],
)
def test_words_for_each_kind(schema: Any, value: Any, words: str) -> None:
    assert _words(schema, value) == words


def test_a_route_message_is_kept() -> None:
    schema = vol.All(int, vol.Any(1, 2, msg="must be 1 or 2 (the two lanes)"))
    assert _words(schema, 3) == "must be 1 or 2 (the two lanes)"
