"""The async client for the AutoPrintFarm public API (v1).

The caller owns the :class:`aiohttp.ClientSession` (Home Assistant injects its
shared one); the client never closes it.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from datetime import datetime
from typing import Any, Literal

import aiohttp
from yarl import URL

from .exceptions import (
    APFAuthenticationError,
    APFConnectionError,
    APFError,
    APFEventStreamUnavailable,
    APFInsufficientScopeError,
    APFNotFoundError,
    APFRateLimitError,
    APFResponseError,
)
from .models import (
    CommandResult,
    FarmEvent,
    Filament,
    Hub,
    InventoryItem,
    Job,
    JobStats,
    Order,
    Printer,
    PrinterStatus,
    ServerInfo,
    StockAdjustment,
)

API_PREFIX = "/public/v1"
type ControlAction = Literal["pause", "resume", "stop", "clear_bed", "home", "cooldown"]
type ClearBedResult = Literal["success", "failed"]
type Heater = Literal["nozzle", "bed", "chamber"]
#: print-speed levels, slowest first (Bambu's four; M220 percentages on Klipper and OctoPrint)
SPEED_LEVELS = ("silent", "standard", "sport", "ludicrous")
STOCK_REASONS = ("manual", "inventory_count", "correction", "damaged", "returned")


def error_from_response(status: int, body: Any, headers: Mapping[str, str]) -> APFError:
    """Build the typed error for a failed response (flat or nested envelope)."""
    code: str | None = None
    message = f"HTTP {status}"
    if isinstance(body, Mapping):
        err = body.get("error")
        if isinstance(err, Mapping):  # nested {"error": {"code", "message"}}
            code = str(err["code"]) if err.get("code") else None
            message = str(err.get("message") or message)
        else:
            code = str(body["code"]) if body.get("code") else None
            message = str(err or body.get("message") or message)
    if status == 401:
        return APFAuthenticationError(message, code=code or "UNAUTHORIZED", status=status)
    if status == 403:
        return APFInsufficientScopeError(message, code=code or "INSUFFICIENT_SCOPE", status=status)
    if status == 404:
        return APFNotFoundError(message, code=code or "NOT_FOUND", status=status)
    if status == 429:
        retry: float | None = None
        try:
            retry = float(headers.get("Retry-After", ""))
        except ValueError:
            retry = None
        return APFRateLimitError(message, code=code or "RATE_LIMITED", retry_after=retry)
    return APFError(message, code=code, status=status)


class ApfClient:
    """Typed access to one AutoPrintFarm-compatible server."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        api_key: str,
        *,
        request_timeout: float = 10.0,
    ) -> None:
        self._session = session
        self._base = URL(base_url.rstrip("/"))
        self._api_key = api_key
        self.request_timeout = request_timeout

    @property
    def base_url(self) -> str:
        return str(self._base)

    def _url(self, path: str) -> URL:
        base_path = self._base.path.rstrip("/")
        return self._base.with_path(f"{base_path}{API_PREFIX}{path}")

    def _check_session(self) -> None:
        if self._session.closed:  # aiohttp would raise a bare RuntimeError
            raise APFConnectionError("the HTTP session is closed")

    @property
    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._api_key}", "Accept": "application/json"}

    # --- transport ------------------------------------------------------
    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> Any:
        """Send one request and return the envelope's ``data``."""
        self._check_session()
        try:
            async with asyncio.timeout(self.request_timeout):
                async with self._session.request(
                    method, self._url(path), params=params, json=body, headers=self._headers
                ) as resp:
                    text = await resp.text()
                    status, headers = resp.status, resp.headers
        except TimeoutError as err:
            raise APFConnectionError(f"timeout talking to {self._base}") from err
        except (aiohttp.ClientError, socket.gaierror, OSError) as err:
            raise APFConnectionError(f"cannot reach {self._base}: {err}") from err
        try:
            payload = json.loads(text) if text else None
        except ValueError:
            payload = None
        if status >= 400:
            raise error_from_response(status, payload, headers)
        if not isinstance(payload, Mapping) or payload.get("success") is not True:
            raise APFResponseError(f"unexpected response to {method} {path}", status=status)
        return payload.get("data")

    async def _get_object(self, path: str, **kw: Any) -> Mapping[str, Any]:
        data = await self._request("GET", path, **kw)
        if not isinstance(data, Mapping):
            raise APFResponseError(f"expected an object from {path}")
        return data

    async def _get_list(self, path: str, **kw: Any) -> list[Mapping[str, Any]]:
        data = await self._request("GET", path, **kw)
        if not isinstance(data, list):
            raise APFResponseError(f"expected a list from {path}")
        return [item for item in data if isinstance(item, Mapping)]

    async def _post_object(
        self, path: str, body: Mapping[str, Any] | None = None, method: str = "POST"
    ) -> Mapping[str, Any]:
        data = await self._request(method, path, body=body if body is not None else {})
        if not isinstance(data, Mapping):
            raise APFResponseError(f"expected an object from {path}")
        return data

    # --- server ---------------------------------------------------------
    async def server_info(self) -> ServerInfo:
        """The server's identity (stable ``server_id``)."""
        return ServerInfo.from_dict(await self._get_object("/server"))

    async def hubs(self) -> list[Hub]:
        return [Hub.from_dict(h) for h in await self._get_list("/hubs")]

    # --- printers -------------------------------------------------------
    async def printers(self) -> list[Printer]:
        return [Printer.from_dict(p) for p in await self._get_list("/printers")]

    async def printer(self, printer_id: str) -> Printer:
        return Printer.from_dict(await self._get_object(f"/printers/{printer_id}"))

    async def printer_status(self, printer_id: str) -> PrinterStatus:
        return PrinterStatus.from_dict(await self._get_object(f"/printers/{printer_id}/status"))

    async def control(
        self, printer_id: str, action: ControlAction, *, result: ClearBedResult | None = None
    ) -> CommandResult:
        """``POST /printers/{id}/control``; ``result`` only for ``clear_bed``."""
        body: dict[str, Any] = {"action": action}
        if result is not None:
            if action != "clear_bed":
                raise ValueError("result is only valid with clear_bed")
            body["result"] = result
        return CommandResult.from_dict(
            await self._post_object(f"/printers/{printer_id}/control", body)
        )

    async def pause(self, printer_id: str) -> CommandResult:
        return await self.control(printer_id, "pause")

    async def resume(self, printer_id: str) -> CommandResult:
        return await self.control(printer_id, "resume")

    async def stop(self, printer_id: str) -> CommandResult:
        return await self.control(printer_id, "stop")

    async def clear_bed(self, printer_id: str, result: ClearBedResult = "success") -> CommandResult:
        """Confirm the bed is clear; ``failed`` marks the print failed and re-queues it."""
        return await self.control(printer_id, "clear_bed", result=result)

    async def home(self, printer_id: str) -> CommandResult:
        """Home all axes (refused while printing: ``PRINTER_PRINTING``)."""
        return await self.control(printer_id, "home")

    async def cooldown(self, printer_id: str) -> CommandResult:
        """Switch every heater off."""
        return await self.control(printer_id, "cooldown")

    async def _command(self, printer_id: str, path: str, body: Mapping[str, Any]) -> CommandResult:
        data = await self._post_object(f"/printers/{printer_id}/{path}", body)
        return CommandResult.from_dict({"printer_id": printer_id, **data})

    async def send_gcode(self, printer_id: str, script: str) -> CommandResult:
        """Run G-code lines (newline separated); refused while printing."""
        return await self._command(printer_id, "gcode", {"script": script})

    async def set_speed(self, printer_id: str, level: str) -> CommandResult:
        """Print speed by level, one of :data:`SPEED_LEVELS`."""
        if level not in SPEED_LEVELS:
            raise ValueError(f"level must be one of {', '.join(SPEED_LEVELS)}")
        return await self._command(printer_id, "speed", {"level": level})

    async def set_power(self, printer_id: str, device: str, on: bool) -> CommandResult:
        """Switch a Moonraker ``[power]`` device; refused while printing."""
        return await self._command(printer_id, "power", {"device": device, "on": on})

    async def camera_snapshot(self, printer_id: str, *, timeout: float | None = None) -> bytes:
        """One JPEG from the printer's camera (``CAPABILITY_NOT_SUPPORTED`` without one)."""
        image = await self._get_bytes(
            f"/printers/{printer_id}/camera/snapshot", timeout=timeout, missing_ok=False
        )
        assert image is not None
        return image

    async def set_light(self, printer_id: str, on: bool) -> CommandResult:
        data = await self._post_object(f"/printers/{printer_id}/light", {"state": on})
        return CommandResult.from_dict(data)

    async def set_temperature(
        self, printer_id: str, heater: Heater, target: float
    ) -> CommandResult:
        data = await self._post_object(
            f"/printers/{printer_id}/temperature", {"heater": heater, "target": target}
        )
        return CommandResult.from_dict({"printer_id": printer_id, **data})

    async def set_maintenance(
        self, printer_id: str, in_maintenance: bool, maintenance_type: str | None = None
    ) -> Printer:
        body: dict[str, Any] = {"in_maintenance": in_maintenance}
        if maintenance_type:
            body["maintenance_type"] = maintenance_type
        data = await self._post_object(f"/printers/{printer_id}/maintenance", body, method="PUT")
        return Printer.from_dict(data)

    # --- jobs -------------------------------------------------------------
    async def jobs(
        self, *, status: str | None = None, limit: int = 50, offset: int = 0
    ) -> list[Job]:
        params: dict[str, str | int] = {"limit": limit, "offset": offset}
        if status:
            params["status"] = status
        return [Job.from_dict(j) for j in await self._get_list("/jobs", params=params)]

    async def jobs_history(self, *, since: datetime | None = None, limit: int = 100) -> list[Job]:
        """Finished jobs (completed, failed, cancelled), newest first."""
        params: dict[str, str | int] = {"limit": limit}
        if since is not None:
            params["from"] = since.isoformat()
        return [Job.from_dict(j) for j in await self._get_list("/jobs/history", params=params)]

    async def job(self, job_id: str) -> Job:
        return Job.from_dict(await self._get_object(f"/jobs/{job_id}"))

    async def job_stats(self) -> JobStats:
        return JobStats.from_dict(await self._get_object("/jobs/stats"))

    async def enqueue_job(
        self,
        print_file_id: str,
        *,
        printer_id: str | None = None,
        product_sku_id: str | None = None,
        number_of_units: int = 1,
        color: str | None = None,
        filament_type: str | None = None,
    ) -> Job:
        """Queue a job; ``printer_id=None`` leaves the choice to the dispatcher."""
        body: dict[str, Any] = {"print_file_id": print_file_id, "number_of_units": number_of_units}
        optional = {
            "printer_id": printer_id,
            "product_sku_id": product_sku_id,
            "color": color,
            "filament_type": filament_type,
        }
        body.update({k: v for k, v in optional.items() if v is not None})
        return Job.from_dict(await self._post_object("/jobs", body))

    async def _job_action(self, job_id: str, action: str) -> Job:
        return Job.from_dict(await self._post_object(f"/jobs/{job_id}/{action}"))

    async def start_job(self, job_id: str) -> Job:
        return await self._job_action(job_id, "start")

    async def pause_job(self, job_id: str) -> Job:
        return await self._job_action(job_id, "pause")

    async def resume_job(self, job_id: str) -> Job:
        return await self._job_action(job_id, "resume")

    async def cancel_job(self, job_id: str) -> Job:
        return await self._job_action(job_id, "cancel")

    async def retry_job(self, job_id: str) -> Job:
        return await self._job_action(job_id, "retry")

    # --- files --------------------------------------------------------------
    async def file_thumbnail(self, file_id: str) -> bytes | None:
        """The file's thumbnail image bytes, or ``None`` when it has none."""
        return await self._get_bytes(f"/files/{file_id}/thumbnail", missing_ok=True)

    async def _get_bytes(
        self, path: str, *, missing_ok: bool, timeout: float | None = None
    ) -> bytes | None:
        """A binary resource; ``None`` for a 404 when ``missing_ok``, else the typed error."""
        self._check_session()
        try:
            async with asyncio.timeout(timeout or self.request_timeout):
                async with self._session.get(self._url(path), headers=self._headers) as resp:
                    if resp.status == 404 and missing_ok:
                        return None
                    if resp.status >= 400:
                        try:
                            body = await resp.json(content_type=None)
                        except ValueError:
                            body = None
                        raise error_from_response(resp.status, body, resp.headers)
                    return await resp.read()
        except TimeoutError as err:
            raise APFConnectionError(f"timeout talking to {self._base}") from err
        except aiohttp.ClientError as err:
            raise APFConnectionError(f"cannot reach {self._base}: {err}") from err

    # --- stock ---------------------------------------------------------------
    async def inventory(self, *, low_stock: bool | None = None) -> list[InventoryItem]:
        params = {} if low_stock is None else {"low_stock": "true" if low_stock else "false"}
        return [
            InventoryItem.from_dict(i) for i in await self._get_list("/inventory", params=params)
        ]

    async def adjust_inventory(
        self, item_id: str, adjustment: int, *, reason: str = "manual", notes: str | None = None
    ) -> StockAdjustment:
        if reason not in STOCK_REASONS:
            raise ValueError(f"reason must be one of {', '.join(STOCK_REASONS)}")
        body: dict[str, Any] = {"adjustment": adjustment, "reason": reason}
        if notes:
            body["notes"] = notes
        data = await self._post_object(f"/inventory/{item_id}/adjust", body)
        return StockAdjustment.from_dict(data)

    async def filaments(self, *, low_stock: bool | None = None) -> list[Filament]:
        params = {} if low_stock is None else {"low_stock": "true" if low_stock else "false"}
        return [
            Filament.from_dict(f)
            for f in await self._get_list("/materials/filament", params=params)
        ]

    async def fulfill_order(
        self, order_id: str, *, tracking_number: str | None = None, tracking_url: str | None = None
    ) -> Order:
        body = {
            k: v
            for k, v in {"tracking_number": tracking_number, "tracking_url": tracking_url}.items()
            if v
        }
        return Order.from_dict(await self._post_object(f"/orders/{order_id}/fulfill", body))

    # --- events ---------------------------------------------------------------
    async def events(
        self,
        types: Iterable[str] | None = None,
        last_event_id: int | None = None,
        *,
        heartbeat: float = 30.0,
        on_connect: Callable[[int | None], None] | None = None,
    ) -> AsyncIterator[FarmEvent]:
        """Yield events from ``/events/ws`` until the stream ends.

        Raises :class:`APFEventStreamUnavailable` when the server has no stream,
        the auth errors on a rejected key, :class:`APFError` on an ``error``
        frame and :class:`APFConnectionError` when the connection drops.
        Reconnecting (with the last seen id) is the caller's job. ``on_connect``
        is called with the server's ``last_event_id`` when the welcome arrives.
        """
        params: dict[str, str] = {}
        if types:
            params["types"] = ",".join(types)
        if last_event_id is not None:
            params["last_event_id"] = str(last_event_id)
        url = self._url("/events/ws").with_query(params)
        self._check_session()
        try:
            async with asyncio.timeout(self.request_timeout):
                ws = await self._session.ws_connect(url, headers=self._headers, heartbeat=heartbeat)
        except aiohttp.WSServerHandshakeError as err:
            if err.status == 404:
                raise APFEventStreamUnavailable("server has no event stream", status=404) from err
            raise error_from_response(err.status, None, err.headers or {}) from err
        except TimeoutError as err:
            raise APFConnectionError("timeout opening the event stream") from err
        except (aiohttp.ClientError, OSError) as err:
            raise APFConnectionError(f"cannot open the event stream: {err}") from err
        try:
            async for frame in _frames(ws):
                kind = frame.get("kind")
                if kind == "event":
                    yield FarmEvent.from_dict(frame)
                elif kind == "error":
                    code = str(frame.get("code") or "STREAM_ERROR")
                    message = str(frame.get("error") or code)
                    if code in ("UNAUTHORIZED", "TOKEN_INVALID", "TOKEN_REVOKED", "TOKEN_EXPIRED"):
                        raise APFAuthenticationError(message, code=code)
                    if code == "INSUFFICIENT_SCOPE":
                        raise APFInsufficientScopeError(message, code=code)
                    raise APFError(message, code=code)
                elif kind == "welcome" and on_connect is not None:
                    last = frame.get("last_event_id")
                    on_connect(last if isinstance(last, int) else None)
                # pong and unknown kinds need no action
            raise APFConnectionError("event stream closed")
        finally:
            await ws.close()


async def _frames(ws: aiohttp.ClientWebSocketResponse) -> AsyncIterator[Mapping[str, Any]]:
    """JSON objects from text frames; stops when the socket closes."""
    async for msg in ws:
        if msg.type is aiohttp.WSMsgType.TEXT:
            try:
                frame = json.loads(msg.data)
            except ValueError as err:
                raise APFResponseError("malformed event frame") from err
            if isinstance(frame, Mapping):
                yield frame
        elif msg.type is aiohttp.WSMsgType.ERROR:
            raise APFConnectionError(f"event stream error: {ws.exception()}")
