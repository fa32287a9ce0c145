"""Fetching one JPEG from an HTTP snapshot URL (OctoPrint and Moonraker webcams)."""

from __future__ import annotations

from urllib.parse import urljoin

import aiohttp

from ..net.session import guarded_session
from .base import DriverError, PrinterUnreachable

MAX_SNAPSHOT_BYTES = 16 << 20
SNAPSHOT_TIMEOUT_S = 10.0


async def fetch_snapshot(base_url: str, snapshot_url: str) -> bytes:
    """GET ``snapshot_url`` (relative ones are joined to the printer's base URL).

    A session of its own: the printer's API key must not travel to the camera's host.
    """
    url = urljoin(base_url + "/", snapshot_url)
    limit = aiohttp.ClientTimeout(total=SNAPSHOT_TIMEOUT_S)
    try:
        async with guarded_session(timeout=limit) as session, session.get(url) as response:
            if response.status != 200:
                raise PrinterUnreachable(f"the webcam answered HTTP {response.status}")
            body = await _read_bounded(response.content, MAX_SNAPSHOT_BYTES + 1)
    except TimeoutError as err:
        raise PrinterUnreachable("the webcam sent no picture in time") from err
    except aiohttp.ClientError as err:
        raise PrinterUnreachable(f"cannot reach the webcam: {err}") from err
    if len(body) > MAX_SNAPSHOT_BYTES:
        raise DriverError("the webcam picture is too large")
    if not body.startswith(b"\xff\xd8"):
        raise DriverError("the webcam sent something that is not a JPEG")
    return body


async def _read_bounded(stream: aiohttp.StreamReader, limit: int) -> bytes:
    """The whole body, or its first ``limit`` bytes (``read(n)`` stops at the first chunk)."""
    body = bytearray()
    async for chunk in stream.iter_chunked(64 << 10):
        body += chunk
        if len(body) >= limit:
            break
    return bytes(body[:limit])
