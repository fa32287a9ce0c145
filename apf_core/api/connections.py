"""Bounded connections: header, body and idle timeouts, and a cap on open sockets.

aiohttp closes idle keep-alive connections, but not a socket that never sends
a request, one that drips header bytes, nor a request whose body stalls.
:class:`GuardedRequestHandler` checks each connection once a second:

- no byte since the connection opened (or since the last response): closed after
  ``idle_timeout``;
- request headers started but incomplete: closed ``header_timeout`` after the
  first byte;
- a request body that receives nothing for ``body_timeout``: closed.

Past ``max_connections`` open sockets, a new connection gets ``503`` and is
closed at once, before the process runs out of file descriptors.
"""

from __future__ import annotations

import asyncio
import resource
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web
from aiohttp.web_protocol import RequestHandler

from .framework import error_body

CHECK_SECONDS = 1.0


def _busy_response() -> bytes:
    body = orjson.dumps(
        error_body("TOO_MANY_CONNECTIONS", "Too many open connections; retry in a moment")
    )
    head = (
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
        f"Retry-After: 1\r\nConnection: close\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


_BUSY = _busy_response()


def default_max_connections() -> int:
    """1000, or fewer when the file-descriptor limit is low (64 kept for files, DB, peers)."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return 1000
    return max(16, min(1000, soft - 64))


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    header_timeout: float = 10.0
    idle_timeout: float = 30.0
    body_timeout: float = 30.0
    max_connections: int = 1000


class GuardedRequestHandler(RequestHandler):
    def __init__(self, manager: web.Server, *, limits: ConnectionLimits, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self._limits = limits
        self._phase_started = 0.0  # connection opened / last response done
        self._first_byte: float | None = None  # first byte of the next request's headers
        self._last_rx = 0.0
        self._active = False
        self._current_payload: Any = None
        self._check: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        server = self._manager
        if server is not None and len(server.connections) > self._limits.max_connections:
            transport.write(_BUSY)  # type: ignore[attr-defined]
            self.force_close()
            transport.close()
            return
        now = self._loop.time()
        self._phase_started = self._last_rx = now
        self._schedule()

    def connection_lost(self, exc: BaseException | None) -> None:
        if self._check is not None:
            self._check.cancel()
            self._check = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        now = self._loop.time()
        self._last_rx = now
        if not self._active and self._first_byte is None and data:
            self._first_byte = now
        super().data_received(data)

    async def _handle_request(self, request: Any, start_time: float, handler: Any) -> Any:
        self._active, self._first_byte = True, None
        self._current_payload = request.content
        try:
            return await super()._handle_request(request, start_time, handler)
        finally:
            self._active, self._current_payload = False, None
            self._phase_started = self._loop.time()

    def _schedule(self) -> None:
        self._check = self._loop.call_later(CHECK_SECONDS, self._enforce)

    def _enforce(self) -> None:
        self._check = None
        if self.transport is None:
            return
        now, limits = self._loop.time(), self._limits
        if self._active:
            payload = self._current_payload
            stalled = payload is not None and not payload.is_eof() and not self._upgrade
            expired = stalled and now - self._last_rx > limits.body_timeout
        elif self._first_byte is not None:
            expired = now - self._first_byte > limits.header_timeout
        else:
            expired = not self._messages and now - self._phase_started > limits.idle_timeout
        if expired:
            self.force_close()
            self.transport.close()
            return
        self._schedule()


class GuardedServer(web.Server):
    """A :class:`web.Server` whose connections are :class:`GuardedRequestHandler`."""

    limits: ConnectionLimits

    def __call__(self) -> RequestHandler:
        return GuardedRequestHandler(self, loop=self._loop, limits=self.limits, **self._kwargs)


class GuardedAppRunner(web.AppRunner):
    def __init__(self, app: web.Application, limits: ConnectionLimits, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self._limits = limits

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        server.__class__ = GuardedServer  # same state, our handler factory
        server.limits = self._limits  # type: ignore[attr-defined]
        return server
