"""The benchmark's WebSocket clients for ``bench/events.py``.

``FastClient`` speaks the WebSocket protocol over a raw asyncio Protocol: it sends the
upgrade request with the Authorization header, then parses server frames in bulk per
socket read (header and length; server frames are unmasked) and reads only each event
frame's id and time. Every client checks that its ids arrive ascending with no gap and no
repeat, and counts each frame's latency in 0.1 ms buckets. ``AiohttpClient`` is the
slower reference: aiohttp's client, JSON-parsing every frame.
"""

from __future__ import annotations

import asyncio
import base64
import os
import time
from datetime import datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

import aiohttp
import orjson

EVENT_PREFIX = b'{"kind":"event","id":'
TIME_KEY = b'"time":"'
#: latencies are counted in buckets of 0.1 ms (merged over the client processes)
BUCKET_SECONDS = 1e-4


class Tally:
    """What one client saw: events, order faults, a latency histogram, an error code."""

    def __init__(self) -> None:
        self.received = 0
        self.last_id = 0
        #: an id that skipped ahead of last + 1, or one not above the last (duplicate/reorder)
        self.gaps = 0
        self.disorder = 0
        self.histogram: dict[int, int] = {}
        self.error: str | None = None

    def event(self, event_id: int, latency: float) -> None:
        if self.last_id:
            if event_id <= self.last_id:
                self.disorder += 1
            elif event_id != self.last_id + 1:
                self.gaps += 1
        self.last_id = max(self.last_id, event_id)
        self.received += 1
        bucket = int(latency / BUCKET_SECONDS)
        self.histogram[bucket] = self.histogram.get(bucket, 0) + 1

    def other(self, frame: dict[str, Any]) -> None:
        if frame.get("kind") == "error":
            self.error = frame["code"]


class AiohttpClient:
    """aiohttp's WebSocket client, JSON-parsing every frame (slower than the server)."""

    def __init__(self) -> None:
        self.tally = Tally()

    async def run(self, session: aiohttp.ClientSession, url: str, key: str, types: str) -> None:
        async with session.ws_connect(
            url,
            params={"types": types},
            headers={"Authorization": f"Bearer {key}"},
            max_msg_size=0,
        ) as ws:
            async for msg in ws:
                now = time.time()
                frame = orjson.loads(msg.data)
                if frame["kind"] == "event":
                    created = datetime.fromisoformat(frame["time"].replace("Z", "+00:00"))
                    self.tally.event(frame["id"], now - created.timestamp())
                else:
                    self.tally.other(frame)


class FastClient(asyncio.Protocol):
    """A WebSocket client on a raw asyncio Protocol: the handshake by hand, then server
    frames parsed in bulk from each read (header + length, never masked). Of an event
    frame it reads only the id and the time (a shared cache parses each time string
    once per process); every frame is counted and timed at the arrival of its read."""

    def __init__(self, request: bytes, times: dict[bytes, float]) -> None:
        self.tally = Tally()
        self.closed = asyncio.get_running_loop().create_future()
        self._request = request
        self._times = times
        self._buffer = b""
        self._upgraded = False
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        transport.write(self._request)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer + data if self._buffer else data
        if not self._upgraded:
            head_end = buffer.find(b"\r\n\r\n")
            if head_end < 0:
                self._buffer = buffer
                return
            status = buffer[: buffer.find(b"\r\n")]
            if b" 101 " not in status:
                self.tally.error = status.decode(errors="replace")
                self.close()
                return
            self._upgraded = True
            buffer = buffer[head_end + 4 :]
        self._buffer = self._frames(buffer, time.time())

    def _frames(self, buffer: bytes, now: float) -> bytes:
        """Handle the complete frames in ``buffer``; returns the incomplete rest."""
        at, size = 0, len(buffer)
        while size - at >= 2:
            length = buffer[at + 1] & 0x7F
            start = at + 2
            if length == 126:
                start = at + 4
                length = int.from_bytes(buffer[at + 2 : start])
            elif length == 127:
                start = at + 10
                length = int.from_bytes(buffer[at + 2 : start])
            end = start + length
            if end > size:
                break
            opcode = buffer[at] & 0x0F
            if opcode == 1 and buffer.startswith(EVENT_PREFIX, start):
                self._event(buffer, start, now)
            elif opcode == 1:
                self.tally.other(orjson.loads(buffer[start:end]))
            elif opcode == 9:  # ping: a masked pong (zero mask key) with the same payload
                self._send(0x8A, buffer[start:end])
            elif opcode == 8:
                self._send(0x88, buffer[start:end])
                self.close()
            at = end
        return buffer[at:]

    def _event(self, buffer: bytes, start: int, now: float) -> None:
        id_start = start + len(EVENT_PREFIX)
        id_end = buffer.index(b",", id_start)
        time_start = buffer.index(TIME_KEY, id_end) + len(TIME_KEY)
        stamp = buffer[time_start : buffer.index(b'"', time_start)]
        created = self._times.get(stamp)
        if created is None:
            if len(self._times) > 100_000:
                self._times.clear()
            created = self._times[stamp] = datetime.fromisoformat(stamp.decode()).timestamp()
        self.tally.event(int(buffer[id_start:id_end]), now - created)

    def _send(self, opcode: int, payload: bytes) -> None:
        if self._transport is not None and len(payload) < 126:
            self._transport.write(bytes((opcode, 0x80 | len(payload))) + b"\0\0\0\0" + payload)


def _upgrade_request(url: str, key: str, types: str) -> tuple[str, int, bytes]:
    parts = urlsplit(url)
    path = f"{parts.path}?{urlencode({'types': types})}"
    nonce = base64.b64encode(os.urandom(16)).decode()
    request = (
        f"GET {path} HTTP/1.1\r\nHost: {parts.netloc}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {nonce}\r\nSec-WebSocket-Version: 13\r\n"
        f"Authorization: Bearer {key}\r\n\r\n"
    )
    return parts.hostname or "127.0.0.1", parts.port or 80, request.encode()


async def run_clients(
    url: str, key: str, count: int, types: str, mode: str, stop: asyncio.Event
) -> list[Tally]:
    if mode == "aiohttp":
        slow = [AiohttpClient() for _ in range(count)]
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
            tasks = [asyncio.create_task(c.run(session, url, key, types)) for c in slow]
            await stop.wait()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        return [c.tally for c in slow]
    loop = asyncio.get_running_loop()
    host, port, request = _upgrade_request(url, key, types)
    times: dict[bytes, float] = {}
    fast = [FastClient(request, times) for _ in range(count)]
    for client in fast:
        await loop.create_connection(lambda c=client: c, host, port)  # type: ignore[misc]
    await stop.wait()
    for client in fast:
        client.close()
    await asyncio.gather(*(c.closed for c in fast))
    return [c.tally for c in fast]


def tally_report(tallies: list[Tally]) -> dict[str, Any]:
    histogram: dict[int, int] = {}
    for tally in tallies:
        for bucket, count in tally.histogram.items():
            histogram[bucket] = histogram.get(bucket, 0) + count
    return {
        "received": [t.received for t in tallies],
        "errors": [t.error for t in tallies],
        "gaps": sum(t.gaps for t in tallies),
        "disorder": sum(t.disorder for t in tallies),
        "histogram": histogram,
    }
