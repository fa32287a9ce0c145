"""Moonraker transport: JSON-RPC 2.0 over the WebSocket, file uploads over HTTP.

:class:`RpcChannel` pairs each request with its reply by id; notifications (frames without an
id) go to the driver's handler. :func:`upload_gcode` posts a file with its SHA-256.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import aiohttp

from .base import AuthenticationFailed, CommandTimeout, DriverError, PrinterUnreachable

_LOGGER = logging.getLogger(__name__)

CLIENT_NAME = "apf"
CLIENT_VERSION = "0.1"
AUTH_MESSAGES = ("unauthorized", "invalid api key", "forbidden")


class RpcError(DriverError):
    """Moonraker answered a JSON-RPC request with an error object."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"moonraker error {code}: {message}")
        self.rpc_code = code


def raise_for_rpc_error(code: int, message: str) -> None:
    # Moonraker 0.11 reports auth failures on the socket as -32602 "Unauthorized"
    if code in (401, 403) or message.strip().lower() in AUTH_MESSAGES:
        raise AuthenticationFailed(f"moonraker rejected the credentials ({code})")
    if code == 503:
        raise PrinterUnreachable(f"klippy is not ready: {message}")
    raise RpcError(code, message)


class RpcChannel:
    """The requests in flight on the current socket (``ws``; None while disconnected)."""

    def __init__(self, command_timeout: float) -> None:
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self._command_timeout = command_timeout
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[Any]] = {}

    async def call(
        self,
        method: str,
        params: Mapping[str, Any] | None = None,
        *,
        reply_within: float | None = None,
    ) -> Any:
        ws = self.ws
        if ws is None or ws.closed:
            raise PrinterUnreachable("not connected to moonraker")
        request_id = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        message: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "id": request_id}
        if params is not None:
            message["params"] = dict(params)
        try:
            await ws.send_str(json.dumps(message))
            async with asyncio.timeout(reply_within or self._command_timeout):
                return await future
        except TimeoutError as err:
            raise CommandTimeout(f"moonraker did not answer {method} in time") from err
        except (aiohttp.ClientError, ConnectionError) as err:
            raise PrinterUnreachable(f"connection to moonraker lost: {err}") from err
        finally:
            self._pending.pop(request_id, None)

    async def identify(self, api_key: str | None, *, reply_within: float) -> None:
        """``server.connection.identify``; ``api_key`` when the socket was opened without it."""
        client = {
            "client_name": CLIENT_NAME,
            "version": CLIENT_VERSION,
            "type": "agent",
            "url": "https://github.com/autoprintfarm",
        }
        auth = {"api_key": api_key} if api_key else {}
        await self.call("server.connection.identify", client | auth, reply_within=reply_within)

    async def read_loop(
        self,
        ws: aiohttp.ClientWebSocketResponse,
        on_notification: Callable[[Mapping[str, Any]], None],
    ) -> None:
        """Resolve replies, pass notifications to ``on_notification``, until the socket ends."""
        async for message in ws:
            if message.type is not aiohttp.WSMsgType.TEXT:
                if message.type is aiohttp.WSMsgType.ERROR:
                    break
                continue
            try:
                payload = json.loads(message.data)
            except ValueError:
                _LOGGER.debug("moonraker: ignoring malformed frame %.200r", message.data)
                continue
            if isinstance(payload, dict) and not self.resolve(payload):
                on_notification(payload)

    def resolve(self, payload: Mapping[str, Any]) -> bool:
        """Settle the request a reply answers; False when ``payload`` is a notification."""
        request_id = payload.get("id")
        if request_id is None:
            return False
        future = self._pending.pop(request_id, None) if isinstance(request_id, int) else None
        if future is None or future.done():
            return True
        error = payload.get("error")
        if isinstance(error, Mapping):
            try:
                raise_for_rpc_error(int(error.get("code", 500)), str(error.get("message", "")))
            except DriverError as err:
                future.set_exception(err)
        else:
            future.set_result(payload.get("result"))
        return True

    def fail_pending(self, error: DriverError) -> None:
        pending, self._pending = self._pending, {}
        for future in pending.values():
            if not future.done():
                future.set_exception(error)


async def _oneshot_token(
    session: aiohttp.ClientSession, base_url: str, api_key: str, timeout: float
) -> str:
    """A single-use WebSocket token (``GET /access/oneshot_token``), as browsers use."""
    async with session.get(
        f"{base_url}/access/oneshot_token",
        headers={"X-Api-Key": api_key},
        timeout=aiohttp.ClientTimeout(total=timeout),
    ) as response:
        if response.status in (401, 403):
            raise AuthenticationFailed(f"moonraker rejected the credentials ({response.status})")
        response.raise_for_status()
        body = await response.json()
    return str(body["result"])


async def open_socket(
    session: aiohttp.ClientSession,
    base_url: str,
    ws_url: str,
    api_key: str | None,
    *,
    use_oneshot: bool,
    connect_timeout: float,
) -> aiohttp.ClientWebSocketResponse:
    """Open the WebSocket, the key sent as ``X-Api-Key`` or (``use_oneshot``) as ``?token=``."""
    headers = {"X-Api-Key": api_key} if api_key else {}
    params: dict[str, str] = {}
    if use_oneshot and api_key:
        params["token"] = await _oneshot_token(session, base_url, api_key, connect_timeout)
        headers = {}
    try:
        return await session.ws_connect(
            ws_url,
            headers=headers,
            params=params,
            heartbeat=20.0,
            timeout=aiohttp.ClientWSTimeout(ws_close=5.0),
            max_msg_size=0,
        )
    except aiohttp.WSServerHandshakeError as err:
        if err.status in (401, 403):
            raise AuthenticationFailed(
                f"moonraker rejected the credentials ({err.status})"
            ) from err
        raise


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


async def upload_gcode(
    session: aiohttp.ClientSession,
    base_url: str,
    headers: Mapping[str, str],
    path: Path,
    filename: str,
    connect_timeout: float,
) -> None:
    """POST the file to ``/server/files/upload`` with its SHA-256 (Moonraker verifies it)."""
    try:
        checksum = await asyncio.to_thread(_sha256, path)
    except OSError as err:
        raise DriverError(f"cannot read {path.name}: {err.strerror or err}") from err
    form = aiohttp.FormData()
    form.add_field("root", "gcodes")
    form.add_field("checksum", checksum)
    handle = await asyncio.to_thread(path.open, "rb")  # no blocking open in the loop
    try:
        with handle:
            form.add_field(
                "file", handle, filename=filename, content_type="application/octet-stream"
            )
            async with session.post(
                f"{base_url}/server/files/upload",
                data=form,
                headers=dict(headers),
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=connect_timeout),
            ) as response:
                if response.status in (401, 403):
                    raise AuthenticationFailed("moonraker rejected the credentials")
                if response.status >= 400:
                    text = (await response.text())[:200]
                    raise DriverError(f"upload failed with HTTP {response.status}: {text}")
    except aiohttp.ClientError as err:
        raise PrinterUnreachable(f"upload to moonraker failed: {err}") from err
