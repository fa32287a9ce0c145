"""Header, body and idle timeouts and the connection cap, on a real listening server."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import aiohttp
import pytest

from apf_core.testing import RunningFarm, running_farm

LIMITS = {
    "header_timeout_seconds": 1.0,
    "idle_timeout_seconds": 1.0,
    "body_timeout_seconds": 1.0,
    "max_connections": 30,
}


@pytest.fixture
async def server(tmp_path) -> AsyncIterator[RunningFarm]:
    async with running_farm(tmp_path, demo=False, **LIMITS) as running:
        yield running


async def _open(server: RunningFarm) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    parts = urlsplit(server.url)
    return await asyncio.open_connection(parts.hostname, parts.port)


async def _closed_after(reader: asyncio.StreamReader, limit: float) -> float:
    """Seconds until the server closes the socket (reads and drops what it sends)."""
    started = time.monotonic()
    async with asyncio.timeout(limit):
        while await reader.read(1024):
            pass
    return time.monotonic() - started


async def test_silent_socket_is_closed(server: RunningFarm) -> None:
    reader, writer = await _open(server)
    assert await _closed_after(reader, 5) < 3.5
    writer.close()


async def test_dripping_headers_are_cut_off(server: RunningFarm) -> None:
    reader, writer = await _open(server)

    async def drip() -> None:
        for byte in b"GET /public/v1/health HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100:
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(0.2)

    dripping = asyncio.create_task(drip())
    try:
        # bytes keep arriving every 0.2 s, yet the headers must be complete within 1 s
        assert await _closed_after(reader, 6) < 3.5
    finally:
        dripping.cancel()
        writer.close()


async def test_stalled_body_is_cut_off(server: RunningFarm) -> None:
    reader, writer = await _open(server)
    writer.write(
        b"POST /public/v1/printers HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Authorization: Bearer " + server.api_key.encode() + b"\r\nContent-Length: 5000\r\n\r\n{\"a"
    )
    await writer.drain()
    assert await _closed_after(reader, 6) < 4
    writer.close()


async def test_connection_cap_refuses_cleanly_and_recovers(server: RunningFarm) -> None:
    held = [await _open(server) for _ in range(LIMITS["max_connections"] + 2)]
    reader, writer = await _open(server)
    answer = await asyncio.wait_for(reader.read(), 3)
    assert answer.startswith(b"HTTP/1.1 503")
    assert b'"code":"TOO_MANY_CONNECTIONS"' in answer
    writer.close()
    for _reader, held_writer in held:
        held_writer.close()
    await asyncio.sleep(0.2)
    async with aiohttp.ClientSession() as session, session.get(f"{server.api}/health") as resp:
        assert resp.status == 200


async def test_keep_alive_requests_still_work(server: RunningFarm) -> None:
    async with aiohttp.ClientSession() as session:
        for _ in range(3):
            async with session.get(f"{server.api}/health") as resp:
                assert resp.status == 200
            await asyncio.sleep(0.4)
