"""One WebSocket stream session: authentication, replay, live events, control messages.

Protocol (JSON text frames):

* server → client: ``{"kind": "welcome", "last_event_id": N, "warning"?}`` once
  (``warning`` = ``{"code": "LAST_EVENT_ID_AHEAD", "message"}`` when the client's
  ``last_event_id`` is newer than the log: the stream starts from N), then
  ``{"kind": "event", "id", "type", "time", "data"}``; ``{"kind": "pong"}``;
  ``{"kind": "error", "code", "error"}`` followed by a close.
* client → server: ``{"kind": "auth", "api_key", "types"?, "last_event_id"?}``
  (first message, only without an ``Authorization`` header, within 10 s),
  ``{"kind": "ping"}``, ``{"kind": "subscribe", "types": [...]}``. Unknown
  kinds are ignored.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import orjson
from aiohttp import WSCloseCode, WSMsgType, web

from ..api.framework import error_body, json_response
from ..errors import DomainError
from ..services.keys import ApiKey, KeyService
from .hub import EventHub, Frame, StreamClient, event_frame
from .patterns import TypeFilter, parse_patterns
from .store import fetch_events

_LOGGER = logging.getLogger(__name__)
REPLAY_BATCH = 500
MAX_MESSAGE_BYTES = 64 * 1024
POLICY_VIOLATION = 1008
TRY_AGAIN_LATER = 1013
#: unsent bytes a client's socket may hold before its stream waits for it to drain,
#: down to the low-water mark
WRITE_HIGH_WATER = 256 * 1024
WRITE_LOW_WATER = 64 * 1024
#: a client whose socket does not drain within this time is dropped (SLOW_CONSUMER)
DRAIN_TIMEOUT_SECONDS = 10.0
DRAIN_POLL_SECONDS = 0.01


class StreamGone(Exception):
    """The connection is closing: stop writing events to it."""


class StreamRejected(Exception):
    def __init__(self, code: str, message: str, close_code: int = POLICY_VIOLATION) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.close_code = close_code


def _dumps(value: dict[str, Any]) -> str:
    return orjson.dumps(value).decode()


def _error(code: str, message: str) -> str:
    return _dumps({"kind": "error", "code": code, "error": message})


def _last_event_id(value: Any) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise StreamRejected("VALIDATION_ERROR", "last_event_id must be a non-negative integer")
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise StreamRejected(
            "VALIDATION_ERROR", "last_event_id must be a non-negative integer"
        ) from None
    if number < 0:
        raise StreamRejected("VALIDATION_ERROR", "last_event_id must be a non-negative integer")
    return number


def _types(value: Any) -> TypeFilter:
    try:
        return TypeFilter(parse_patterns(value))
    except ValueError as err:
        raise StreamRejected("VALIDATION_ERROR", str(err)) from None


class StreamSession:
    """Runs one connected client from handshake to close."""

    def __init__(self, request: web.Request, hub: EventHub, keys: KeyService) -> None:
        self.request = request
        self.hub = hub
        self.keys = keys
        settings = hub.settings
        # no permessage-deflate: compressing every frame once per client costs more CPU
        # than the fan-out itself
        self.ws = web.WebSocketResponse(
            heartbeat=settings.ws_heartbeat_seconds or None,
            max_msg_size=MAX_MESSAGE_BYTES,
            compress=False,
        )
        self.client: StreamClient | None = None
        self.sent_id = 0
        self.key: ApiKey | None = None
        self._header = ""
        self._sender: asyncio.Task[None] | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._closing: asyncio.Task[None] | None = None

    async def run(self) -> web.StreamResponse:
        """Counts the stream in the hub's totals for its whole life."""
        if self.hub.open_streams >= self.hub.settings.ws_max_streams:
            body = error_body("TOO_MANY_STREAMS", "Too many open event streams; retry later")
            return json_response(body, 503)
        self.hub.open_streams += 1
        try:
            return await self._run()
        finally:
            self.hub.open_streams -= 1
            if self.key is not None:
                left = self.hub.streams_by_key.get(self.key.id, 1) - 1
                if left > 0:
                    self.hub.streams_by_key[self.key.id] = left
                else:
                    self.hub.streams_by_key.pop(self.key.id, None)

    def _claim_key_slot(self, key: ApiKey) -> None:
        count = self.hub.streams_by_key.get(key.id, 0)
        if count >= self.hub.settings.ws_max_streams_per_key:
            raise StreamRejected(
                "TOO_MANY_STREAMS",
                f"This API key already has {count} open event streams",
                TRY_AGAIN_LATER,
            )
        self.hub.streams_by_key[key.id] = count + 1
        self.key = key

    async def _run(self) -> web.WebSocketResponse:
        await self.ws.prepare(self.request)
        close_on_shutdown = self._close_soon
        self.hub.handshakes.add(close_on_shutdown)
        try:
            types, last_id = await self._authenticate()
        except StreamRejected as err:
            if self._closing is None:
                await self._close_with_error(err.code, err.message, err.close_code)
            else:  # closed by a shutdown
                with contextlib.suppress(Exception):
                    await self._closing
            return self.ws
        finally:
            self.hub.handshakes.discard(close_on_shutdown)
        client = StreamClient(types, self.hub.settings.ws_queue_size, self._on_drop)
        self.client = client
        seam = self.hub.register(client)
        if seam is None or self.ws.closed:
            await self._close(WSCloseCode.GOING_AWAY)
            return self.ws
        try:
            welcome: dict[str, Any] = {"kind": "welcome", "last_event_id": seam}
            if last_id is not None and last_id > seam:
                welcome["warning"] = {
                    "code": "LAST_EVENT_ID_AHEAD",
                    "message": f"last_event_id {last_id} is newer than the newest event ({seam}),"
                    " e.g. after a restore from an older backup; streaming from "
                    f"{seam}",
                }
                last_id = seam
            await self.ws.send_str(_dumps(welcome))
            self._sender = asyncio.create_task(self._send_events(client, last_id, seam))
            self._watcher = asyncio.create_task(self._watch_key())
            await self._receive(client)
        except (ConnectionError, RuntimeError):
            pass  # the peer went away
        finally:
            self.hub.unregister(client)
            for task in (self._sender, self._watcher):
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await task
            if self._closing is not None:
                with contextlib.suppress(Exception):
                    await self._closing
            if not self.ws.closed:
                with contextlib.suppress(Exception):
                    async with asyncio.timeout(2):
                        await self.ws.close()
        return self.ws

    # --- authentication -------------------------------------------------------
    async def _authenticate(self) -> tuple[TypeFilter, int | None]:
        query = self.request.query
        types = _types(query.get("types"))
        last_id = _last_event_id(query.get("last_event_id"))
        header = self.request.headers.get("Authorization")
        if header:
            key = await self._verify(header)
        else:
            message = await self._first_message()
            api_key = message.get("api_key")
            if not isinstance(api_key, str) or not api_key:
                raise StreamRejected("UNAUTHORIZED", "The auth message needs an api_key")
            key = await self._verify(f"Bearer {api_key}")
            if "types" in message:
                types = _types(message["types"])
            if "last_event_id" in message:
                last_id = _last_event_id(message["last_event_id"])
        if not key.has_scope("read"):
            raise StreamRejected("INSUFFICIENT_SCOPE", "API key missing required scope: read")
        self._claim_key_slot(key)
        return types, last_id

    async def _verify(self, header: str) -> ApiKey:
        try:
            key = await self.keys.verify(header)
        except DomainError as err:
            raise StreamRejected(err.code, err.message) from None
        self._header = header
        return key

    async def _watch_key(self) -> None:
        """A key revoked or expired while the stream is open closes it (1008 + error frame)."""
        interval = self.hub.settings.ws_key_check_seconds
        while not self.ws.closed:
            await asyncio.sleep(interval)
            try:
                await self.keys.verify(self._header)
            except DomainError as err:
                if self._sender is not None:
                    self._sender.cancel()
                self._closing = asyncio.create_task(
                    self._close_with_error(err.code, err.message, POLICY_VIOLATION)
                )
                return
            except Exception as err:  # the database is busy: check again next time
                _LOGGER.debug("stream key re-check failed: %s", err)

    async def _first_message(self) -> dict[str, Any]:
        timeout = self.hub.settings.ws_auth_timeout_seconds
        try:
            msg = await self.ws.receive(timeout=timeout)
        except TimeoutError:
            raise StreamRejected(
                "UNAUTHORIZED", f"No Authorization header and no auth message within {timeout:g} s"
            ) from None
        if msg.type != WSMsgType.TEXT:
            raise StreamRejected("UNAUTHORIZED", "Expected an auth message")
        message = self._parse(msg.data)
        if message.get("kind") != "auth":
            raise StreamRejected("UNAUTHORIZED", 'The first message must be {"kind": "auth", ...}')
        return message

    @staticmethod
    def _parse(data: str) -> dict[str, Any]:
        try:
            message = orjson.loads(data)
        except orjson.JSONDecodeError:
            raise StreamRejected("VALIDATION_ERROR", "Messages must be JSON objects") from None
        if not isinstance(message, dict):
            raise StreamRejected("VALIDATION_ERROR", "Messages must be JSON objects")
        return message

    # --- streaming ------------------------------------------------------------
    async def _send_events(self, client: StreamClient, last_id: int | None, seam: int) -> None:
        try:
            await self._stream(client, last_id, seam)
        except asyncio.CancelledError:
            raise
        except StreamGone as gone:  # aiohttp closes (or has closed) the connection
            _LOGGER.debug("event stream stopped: %s", gone)
        except Exception as err:  # the peer went away, or the outbox cannot be read
            _LOGGER.debug("event stream ended: %s", err)
            await self._close(WSCloseCode.INTERNAL_ERROR)

    async def _stream(self, client: StreamClient, last_id: int | None, seam: int) -> None:
        """Replay ``(last_id, seam]`` from the outbox, then the live queue (ids > seam)."""
        if last_id is not None:
            self.sent_id = last_id
            while self.sent_id < seam:
                async with self.hub.db.read() as conn:
                    batch = await fetch_events(
                        conn, after=self.sent_id, upto=seam, limit=REPLAY_BATCH, types=client.types
                    )
                await self._write([event_frame(event) for event in batch])
                if len(batch) < REPLAY_BATCH:
                    break
            self.sent_id = max(self.sent_id, seam)
        while True:
            frames = await client.take()  # a burst is sent in one go, without a wake-up each
            await self._write([f for f in frames if f.id > self.sent_id])  # offer() filtered them

    def _transport(self) -> asyncio.Transport:
        """The connection's transport, while events may still be written to it."""
        transport = self.request.transport
        if transport is None or transport.is_closing() or self.ws.closed:
            raise StreamGone("the connection is closing")
        return transport

    async def _write(self, frames: list[Frame]) -> None:
        """Write the prepared frames, as many per socket write as the high-water mark
        allows (at least one), waiting for the client to take them between writes."""
        start = 0
        while start < len(frames):
            transport = self._transport()
            room = WRITE_HIGH_WATER - transport.get_write_buffer_size()
            end, size = start + 1, len(frames[start].wire)
            while end < len(frames) and size + len(frames[end].wire) <= room:
                size += len(frames[end].wire)
                end += 1
            if end - start == 1:
                transport.write(frames[start].wire)
            else:
                transport.write(b"".join([f.wire for f in frames[start:end]]))
            self.sent_id = frames[end - 1].id
            start = end
            if transport.get_write_buffer_size() > WRITE_HIGH_WATER:
                await self._drain(transport)

    async def _drain(self, transport: asyncio.Transport) -> None:
        """Wait until the client has taken most of its unsent data; a client that does
        not within DRAIN_TIMEOUT_SECONDS is dropped as a slow consumer."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + DRAIN_TIMEOUT_SECONDS
        while transport.get_write_buffer_size() > WRITE_LOW_WATER:
            if loop.time() >= deadline:
                if self.client is not None:
                    self.hub.unregister(self.client)
                    self.client.drop("SLOW_CONSUMER")  # closes in the background
                raise StreamGone("the client did not drain its socket")
            await asyncio.sleep(DRAIN_POLL_SECONDS)
            self._transport()

    async def _receive(self, client: StreamClient) -> None:
        async for msg in self.ws:
            if msg.type == WSMsgType.TEXT:
                try:
                    reply = self._handle(client, self._parse(msg.data))
                except StreamRejected as err:
                    await self._close_with_error(err.code, err.message, err.close_code)
                    return
                if reply is not None:
                    await self.ws.send_str(reply)
            elif msg.type == WSMsgType.BINARY:
                await self._close_with_error("VALIDATION_ERROR", "Binary frames are not supported")
                return
            elif msg.type == WSMsgType.ERROR:
                return

    def _handle(self, client: StreamClient, message: dict[str, Any]) -> str | None:
        kind = message.get("kind")
        if kind == "ping":
            return _dumps({"kind": "pong"})
        if kind == "subscribe":
            if "types" not in message:
                raise StreamRejected("VALIDATION_ERROR", "subscribe needs types")
            client.resubscribe(_types(message["types"]))
            return None
        return None  # "auth" again, or a kind from a newer client: ignored

    # --- closing --------------------------------------------------------------
    def _on_drop(self, reason: str) -> None:
        """Called by the hub (never awaited): stop sending and close in the background."""
        if self._sender is not None:
            self._sender.cancel()
        if reason == "SERVER_SHUTDOWN":
            coro = self._close(WSCloseCode.GOING_AWAY)
        else:
            coro = self._close_with_error(
                reason, "The client did not keep up with the event stream", TRY_AGAIN_LATER
            )
        self._closing = asyncio.create_task(coro)

    def _close_soon(self) -> None:
        """The server is stopping while this connection authenticates."""
        self._closing = asyncio.create_task(self._close(WSCloseCode.GOING_AWAY))

    async def _close(self, code: int) -> None:
        with contextlib.suppress(Exception):
            async with asyncio.timeout(2):
                await self.ws.close(code=code)
        transport = self.request.transport
        if transport is not None and transport.is_closing() and transport.get_write_buffer_size():
            transport.abort()  # the peer does not read: do not keep its unsent bytes

    async def _close_with_error(
        self, code: str, message: str, close_code: int = POLICY_VIOLATION
    ) -> None:
        with contextlib.suppress(Exception):
            async with asyncio.timeout(1):
                await self.ws.send_str(_error(code, message))
        await self._close(close_code)


async def handle_stream(
    request: web.Request, hub: EventHub | None, keys: KeyService
) -> web.StreamResponse:
    if hub is None or not hub.running:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_str(_error("STREAM_UNAVAILABLE", "The event stream is not running"))
        await ws.close(code=TRY_AGAIN_LATER)
        return ws
    return await StreamSession(request, hub, keys).run()
