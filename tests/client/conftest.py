"""A scriptable fake AutoPrintFarm server on loopback for client tests."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from apf_client import ApfClient

KEY = "apf_live_" + "ab" * 32

type Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@pytest.fixture(autouse=True)
def _allow_loopback_sockets(request: pytest.FixtureRequest) -> None:
    """The HA test plugin (when installed) disables sockets; these tests need loopback."""
    with contextlib.suppress(pytest.FixtureLookupError):
        request.getfixturevalue("socket_enabled")


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any


@dataclass
class FakeServer:
    """Routes answer from ``responses``; every request is recorded."""

    url: str = ""
    responses: dict[tuple[str, str], Handler | tuple[int, Any]] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    ws_handler: Handler | None = None

    def reply(
        self, method: str, path: str, data: Any = None, *, status: int = 200, envelope: bool = True
    ) -> None:
        body = {"success": True, "data": data} if envelope and status < 400 else data
        self.responses[(method, "/public/v1" + path)] = (status, body)

    def handle(self, method: str, path: str, handler: Handler) -> None:
        self.responses[(method, "/public/v1" + path)] = handler

    async def dispatch(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw
        self.requests.append(
            Recorded(request.method, request.path, dict(request.query), dict(request.headers), body)
        )
        if request.path == "/public/v1/events/ws" and self.ws_handler is not None:
            return await self.ws_handler(request)
        answer = self.responses.get((request.method, request.path))
        if answer is None:
            return web.json_response(
                {"success": False, "code": "NOT_FOUND", "error": "Not found"}, status=404
            )
        if callable(answer):
            return await answer(request)
        status, body = answer
        if isinstance(body, (bytes, str)):
            return web.Response(status=status, body=body)
        return web.json_response(body, status=status)


@pytest.fixture
async def fake_server() -> AsyncIterator[FakeServer]:
    fake = FakeServer()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", fake.dispatch)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    fake.url = str(server.make_url("")).rstrip("/")
    yield fake
    await server.close()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client_session:
        yield client_session


@pytest.fixture
def client(fake_server: FakeServer, session: aiohttp.ClientSession) -> ApfClient:
    return ApfClient(session, fake_server.url, KEY, request_timeout=2.0)
