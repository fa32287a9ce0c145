"""The event-stream consumer: handshake, frames, errors and closes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from aiohttp import WSMsgType, web

from apf_client import (
    APFAuthenticationError,
    ApfClient,
    APFConnectionError,
    APFError,
    APFEventStreamUnavailable,
    APFInsufficientScopeError,
    APFResponseError,
    FarmEvent,
)

from .conftest import KEY, FakeServer

EVENT = {
    "kind": "event",
    "id": 5,
    "type": "job.started",
    "time": "2026-11-21T12:00:00Z",
    "data": {"id": "j1", "printer_id": "p1", "status": "printing"},
}


def ws_script(
    *frames: object, close: bool = True
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """A WS handler that sends ``frames`` (dicts as JSON, str raw) and then closes."""

    async def handler(request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        for frame in frames:
            if isinstance(frame, str):
                await ws.send_str(frame)
            else:
                await ws.send_json(frame)
        if close:
            await ws.close()
        else:
            async for msg in ws:
                if msg.type is WSMsgType.TEXT and msg.json().get("kind") == "ping":
                    await ws.send_json({"kind": "pong"})
        return ws

    return handler


async def collect(client: ApfClient, **kwargs: object) -> tuple[list[FarmEvent], Exception | None]:
    events: list[FarmEvent] = []
    try:
        async for event in client.events(**kwargs):  # type: ignore[arg-type]
            events.append(event)
    except APFError as err:
        return events, err
    return events, None


async def test_events_and_close(client: ApfClient, fake_server: FakeServer) -> None:
    fake_server.ws_handler = ws_script(
        {"kind": "welcome", "last_event_id": 4},
        {"kind": "pong"},
        EVENT,
        {"kind": "future"},
        {
            **EVENT,
            "id": 6,
            "type": "printer.status",
            "data": {"printer_id": "p1", "status": "idle"},
        },
    )
    welcomed: list[int | None] = []
    events, error = await collect(
        client, types=["job.*", "printer.*"], last_event_id=4, on_connect=welcomed.append
    )
    assert welcomed == [4]
    assert [(e.id, e.type, e.printer_id) for e in events] == [
        (5, "job.started", "p1"),
        (6, "printer.status", "p1"),
    ]
    assert events[0].time is not None
    assert isinstance(error, APFConnectionError)  # a closed stream is a lost connection
    request = fake_server.requests[0]
    assert request.query == {"types": "job.*,printer.*", "last_event_id": "4"}
    assert request.headers["Authorization"] == f"Bearer {KEY}"


@pytest.mark.parametrize(
    ("code", "error"),
    [
        ("TOKEN_REVOKED", APFAuthenticationError),
        ("INSUFFICIENT_SCOPE", APFInsufficientScopeError),
        ("SLOW_CONSUMER", APFError),
    ],
)
async def test_error_frames(
    client: ApfClient, fake_server: FakeServer, code: str, error: type
) -> None:
    fake_server.ws_handler = ws_script(
        {"kind": "welcome", "last_event_id": 0}, {"kind": "error", "code": code, "error": "bye"}
    )
    events, raised = await collect(client)
    assert events == []
    assert type(raised) is error
    assert raised.code == code


async def test_malformed_frames(client: ApfClient, fake_server: FakeServer) -> None:
    fake_server.ws_handler = ws_script({"kind": "event", "type": "job.started"})  # no id
    _, raised = await collect(client)
    assert isinstance(raised, APFResponseError)
    fake_server.ws_handler = ws_script("{not json")
    _, raised = await collect(client)
    assert isinstance(raised, APFResponseError)
    fake_server.ws_handler = ws_script("[1, 2]", EVENT)  # non-object frames are skipped
    events, _ = await collect(client)
    assert [e.id for e in events] == [5]


async def test_no_stream_is_distinct(client: ApfClient) -> None:
    _, raised = await collect(client)  # the fake server answers 404: no stream
    assert isinstance(raised, APFEventStreamUnavailable)


@pytest.mark.parametrize(
    ("status", "error"),
    [(401, APFAuthenticationError), (403, APFInsufficientScopeError), (500, APFError)],
)
async def test_rejected_handshake(
    client: ApfClient, fake_server: FakeServer, status: int, error: type
) -> None:
    async def reject(_request: web.Request) -> web.Response:
        return web.json_response({"success": False, "code": "X", "error": "no"}, status=status)

    fake_server.ws_handler = reject
    _, raised = await collect(client)
    assert type(raised) is error


async def test_unreachable(session, unused_tcp_port: int) -> None:
    client = ApfClient(session, f"http://127.0.0.1:{unused_tcp_port}", KEY)
    _, raised = await collect(client)
    assert isinstance(raised, APFConnectionError)


def test_event_model() -> None:
    event = FarmEvent.from_dict({"id": "9", "type": "material.low", "data": []})
    assert (event.id, event.data, event.time, event.printer_id) == (9, {}, None, None)
    with pytest.raises(APFResponseError):
        FarmEvent.from_dict({"id": 1})
