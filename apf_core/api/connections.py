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
from time import monotonic
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
    """aiohttp's connection handler with the timeouts above, checked once a second.

    Per request it only notes when bytes arrived and whether they completed a request
    head: the rest is read from aiohttp's own state by the once-a-second check."""

    def __init__(self, manager: web.Server, *, limits: ConnectionLimits, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self._limits = limits
        self._last_rx = 0.0  # when bytes last arrived
        self._head_started: float | None = None  # first byte of an incomplete request head
        self._quiet_since = 0.0  # connection opened, or a check saw a request in progress
        self._check: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        server = self._manager
        if server is not None and len(server.connections) > self._limits.max_connections:
            transport.write(_BUSY)  # type: ignore[attr-defined]
            self.force_close()
            transport.close()
            return
        self._quiet_since = self._last_rx = monotonic()
        self._schedule()

    def connection_lost(self, exc: BaseException | None) -> None:
        if self._check is not None:
            self._check.cancel()
            self._check = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._last_rx = now = monotonic()
        if self._messages or self._request_in_progress:
            self._head_started = None  # a whole head (queued), or the body of the request
        elif self._head_started is None:
            self._head_started = now

    def _schedule(self) -> None:
        self._check = self._loop.call_later(CHECK_SECONDS, self._enforce)

    def _enforce(self) -> None:
        self._check = None
        if self.transport is None:
            return
        if self._expired(monotonic()):
            self.force_close()
            self.transport.close()
            return
        self._schedule()

    def _expired(self, now: float) -> bool:
        limits = self._limits
        if self._request_in_progress:
            self._quiet_since = now
            request = self._current_request
            stalled = request is not None and not request.content.is_eof() and not self._upgraded_()
            return stalled and now - self._last_rx > limits.body_timeout
        if self._head_started is not None:
            return now - self._head_started > limits.header_timeout
        quiet = now - max(self._quiet_since, self._last_rx)
        return not self._messages and quiet > limits.idle_timeout

    def _upgraded_(self) -> bool:
        """A WebSocket: aiohttp 3.12 renamed ``_upgrade`` to ``_upgraded``."""
        return bool(getattr(self, "_upgraded", False) or getattr(self, "_upgrade", False))


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
