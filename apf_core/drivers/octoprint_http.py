"""OctoPrint transport: REST requests with the API key (errors mapped to driver errors), and
reading the SockJS push socket."""

from __future__ import annotations

import contextlib
import json as jsonlib
from collections.abc import Callable, Mapping
from typing import Any

import aiohttp

from .base import AuthenticationFailed, CommandTimeout, DriverError, PrinterUnreachable

PUSH_SILENCE_S = 30.0  # OctoPrint pushes "current" every ~0.5 s; silence means a dead link
AUTH_MESSAGE = "OctoPrint rejected the API key; check the key in the printer settings"


class PushUnavailable(Exception):
    """The push socket could not be opened or died; fall back to polling."""


class HttpError(DriverError):
    """OctoPrint answered with an error status (other than 403)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _error_text(status: int, body: bytes) -> str:
    message = ""
    with contextlib.suppress(ValueError, UnicodeDecodeError):
        parsed = jsonlib.loads(body)
        if isinstance(parsed, dict):
            message = str(parsed.get("error") or "")
    if not message:
        message = body.decode("utf-8", errors="replace").strip()[:200]
    return f"OctoPrint refused the command (HTTP {status}): {message or 'no details'}"


async def request(
    session: aiohttp.ClientSession,
    base_url: str,
    method: str,
    path: str,
    *,
    timeout: float,
    json: Any = None,
    data: Any = None,
    expect_json: bool = False,
) -> Any:
    """The decoded JSON answer (None when empty, or not JSON unless ``expect_json``)."""
    limit = aiohttp.ClientTimeout(total=timeout)
    try:
        async with session.request(
            method, base_url + path, json=json, data=data, timeout=limit
        ) as response:
            body = await response.read()
            if response.status == 403:
                raise AuthenticationFailed(AUTH_MESSAGE)
            if response.status >= 400:
                raise HttpError(response.status, _error_text(response.status, body))
            if not body:
                return None
            try:
                return jsonlib.loads(body)
            except ValueError as err:
                if expect_json:
                    raise DriverError("OctoPrint sent a malformed answer") from err
                return None
    except TimeoutError as err:
        raise CommandTimeout(f"OctoPrint did not answer {method} {path} in time") from err
    except aiohttp.ClientError as err:
        raise PrinterUnreachable(f"cannot reach OctoPrint at {base_url}: {err}") from err


async def read_push(
    socket: aiohttp.ClientWebSocketResponse, on_push: Callable[[Mapping[str, Any]], bool]
) -> int:
    """Hand pushed messages to ``on_push`` until the socket closes; returns how many it
    reported as status snapshots."""
    snapshots = 0
    while True:
        message = await socket.receive(timeout=PUSH_SILENCE_S)
        if message.type in (
            aiohttp.WSMsgType.CLOSE,
            aiohttp.WSMsgType.CLOSING,
            aiohttp.WSMsgType.CLOSED,
        ):
            return snapshots
        if message.type is aiohttp.WSMsgType.ERROR:
            raise PushUnavailable(str(socket.exception()))
        if message.type is not aiohttp.WSMsgType.TEXT:
            continue
        try:
            payload = jsonlib.loads(message.data)
        except ValueError:
            continue
        if isinstance(payload, dict) and on_push(payload):
            snapshots += 1
