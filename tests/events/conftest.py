"""Fixtures for the event stream and webhooks: fast timings, a real webhook receiver,
WebSocket helpers."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from apf_core.events.signatures import verify
from tests.api.conftest import Api, empty_api, farm_options  # noqa: F401  (fixtures)
from tests.api.conftest import api as base_api  # noqa: F401  (fixture)

FAST_ENV = {
    "APF_EVENT_POLL_INTERVAL": "0.2",
    "APF_EVENT_WS_AUTH_TIMEOUT": "1",
    "APF_WEBHOOK_RETRY_BASE": "0.05",
    "APF_WEBHOOK_RETRY_MAX": "0.2",
    "APF_WEBHOOK_TIMEOUT": "2",
}


@pytest.fixture(autouse=True)
def fast_events(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Short timings for every test here (read when the farm starts)."""
    for name, value in FAST_ENV.items():
        monkeypatch.setenv(name, value)
    # the dispatcher would start demo jobs (and emit job events) before a test could stop it
    monkeypatch.setenv("APF_AUTO_DISPATCH", "0")
    return FAST_ENV


@pytest.fixture
async def api(base_api: Api) -> Api:  # noqa: F811 - the fixture, by name
    """The demo server with automatic dispatch switched off on every printer, so the
    dispatcher does not start jobs (and emit events) behind the tests' backs."""
    from sqlalchemy import update

    from apf_core.storage.tables.spine import printers

    async with base_api.farm.db.begin() as conn:
        await conn.execute(update(printers).values(auto_dispatch=False))
    return base_api


@dataclass
class Received:
    event_id: str
    event_type: str
    signature: str | None
    user_agent: str | None
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """A real HTTP server that records webhook POSTs and answers as told."""

    url: str = ""
    received: list[Received] = field(default_factory=list)
    #: X-APF-Event-Id of every request, whatever the answer
    attempts: list[str] = field(default_factory=list)
    #: statuses to answer with, in order; then ``default_status``
    script: list[int] = field(default_factory=list)
    default_status: int = 200
    delay: float = 0.0
    #: when set, answers wait until the gate opens
    gate: asyncio.Event | None = None
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def ids(self) -> list[int]:
        """Event ids that were answered 2xx, in arrival order (with duplicates)."""
        return [int(r.event_id) for r in self.received if r.event_id and r.event_id != "0"]

    def unique_ids(self) -> set[int]:
        return set(self.ids())

    def valid(self, secret: str) -> bool:
        return all(verify(secret, r.body, r.signature) for r in self.received)

    async def wait_for(self, predicate: Callable[[Receiver], bool], timeout: float = 10.0) -> None:
        async with asyncio.timeout(timeout):
            while not predicate(self):
                self.changed.clear()
                await self.changed.wait()

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        status = self.script.pop(0) if self.script else self.default_status
        self.attempts.append(request.headers.get("X-APF-Event-Id", ""))
        if 200 <= status < 300:  # recorded on arrival, even if the sender gives up waiting
            self.received.append(
                Received(
                    request.headers.get("X-APF-Event-Id", ""),
                    request.headers.get("X-APF-Event-Type", ""),
                    request.headers.get("X-APF-Signature"),
                    request.headers.get("User-Agent"),
                    body,
                )
            )
        self.changed.set()
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.gate is not None:
            await self.gate.wait()
        return web.Response(status=status, text="ok" if status < 300 else "nope")


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    rec = Receiver()
    app = web.Application()
    app.router.add_post("/hook", rec.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    rec.url = f"http://127.0.0.1:{port}/hook"
    yield rec
    await runner.cleanup()


class Stream:
    """A WebSocket client on /events/ws that collects frames."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.welcome: dict[str, Any] | None = None

    async def frame(self, timeout: float = 5.0) -> dict[str, Any]:
        msg = await self.ws.receive(timeout=timeout)
        if msg.type != aiohttp.WSMsgType.TEXT:
            raise AssertionError(f"expected a text frame, got {msg.type} {msg.data!r}")
        return dict(json.loads(msg.data))

    async def event(self, timeout: float = 5.0) -> dict[str, Any]:
        while True:
            frame = await self.frame(timeout)
            if frame["kind"] == "event":
                return frame

    async def events_until(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 10.0
    ) -> list[dict[str, Any]]:
        seen: list[dict[str, Any]] = []
        async with asyncio.timeout(timeout):
            while True:
                frame = await self.event(timeout)
                seen.append(frame)
                if predicate(frame):
                    return seen

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send_str(json.dumps(message))

    async def close(self) -> None:
        await self.ws.close()


async def open_stream(
    client: Api, *, key: str | None = "read", params: dict[str, str] | None = None,
    auth_message: dict[str, Any] | None = None, expect_welcome: bool = True,
) -> Stream:
    headers = {"Authorization": f"Bearer {client.keys.get(key, key)}"} if key else {}
    ws = await client.session.ws_connect(
        client.server.api + "/events/ws", headers=headers, params=params or {}
    )
    stream = Stream(ws)
    if auth_message is not None:
        await stream.send(auth_message)
    if expect_welcome:
        frame = await stream.frame()
        assert frame["kind"] == "welcome", frame
        stream.welcome = frame
    return stream


async def make_job(client: Api) -> dict[str, Any]:
    """A queued job on a demo file (emits job.created)."""
    file_id = await demo_file_id(client)
    reply = await client.post("/jobs", json={"print_file_id": file_id}, key="all")
    assert reply.status == 201, reply.body
    return dict(reply.data)


async def demo_file_id(client: Api) -> str:
    from sqlalchemy import select

    from apf_core.storage.tables.spine import print_files

    async with client.farm.db.read() as conn:
        return str((await conn.execute(select(print_files.c.id).limit(1))).scalar_one())
