"""The WebSocket event stream against a running server."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time

import aiohttp
import pytest

from apf_core.events.websocket import POLICY_VIOLATION
from tests.api.conftest import Api

from .conftest import make_job, open_stream


async def test_header_auth_receives_job_events_in_order(api: Api) -> None:
    stream = await open_stream(api, params={"types": "job.*"})
    assert isinstance(stream.welcome["last_event_id"], int)
    job = await make_job(api)
    done = await api.post(f"/jobs/{job['id']}/complete", json={}, key="all")
    assert done.status == 200, done.body
    frames = await stream.events_until(lambda f: f["type"] == "job.completed")
    assert [f["type"] for f in frames] == ["job.created", "job.completed"]
    created, completed = frames
    assert created["data"]["id"] == job["id"]
    assert completed["data"]["status"] == "completed"
    assert created["id"] > stream.welcome["last_event_id"]
    assert completed["id"] > created["id"]
    assert created["time"].endswith("Z")
    await stream.close()


async def test_first_message_auth_with_types_and_last_event_id(api: Api) -> None:
    job = await make_job(api)
    first = await api.get("/events", key="read", params={"type": "job.created"})
    created_id = first.data[-1]["id"]
    stream = await open_stream(
        api, key=None,
        auth_message={"kind": "auth", "api_key": api.keys["read"], "types": ["job.*"],
                      "last_event_id": created_id - 1},
    )
    replayed = await stream.event()
    assert replayed["id"] == created_id
    assert replayed["data"]["id"] == job["id"]
    await stream.close()


@pytest.mark.parametrize(
    ("key", "code"),
    [
        ("malformed", "TOKEN_INVALID"),
        ("invalid", "TOKEN_INVALID"),
        ("revoked", "TOKEN_REVOKED"),
        ("expired", "TOKEN_EXPIRED"),
        ("write", "INSUFFICIENT_SCOPE"),
        ("control", "INSUFFICIENT_SCOPE"),
    ],
)
@pytest.mark.parametrize("how", ["header", "message"])
async def test_rejected_keys_get_an_error_frame_then_close(
    api: Api, key: str, code: str, how: str
) -> None:
    if how == "header":
        stream = await open_stream(api, key=key, expect_welcome=False)
    else:
        stream = await open_stream(
            api, key=None, auth_message={"kind": "auth", "api_key": api.keys[key]},
            expect_welcome=False,
        )
    frame = await stream.frame()
    assert frame["kind"] == "error", frame
    assert frame["code"] == code, frame
    if code == "INSUFFICIENT_SCOPE":
        assert frame["error"] == "API key missing required scope: read"
    closing = await stream.ws.receive(timeout=5)
    assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    assert stream.ws.close_code == POLICY_VIOLATION


@pytest.mark.parametrize(
    "message",
    [
        None,  # nothing within the auth timeout (1 s in these tests)
        {"kind": "ping"},
        {"kind": "auth"},
        {"kind": "auth", "api_key": 42},
    ],
)
async def test_missing_auth_is_unauthorized(api: Api, message: dict | None) -> None:
    stream = await open_stream(api, key=None, auth_message=message, expect_welcome=False)
    frame = await stream.frame(timeout=5)
    assert frame == {"kind": "error", "code": "UNAUTHORIZED", "error": frame["error"]}


async def test_malformed_first_message_is_a_validation_error(api: Api) -> None:
    stream = await open_stream(api, key=None, expect_welcome=False)
    await stream.ws.send_str("{not json")
    frame = await stream.frame()
    assert frame["code"] == "VALIDATION_ERROR"


async def test_invalid_query_is_refused_before_the_upgrade(api: Api) -> None:
    for params in ({"types": "job.**"}, {"last_event_id": "-1"}, {"last_event_id": "x"}):
        with pytest.raises(aiohttp.WSServerHandshakeError) as err:
            await open_stream(api, params=params, expect_welcome=False)
        assert err.value.status == 400


async def test_ping_subscribe_and_filters(api: Api) -> None:
    stream = await open_stream(api, params={"types": "printer.updated"})
    await stream.send({"kind": "ping"})
    assert await stream.frame() == {"kind": "pong"}
    job = await make_job(api)  # job.created: filtered out
    printer_id = (await api.get("/printers", key="read")).data[0]["id"]
    reply = await api.patch(f"/printers/{printer_id}", json={"notes": "a"}, key="all")
    assert reply.status == 200
    frame = await stream.event()
    assert frame["type"] == "printer.updated"
    await stream.send({"kind": "subscribe", "types": ["job.*"]})
    await stream.send({"kind": "ping"})
    assert await stream.frame() == {"kind": "pong"}  # the subscribe was applied before this
    await api.patch(f"/printers/{printer_id}", json={"notes": "b"}, key="all")
    await api.post(f"/jobs/{job['id']}/complete", json={}, key="all")
    frame = await stream.event()
    assert frame["type"] == "job.completed"  # the printer.updated was filtered out
    await stream.send({"kind": "subscribe", "types": ["bad pattern"]})
    frame = await stream.frame()
    assert frame["code"] == "VALIDATION_ERROR"


async def test_unknown_kinds_are_ignored(api: Api) -> None:
    stream = await open_stream(api)
    await stream.send({"kind": "hello-from-the-future"})
    await stream.send({"kind": "ping"})
    assert await stream.frame() == {"kind": "pong"}


async def test_replay_then_live_without_gap_or_duplicate(api: Api) -> None:
    """Events are emitted while the client connects; it sees every id exactly once, in order."""
    start = (await api.get("/events", key="read")).body["meta"]["last_event_id"]
    printer_id = (await api.get("/printers", key="read")).data[0]["id"]

    async def writer(count: int) -> None:
        for i in range(count):
            reply = await api.patch(f"/printers/{printer_id}", json={"notes": f"n{i}"}, key="all")
            assert reply.status == 200

    before = asyncio.create_task(writer(15))
    await asyncio.sleep(0.05)
    # only the writer's own events: the demo printers' status changes come and go with load
    stream = await open_stream(
        api, params={"last_event_id": str(start), "types": "printer.updated"}
    )
    await before
    await writer(10)
    log = await api.get("/events", key="read", params={"after": start, "type": "printer.updated",
                                                       "limit": 1000})
    expected = [e["id"] for e in log.data]
    assert len(expected) == 25
    frames = await stream.events_until(lambda f: f["id"] == expected[-1])
    assert [f["id"] for f in frames] == expected
    await stream.close()


async def test_replay_is_filtered_and_ordered(api: Api) -> None:
    start = (await api.get("/events", key="read")).body["meta"]["last_event_id"]
    for _ in range(3):
        job = await make_job(api)
        await api.post(f"/jobs/{job['id']}/complete", json={}, key="all")
    stream = await open_stream(
        api, params={"last_event_id": str(start), "types": "job.completed"}
    )
    frames = [await stream.event() for _ in range(3)]
    assert [f["type"] for f in frames] == ["job.completed"] * 3
    assert [f["id"] for f in frames] == sorted(f["id"] for f in frames)
    assert frames[0]["id"] > start
    await stream.close()


async def test_slow_client_is_dropped_and_others_keep_up(api: Api) -> None:
    hub = api.farm.event_hub
    hub.settings = dataclasses.replace(hub.settings, ws_queue_size=20)
    fast = await open_stream(api, params={"types": "bench.*"})
    (fast_client,) = hub.clients
    slow = await open_stream(api, params={"types": "bench.*"})
    (slow_client,) = hub.clients - {fast_client}
    count = 60
    received: list[dict] = []

    async def read_fast() -> None:
        while len(received) < count:
            received.append(await fast.event(timeout=10))

    reader = asyncio.create_task(read_fast())
    started = time.monotonic()
    for i in range(count):  # 12 MB the slow client never reads
        async with api.farm.db.begin() as conn:
            await api.farm.events.emit(conn, "bench.big", {"blob": "x" * 200_000, "i": i})
    emit_seconds = time.monotonic() - started
    async with asyncio.timeout(30):
        await reader
    assert [f["data"]["i"] for f in received] == list(range(count))
    assert slow_client.dropped == "SLOW_CONSUMER"
    assert slow_client not in hub.clients
    assert fast_client in hub.clients
    assert fast_client.dropped is None
    assert emit_seconds < 20
    # the slow client gets what fitted in its buffers, then the error (or the cut connection)
    frames: list[dict] = []
    with contextlib.suppress(AssertionError, TimeoutError):
        while True:
            frames.append(await slow.frame(timeout=5))
    events = [f for f in frames if f["kind"] == "event"]
    assert len(events) < count
    errors = [f for f in frames if f["kind"] == "error"]
    assert errors in ([], [{"kind": "error", "code": "SLOW_CONSUMER", "error": errors[0]["error"]}]
                      if errors else [])
    await fast.close()


async def test_server_stop_closes_streams_promptly(api: Api) -> None:
    stream = await open_stream(api)
    hooks = api.farm.http_shutdown_hooks
    started = time.monotonic()
    for hook in list(hooks):
        await hook()
    msg = await stream.ws.receive(timeout=5)
    assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    assert stream.ws.close_code == aiohttp.WSCloseCode.GOING_AWAY
    assert time.monotonic() - started < 3



async def test_server_stop_closes_connections_still_authenticating(api: Api) -> None:
    stream = await open_stream(api, key=None, expect_welcome=False)  # no auth message yet
    await asyncio.sleep(0.1)
    started = time.monotonic()
    for hook in list(api.farm.http_shutdown_hooks):
        await hook()
    msg = await stream.ws.receive(timeout=5)
    assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    assert stream.ws.close_code == aiohttp.WSCloseCode.GOING_AWAY
    assert time.monotonic() - started < 0.9  # well before the auth timeout (1 s here)
    # and a connection that arrives after the stop is told the stream is unavailable
    late = await open_stream(api, expect_welcome=False)
    frame = await late.frame()
    assert frame["code"] == "STREAM_UNAVAILABLE"


async def test_plain_http_get_on_the_stream_is_a_clean_400(api: Api) -> None:
    reply = await api.get("/events/ws", key="read")
    assert reply.status == 400
    assert reply.body["success"] is False
