"""Success responses checked against their documented schema (development and tests).

Each route's ``response`` schema is what its OpenAPI document is generated from. With
``APF_CHECK_RESPONSES=1`` every JSON success is also validated against it, so the document
and what the server really sends cannot drift apart unnoticed: the test suite runs with the
check on, and a mismatch is answered as a 500 ``RESPONSE_SCHEMA_MISMATCH`` naming the field,
logged, and kept in :data:`MISMATCHES` for the suite to fail the test that caused it.
Production servers leave it off: it costs a parse and a validation per response.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import orjson
import voluptuous as vol
from aiohttp import web

from .framework import Route, error_body, json_response

_LOGGER = logging.getLogger(__name__)

#: every mismatch seen in this process, as "METHOD /path: field: message"
MISMATCHES: list[str] = []


def checking_enabled() -> bool:
    return os.environ.get("APF_CHECK_RESPONSES", "") not in ("", "0")


def check(route: Route, response: web.StreamResponse) -> web.StreamResponse:
    """``response`` itself, or a 500 saying where it departs from ``route.response``."""
    if (
        route.response is None
        or not isinstance(response, web.Response)
        or response.status >= 300
        or response.content_type != "application/json"
        or not isinstance(response.body, bytes)
    ):
        return response
    payload = orjson.loads(response.body)
    problems = _problems(route, payload)
    if not problems:
        return response
    where = f"{route.method} {route.path}"
    for problem in problems:
        MISMATCHES.append(f"{where}: {problem}")
        _LOGGER.error("response departs from its documented schema: %s: %s", where, problem)
    return json_response(
        error_body(
            "RESPONSE_SCHEMA_MISMATCH",
            f"The response of {where} departs from its documented schema: {problems[0]}",
        ),
        500,
    )


def _problems(route: Route, payload: Any) -> list[str]:
    assert route.response is not None
    try:
        route.response(payload.get("data"))
    except vol.MultipleInvalid as err:
        return [f"data.{'.'.join(map(str, e.path))}: {e.msg}" for e in err.errors]
    if route.paginated:
        wanted = {"limit", "offset", "count"} | ({"total"} if route.paged_total else set())
        meta = payload.get("meta") or {}
        if set(meta) != wanted or not all(isinstance(v, int) for v in meta.values()):
            return [f"meta: has {sorted(meta)}, documented {sorted(wanted)}"]
    return []
