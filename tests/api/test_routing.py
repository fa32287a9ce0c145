"""The router: one resource per path, every path reaches its own handlers."""

from __future__ import annotations

import re
from unittest.mock import MagicMock

from aiohttp.test_utils import TestClient, TestServer, make_mocked_request

from apf_core.api.app import all_routes, create_app
from apf_core.api.framework import BASE_PATH


def _app():  # type: ignore[no-untyped-def]
    farm = MagicMock()
    farm.settings.max_json_bytes = 1024
    farm.settings.rate_limit = 10
    farm.settings.rate_window_seconds = 60
    return create_app(farm)


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "x1", path)


async def test_every_method_of_every_path_reaches_its_own_handler() -> None:
    app = _app()
    paths = {route.path for route in all_routes()}
    canonicals = [r.canonical for r in app.router.resources()]
    for path in paths:  # no path split over two resources
        assert canonicals.count(BASE_PATH + path) == 1, path
    for route in all_routes():
        request = make_mocked_request(route.method, BASE_PATH + _concrete(route.path), app=app)
        match = await app.router.resolve(request)
        assert match.http_exception is None, (route.method, route.path)
        assert match.route.resource is not None
        assert match.route.resource.canonical == BASE_PATH + route.path
        assert match.handler.__name__ == route.handler.__name__
    head = make_mocked_request("HEAD", BASE_PATH + "/printers/x1/status", app=app)
    assert (await app.router.resolve(head)).http_exception is None


async def test_a_wrong_method_is_a_405_naming_the_allowed_ones() -> None:
    """No route takes it: the fallback route answers, naming what the path does take."""
    async with TestClient(TestServer(_app())) as client:
        resp = await client.put(BASE_PATH + "/printers/x1")
        assert resp.status == 405 and (await resp.json())["code"] == "METHOD_NOT_ALLOWED"
        assert {"GET", "PATCH", "DELETE"} <= set(resp.headers["Allow"].split(","))
        resp = await client.post("/nothing/here")
        assert resp.status == 404 and (await resp.json())["code"] == "NOT_FOUND"
        resp = await client.delete("/")  # the dashboard's page takes GET and HEAD only
        assert resp.status == 405 and set(resp.headers["Allow"].split(",")) == {"GET", "HEAD"}


def test_polled_paths_are_tried_first_under_their_prefix() -> None:
    """aiohttp tries the templated paths under one prefix in registration order: a status
    poll is matched by the first pattern tried, not the fourth."""
    app = _app()
    templated = [
        r.canonical
        for r in app.router.resources()
        if r.canonical.startswith(BASE_PATH + "/printers/{")
    ]
    assert templated[0] == BASE_PATH + "/printers/{id}/status"
    polled = {route.path for route in all_routes() if route.polled}
    assert polled and all(route.method == "GET" for route in all_routes() if route.polled)
