"""Prepared WebSocket frames: their bytes, bursts in one socket write, bounded write buffers."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from types import SimpleNamespace
from typing import Any, cast

import aiohttp
import pytest
from aiohttp._websocket.reader import WebSocketDataQueue
from aiohttp.base_protocol import BaseProtocol
from aiohttp.http import WebSocketReader

from apf_core.domain.events import Event
from apf_core.events import websocket
from apf_core.events.hub import (
    WAKE_INTERVAL_SECONDS,
    EventHub,
    Frame,
    StreamClient,
    event_frame,
    ws_text_frame,
)
from apf_core.events.patterns import TypeFilter, parse_patterns
from apf_core.events.settings import EventSettings
from apf_core.events.websocket import StreamSession
from apf_core.timeutil import utcnow
from tests.api.conftest import Api

from .conftest import open_stream


async def decode(data: bytes, chunk: int | None = None) -> list[aiohttp.WSMessage]:
    """Messages in ``data`` as aiohttp's own reader parses them (fed in ``chunk``-byte reads)."""
    loop = asyncio.get_running_loop()
    queue = WebSocketDataQueue(BaseProtocol(loop), 2**30, loop=loop)
    try:
        reader = WebSocketReader(queue, max_msg_size=0, compress=False, decode_text=True)
    except TypeError:  # aiohttp before 3.12 (Home Assistant 2025.4's pin) always decodes text
        reader = WebSocketReader(queue, max_msg_size=0, compress=False)
    step = chunk or max(1, len(data))
    for at in range(0, len(data), step):
        reader.feed_data(data[at : at + step])
    reader.feed_eof()
    messages = []
    while True:
        try:
            messages.append(await queue.read())
        except aiohttp.EofStream:
            return messages


@pytest.mark.parametrize("size", [0, 1, 125, 126, 127, 65535, 65536, 70_000])
async def test_prepared_frame_decodes_as_one_text_message(size: int) -> None:
    payload = ("é" * (size // 2) + "x" * (size % 2)).encode()
    assert len(payload) == size
    wire = ws_text_frame(payload)
    assert wire[0] == 0x81  # FIN + text, unmasked
    assert not wire[1] & 0x80
    assert len(wire) - size == (2 if size < 126 else 4 if size < 65536 else 10)
    (message,) = await decode(wire)
    assert message.type == aiohttp.WSMsgType.TEXT
    assert message.data == payload.decode()


async def test_frames_joined_in_one_write_decode_in_order_whatever_the_reads() -> None:
    sizes = [0, 125, 126, 65535, 65536, 3, 200_000]
    payloads = [bytes([65 + n % 26]) * size for n, size in enumerate(sizes)]
    joined = b"".join(ws_text_frame(p) for p in payloads)
    for chunk in (None, 1000, 7):
        messages = await decode(joined, chunk)
        assert [m.data for m in messages] == [p.decode() for p in payloads]


async def test_event_frame_is_the_event_json() -> None:
    event = Event(id=42, type="job.created", time=utcnow(), data={"id": "j1", "n": 1})
    frame = event_frame(event)
    assert (frame.id, frame.type) == (42, "job.created")
    (message,) = await decode(frame.wire)
    body = json.loads(message.data)
    assert body["kind"] == "event"
    assert (body["id"], body["type"], body["data"]) == (42, "job.created", {"id": "j1", "n": 1})
    assert body["time"].endswith("Z")


async def test_backlog_hands_over_bursts_in_order_and_drops_at_its_limit() -> None:
    drops: list[str] = []
    client = StreamClient(TypeFilter(parse_patterns("job.*")), 3, drops.append)
    waiting = asyncio.create_task(client.take())
    await asyncio.sleep(0)
    assert not waiting.done()  # nothing queued yet: it waits
    frames = [Frame(n, "job.created" if n != 2 else "printer.updated", b"") for n in range(1, 6)]
    for frame in frames[:4]:
        assert client.offer(frame)
    await asyncio.sleep(0)
    assert not waiting.done()  # queued, handed over when the hub wakes the client
    client.wake()
    assert [f.id for f in await waiting] == [1, 3, 4]  # filtered, oldest first, one burst
    for frame in (frames[4], Frame(6, "job.x", b""), Frame(7, "job.x", b"")):
        assert client.offer(frame)
    assert not client.offer(Frame(8, "job.x", b""))  # a fourth frame: over the limit
    assert (drops, client.dropped, list(client.backlog)) == (["SLOW_CONSUMER"], "SLOW_CONSUMER", [])
    assert client.offer(Frame(9, "job.x", b""))  # ignored once dropped
    assert not client.backlog


async def test_the_hub_wakes_a_client_at_once_then_at_most_once_per_interval() -> None:
    bus = SimpleNamespace(is_remote=lambda event_id: False)
    hub = EventHub(cast(Any, None), cast(Any, bus), EventSettings())
    client = StreamClient(TypeFilter(parse_patterns("*")), 100, lambda reason: None)
    hub.clients.add(client)

    def publish(event_id: int) -> None:  # what the pump does for each committed event
        hub._dispatch(Event(id=event_id, type="bench.tick", time=utcnow(), data={}))
        hub._schedule_wake()

    publish(1)  # a sparse event: woken at once
    assert [f.id for f in await asyncio.wait_for(client.take(), 1)] == [1]
    waiting = asyncio.create_task(client.take())
    await asyncio.sleep(0)  # the session waits for the next frames
    publish(2)
    publish(3)  # more within the interval: one wake when it has passed
    await asyncio.sleep(0)
    assert not waiting.done()
    await asyncio.sleep(WAKE_INTERVAL_SECONDS * 3)
    assert [f.id for f in await asyncio.wait_for(waiting, 1)] == [2, 3]  # one burst, in order


def test_a_narrower_subscription_drops_queued_frames_it_no_longer_matches() -> None:
    client = StreamClient(TypeFilter(parse_patterns("*")), 100, lambda reason: None)
    for event_id, type_ in ((1, "job.created"), (2, "printer.updated"), (3, "job.completed")):
        client.offer(event_frame(Event(id=event_id, type=type_, time=utcnow(), data={})))
    client.resubscribe(TypeFilter(parse_patterns("job.*")))
    assert [f.id for f in client.backlog] == [1, 3]  # the session sends what take() gives
    client.offer(event_frame(Event(id=4, type="printer.updated", time=utcnow(), data={})))
    assert [f.id for f in client.backlog] == [1, 3]


@pytest.fixture
def sessions(monkeypatch: pytest.MonkeyPatch) -> list[StreamSession]:
    """Every StreamSession the server runs, for a look at its transport."""
    seen: list[StreamSession] = []
    run = StreamSession.run

    async def recording_run(self: StreamSession) -> Any:
        seen.append(self)
        return await run(self)

    monkeypatch.setattr(StreamSession, "run", recording_run)
    return seen


async def test_a_burst_goes_out_in_one_write_and_arrives_as_separate_messages(
    api: Api, sessions: list[StreamSession]
) -> None:
    stream = await open_stream(api, params={"types": "bench.*"})
    transport = sessions[-1].request.transport
    assert transport is not None
    writes: list[bytes] = []
    write = transport.write

    def recording_write(data: Any) -> None:
        writes.append(bytes(data))
        write(data)

    transport.write = recording_write  # type: ignore[method-assign]
    count = 50
    async with api.farm.db.begin() as conn:  # one commit: one burst for the hub
        for i in range(count):
            await api.farm.events.emit(conn, "bench.burst", {"i": i})
    frames = [await stream.event() for _ in range(count)]
    assert [f["data"]["i"] for f in frames] == list(range(count))
    ids = [f["id"] for f in frames]
    assert ids == list(range(ids[0], ids[0] + count))  # ascending, no gap, no duplicate
    decoded = [await decode(data) for data in writes]
    assert [len(messages) for messages in decoded] == [count]
    assert [json.loads(m.data)["id"] for m in decoded[0]] == ids
    await stream.close()


async def test_a_client_that_stops_reading_is_dropped_and_its_buffer_stays_bounded(
    api: Api, sessions: list[StreamSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(websocket, "DRAIN_TIMEOUT_SECONDS", 1.0)
    hub = api.farm.event_hub
    # a queue this long never overflows here: only the stalled socket can drop the client
    hub.settings = dataclasses.replace(hub.settings, ws_queue_size=100_000)
    stalled = await open_stream(api, params={"types": "bench.*"})
    (client,) = hub.clients
    transport = sessions[-1].request.transport
    assert transport is not None
    peak = 0

    async def sample() -> None:
        nonlocal peak
        while True:
            peak = max(peak, transport.get_write_buffer_size())
            await asyncio.sleep(0.001)

    sampler = asyncio.create_task(sample())
    blob = "x" * 100_000
    for i in range(300):  # 30 MB the client never reads (far below the backlog limit)
        async with api.farm.db.begin() as conn:
            await api.farm.events.emit(conn, "bench.big", {"blob": blob, "i": i})
        if client.dropped:
            break
    async with asyncio.timeout(10):
        while not client.dropped:
            await asyncio.sleep(0.05)
    assert client.dropped == "SLOW_CONSUMER"
    assert client not in hub.clients
    # the connection is closed and its unsent bytes are let go
    async with asyncio.timeout(10):
        while not transport.is_closing() or transport.get_write_buffer_size():
            await asyncio.sleep(0.05)
    sampler.cancel()
    assert websocket.WRITE_HIGH_WATER < peak <= websocket.WRITE_HIGH_WATER + 110_000
    # reading again, the client gets what had reached it, then the end of the stream
    async with asyncio.timeout(10):
        while (await stalled.ws.receive()).type == aiohttp.WSMsgType.TEXT:
            pass
