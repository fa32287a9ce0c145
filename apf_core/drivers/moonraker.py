"""Moonraker / Klipper driver: JSON-RPC 2.0 over a WebSocket, uploads over HTTP.

See printer-protocols.md section 2. The driver subscribes to Klipper's printer
objects, keeps a merged copy of them and derives a :class:`PrinterState` on
every ``notify_status_update``. The socket is re-opened with exponential
backoff until :meth:`MoonrakerDriver.close`.

Connection options:
``url`` (``http://host:7125``), ``api_key`` (optional ``X-Api-Key``),
``oneshot_token`` (True: open the socket with ``?token=`` from ``/access/oneshot_token``),
``light_pin`` (an ``[output_pin]`` name), ``load_macro`` / ``unload_macro``
(default ``LOAD_FILAMENT`` / ``UNLOAD_FILAMENT``), ``command_timeout`` (s),
``connect_timeout`` (s), ``backoff_initial`` / ``backoff_max`` (s).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import json
import logging
import random
from collections.abc import Coroutine, Mapping
from pathlib import Path
from typing import Any

import aiohttp

from ..net.session import guarded_session
from ..net.urls import parse_printer_url
from .base import (
    SPEED_LEVELS,
    AuthenticationFailed,
    Capability,
    CapabilityNotSupported,
    CommandTimeout,
    ConnectionConfig,
    DriverError,
    PowerDevice,
    PrinterDriver,
    PrinterMessage,
    PrinterUnreachable,
    Severity,
    StartOptions,
    Status,
)
from .camera import fetch_snapshot

_LOGGER = logging.getLogger(__name__)

CLIENT_NAME = "apf"
CLIENT_VERSION = "0.1"
CHAMBER_OBJECTS = ("heater_generic chamber", "temperature_sensor chamber")
BASE_OBJECTS = (
    "webhooks",
    "print_stats",
    "virtual_sdcard",
    "display_status",
    "extruder",
    "heater_bed",
    "pause_resume",
    "gcode_move",
)
PRINT_STATS_STATUS = {
    "standby": Status.IDLE,
    "printing": Status.PRINTING,
    "paused": Status.PAUSED,
    "complete": Status.FINISHED,
    "cancelled": Status.CANCELLED,
    "error": Status.ERROR,
}
JOB_STATES = {"printing", "paused", "complete", "cancelled", "error"}
HEATER_NAMES = {"nozzle": "extruder", "bed": "heater_bed", "chamber": "chamber"}


class RpcError(DriverError):
    """Moonraker answered a JSON-RPC request with an error object."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"moonraker error {code}: {message}")
        self.rpc_code = code


AUTH_MESSAGES = ("unauthorized", "invalid api key", "forbidden")


def _raise_for_rpc_error(code: int, message: str) -> None:
    # Moonraker 0.11 reports auth failures on the socket as -32602 "Unauthorized"
    if code in (401, 403) or message.strip().lower() in AUTH_MESSAGES:
        raise AuthenticationFailed(f"moonraker rejected the credentials ({code})")
    if code == 503:
        raise PrinterUnreachable(f"klippy is not ready: {message}")
    raise RpcError(code, message)


def _light_value(light: Mapping[str, Any]) -> float | None:
    """``output_pin`` has ``value``; LEDs have ``color_data`` [[r, g, b, w], ...]."""
    value = _as_float(light.get("value"))
    if value is not None:
        return value
    colors = light.get("color_data")
    if isinstance(colors, list) and colors and isinstance(colors[0], list):
        return max((_as_float(c) or 0.0) for c in colors[0]) if colors[0] else 0.0
    return None


def _as_float(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _as_int(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class MoonrakerDriver(PrinterDriver):
    protocol = "moonraker"
    capabilities = frozenset(
        {
            Capability.SPEED,
            Capability.HEATERS,
            Capability.HOME,
            Capability.GCODE,
            Capability.PAUSE_RESUME,
        }
    )

    def __init__(self, config: ConnectionConfig) -> None:
        super().__init__(config)
        options = config.options
        if not options.get("url"):
            raise ValueError("moonraker connection needs a 'url' such as http://host:7125")
        self._url = parse_printer_url("moonraker", str(options["url"]))
        self._base_url = self._url.base
        self._ws_url = self._url.ws_base + "/websocket"
        self._api_key: str | None = options.get("api_key") or None
        self._use_oneshot = bool(options.get("oneshot_token", False))
        self._light_pin: str | None = options.get("light_pin") or None
        #: ``light_pin`` names an ``[output_pin]``, or any object: ``led x``, ``neopixel x``
        pin = self._light_pin or ""
        self._light_object = pin if " " in pin else f"output_pin {pin}"
        self._power_names: list[str] = []
        self._webcams: list[Mapping[str, Any]] = []
        self._cleared: tuple[Any, ...] | None = None
        self._load_macro = str(options.get("load_macro") or "LOAD_FILAMENT")
        self._unload_macro = str(options.get("unload_macro") or "UNLOAD_FILAMENT")
        self._command_timeout = float(options.get("command_timeout", 30.0))
        self._connect_timeout = float(options.get("connect_timeout", 30.0))
        self._backoff_initial = float(options.get("backoff_initial", 1.0))
        self._backoff_max = float(options.get("backoff_max", 30.0))
        if self._light_pin:
            self.capabilities = self.capabilities | {Capability.LIGHT}

        self._session: aiohttp.ClientSession | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._runner: asyncio.Task[None] | None = None
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._objects: dict[str, dict[str, Any]] = {}
        self._available: set[str] = set()
        self._klippy_ready = asyncio.Event()
        self._first_attempt = asyncio.Event()
        self._first_error: BaseException | None = None
        self._subscribe_task: asyncio.Task[None] | None = None
        self._closing = False
        self._estimated_time: dict[str, float | None] = {}
        self._background: set[asyncio.Task[None]] = set()
        self.connections = 0  # how many times the socket was opened (for diagnostics)

    # --- lifecycle ---------------------------------------------------------
    async def connect(self) -> None:
        """Open the socket; raises :class:`AuthenticationFailed` if the key is rejected.

        An unreachable printer does not raise: the state stays ``offline`` and
        the driver keeps retrying in the background.
        """
        if self._runner is not None:
            return
        self._closing = False
        self._first_attempt.clear()
        self._first_error = None
        self._session = guarded_session(
            timeout=aiohttp.ClientTimeout(total=None, connect=self._connect_timeout),
            auth=self._url.auth,
        )
        self._runner = asyncio.create_task(self._run(), name=f"moonraker {self._base_url}")
        with contextlib.suppress(TimeoutError):  # slow printers keep connecting in background
            async with asyncio.timeout(self._connect_timeout * 2):
                await self._first_attempt.wait()
        if isinstance(self._first_error, AuthenticationFailed):
            error = self._first_error
            await self.close()
            raise error

    async def close(self) -> None:
        self._closing = True
        runner, self._runner = self._runner, None
        if runner is not None:
            runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await runner
        if self._ws is not None:
            await self._ws.close()
            self._ws = None
        if self._session is not None:
            await self._session.close()
            self._session = None
        for task in tuple(self._background):
            task.cancel()
        self._fail_pending(PrinterUnreachable("driver closed"))
        self._update(status=Status.OFFLINE)

    def _auth_headers(self) -> dict[str, str]:
        return {"X-Api-Key": self._api_key} if self._api_key else {}

    async def _run(self) -> None:
        failures = 0
        while not self._closing:
            try:
                await self._session_once()
                failures = 0
            except asyncio.CancelledError:
                raise
            except AuthenticationFailed as err:
                self._first_error = err
                _LOGGER.warning("moonraker %s: %s", self._base_url, err)
            except (aiohttp.ClientError, OSError, TimeoutError, DriverError) as err:
                _LOGGER.debug("moonraker %s connection failed: %r", self._base_url, err)
            finally:
                self._first_attempt.set()
                self._on_disconnected()
            if isinstance(self._first_error, AuthenticationFailed):
                self._update(error=str(self._first_error))  # stop retrying with a bad key
                return
            if self._closing:
                return
            delay = min(self._backoff_max, self._backoff_initial * 2**failures)
            failures += 1
            await asyncio.sleep(delay * random.uniform(0.8, 1.0))

    async def _oneshot_token(self) -> str:
        """A single-use WebSocket token (``GET /access/oneshot_token``), as browsers use."""
        assert self._session is not None
        async with self._session.get(
            f"{self._base_url}/access/oneshot_token",
            headers=self._auth_headers(),
            timeout=aiohttp.ClientTimeout(total=self._connect_timeout),
        ) as response:
            if response.status in (401, 403):
                raise AuthenticationFailed(
                    f"moonraker rejected the credentials ({response.status})"
                )
            response.raise_for_status()
            body = await response.json()
        return str(body["result"])

    async def _session_once(self) -> None:
        assert self._session is not None
        headers = self._auth_headers()
        params: dict[str, str] = {}
        if self._use_oneshot and self._api_key:
            params["token"] = await self._oneshot_token()
            headers = {}
        try:
            ws = await self._session.ws_connect(
                self._ws_url,
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
        self._ws = ws
        self.connections += 1
        reader = asyncio.create_task(self._read_loop(ws))
        try:
            await self._call(
                "server.connection.identify",
                {
                    "client_name": CLIENT_NAME,
                    "version": CLIENT_VERSION,
                    "type": "agent",
                    "url": "https://github.com/autoprintfarm",
                }
                | ({"api_key": self._api_key} if headers else {}),
                reply_within=self._connect_timeout,
            )
            info = await self._call("server.info", reply_within=self._connect_timeout)
            klippy_state = info.get("klippy_state") if isinstance(info, Mapping) else None
            if klippy_state == "ready":
                await self._subscribe()
            elif klippy_state == "shutdown":
                self._update(status=Status.ERROR, error=f"klippy {klippy_state}")
            else:  # "error" (an unpowered or unplugged MCU) or "startup": not ready, not failed
                self._go_offline(f"Klipper is not ready ({klippy_state})", keep=True)
            self._first_attempt.set()
            if klippy_state not in ("ready", "shutdown"):
                message = await self._klippy_message(klippy_state)
                if not self._klippy_ready.is_set():  # it may have become ready meanwhile
                    self._go_offline(message, keep=True)
            await self._probe_extras()
            await reader
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
            self._ws = None
            if not ws.closed:
                await ws.close()

    async def _klippy_message(self, klippy_state: Any) -> str:
        with contextlib.suppress(DriverError):
            info = await self._call("printer.info", reply_within=min(3.0, self._connect_timeout))
            if isinstance(info, Mapping) and info.get("state_message"):
                return f"Klipper is not ready: {str(info['state_message']).strip()}"
        return f"Klipper is not ready ({klippy_state})"

    async def _probe_extras(self) -> None:
        """Moonraker ``[power]`` devices and webcams, when configured."""
        self._power_names = []
        with contextlib.suppress(DriverError):
            found = await self._call("machine.device_power.devices", reply_within=5.0)
            devices = found.get("devices") if isinstance(found, Mapping) else None
            self._power_names = [str(d["device"]) for d in devices or () if "device" in d]
        self._webcams = []
        with contextlib.suppress(DriverError):
            found = await self._call("server.webcams.list", reply_within=5.0)
            cams = found.get("webcams") if isinstance(found, Mapping) else None
            self._webcams = [c for c in cams or () if isinstance(c, Mapping)]
        self._refresh_capabilities()

    async def _read_loop(self, ws: aiohttp.ClientWebSocketResponse) -> None:
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
            if isinstance(payload, dict):
                self._dispatch(payload)

    def _dispatch(self, payload: Mapping[str, Any]) -> None:
        request_id = payload.get("id")
        if request_id is not None:
            future = self._pending.pop(request_id, None) if isinstance(request_id, int) else None
            if future is None or future.done():
                return
            error = payload.get("error")
            if isinstance(error, Mapping):
                try:
                    _raise_for_rpc_error(int(error.get("code", 500)), str(error.get("message", "")))
                except DriverError as err:
                    future.set_exception(err)
            else:
                future.set_result(payload.get("result"))
            return
        method = payload.get("method")
        params = payload.get("params") or []
        if method == "notify_status_update" and params and isinstance(params[0], Mapping):
            self._merge(params[0])
        elif method == "notify_klippy_ready":
            self._schedule_subscribe()
        elif method in ("notify_klippy_disconnected", "notify_klippy_shutdown"):
            self._klippy_ready.clear()
            if method == "notify_klippy_disconnected":
                self._objects.clear()
                self._update(status=Status.OFFLINE)
            else:
                self._objects.setdefault("webhooks", {})["state"] = "shutdown"
                self._recompute()

    def _schedule_subscribe(self) -> None:
        if self._subscribe_task is not None and not self._subscribe_task.done():
            return

        async def subscribe() -> None:
            try:
                await self._subscribe()
            except (DriverError, aiohttp.ClientError) as err:
                _LOGGER.debug("moonraker resubscribe failed: %r", err)

        self._subscribe_task = self._spawn(subscribe())

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    def _on_disconnected(self) -> None:
        self._klippy_ready.clear()
        self._objects.clear()
        self._fail_pending(PrinterUnreachable("connection to moonraker lost"))
        self._update(status=Status.OFFLINE)

    def _fail_pending(self, error: DriverError) -> None:
        pending, self._pending = self._pending, {}
        for future in pending.values():
            if not future.done():
                future.set_exception(error)

    # --- subscription and state -----------------------------------------------
    async def _subscribe(self) -> None:
        listed = await self._call("printer.objects.list", reply_within=self._connect_timeout)
        self._available = set(listed.get("objects", ())) if isinstance(listed, Mapping) else set()
        wanted: dict[str, None] = dict.fromkeys(BASE_OBJECTS)
        wanted.update(dict.fromkeys(name for name in CHAMBER_OBJECTS if name in self._available))
        if self._light_pin:
            wanted[self._light_object] = None
        result = await self._call(
            "printer.objects.subscribe", {"objects": wanted}, reply_within=self._connect_timeout
        )
        self._objects.clear()
        status = result.get("status", {}) if isinstance(result, Mapping) else {}
        self._klippy_ready.set()
        self._refresh_capabilities()
        self._merge(status)

    def _refresh_capabilities(self) -> None:
        capabilities = set(type(self).capabilities)
        if self._light_pin:
            capabilities.add(Capability.LIGHT)
        if self._power_names:
            capabilities.add(Capability.POWER)
        if any(c.get("enabled", True) and c.get("snapshot_url") for c in self._webcams):
            capabilities.add(Capability.CAMERA)
        if "heater_generic chamber" in self._available:
            capabilities.add(Capability.CHAMBER_TEMP)
        if self._has_macro(self._load_macro) and self._has_macro(self._unload_macro):
            capabilities.add(Capability.FILAMENT_LOAD)
        self.capabilities = frozenset(capabilities)

    def _merge(self, changes: Mapping[str, Any]) -> None:
        for name, fields in changes.items():
            if isinstance(fields, Mapping):
                target = self._objects.setdefault(name, {})
                for key, value in fields.items():
                    if isinstance(value, Mapping) and isinstance(target.get(key), dict):
                        target[key].update(value)
                    else:
                        target[key] = dict(value) if isinstance(value, Mapping) else value
        self._recompute()

    def _recompute(self) -> None:
        webhooks = self._objects.get("webhooks", {})
        stats = self._objects.get("print_stats", {})
        klippy_state = webhooks.get("state", "ready" if self._klippy_ready.is_set() else None)
        error: str | None = None
        if klippy_state == "ready":
            raw = str(stats.get("state", "standby"))
            status = PRINT_STATS_STATUS.get(raw, Status.IDLE)
            if status is Status.ERROR:
                error = str(stats.get("message") or "print error")
        elif klippy_state == "shutdown":
            status = Status.ERROR
            raw = ""
            error = str(webhooks.get("state_message") or f"klippy {klippy_state}").strip()
        else:  # "error" (MCU unpowered/unplugged) or "startup"
            status = Status.OFFLINE
            raw = ""
            message = str(webhooks.get("state_message") or "").strip()
            error = f"Klipper is not ready: {message}" if message else None
        if raw in ("complete", "cancelled", "error"):
            key = (raw, stats.get("filename"))
            if self._cleared == key:  # the operator cleared the bed: the result is done with
                status, error, raw = Status.IDLE, None, "standby"
        else:
            self._cleared = None

        extruder = self._objects.get("extruder", {})
        bed = self._objects.get("heater_bed", {})
        chamber = next((self._objects[n] for n in CHAMBER_OBJECTS if n in self._objects), {})
        light = self._objects.get(self._light_object, {}) if self._light_pin else {}
        light_value = _light_value(light)
        speed = _as_float(self._objects.get("gcode_move", {}).get("speed_factor"))

        in_job = raw in JOB_STATES
        filename = str(stats.get("filename") or "") or None
        progress = self._progress() if in_job else None
        raw_info = stats.get("info")
        info: Mapping[str, Any] = raw_info if isinstance(raw_info, Mapping) else {}
        self._update(
            status=status,
            error=error,
            offline_reason=error if status is Status.OFFLINE else None,
            messages=(PrinterMessage("KLIPPER", Severity.SERIOUS, error),) if error else (),
            speed_percent=round(speed * 100) if speed is not None else None,
            nozzle_temp=_as_float(extruder.get("temperature")),
            nozzle_target=_as_float(extruder.get("target")),
            bed_temp=_as_float(bed.get("temperature")),
            bed_target=_as_float(bed.get("target")),
            chamber_temp=_as_float(chamber.get("temperature")),
            light_on=None if light_value is None else light_value > 0,
            current_file=filename if in_job else None,
            progress=progress,
            layer_num=_as_int(info.get("current_layer")) if in_job else None,
            total_layers=_as_int(info.get("total_layer")) if in_job else None,
            remaining_time_minutes=self._remaining_minutes(filename, progress) if in_job else None,
        )
        if in_job and filename and filename not in self._estimated_time:
            self._estimated_time[filename] = None
            self._spawn(self._fetch_estimate(filename))

    def _progress(self) -> float | None:
        display = _as_float(self._objects.get("display_status", {}).get("progress"))
        sdcard = _as_float(self._objects.get("virtual_sdcard", {}).get("progress"))
        if self._objects.get("print_stats", {}).get("state") == "complete":
            return 100.0
        value = display if display else sdcard
        return None if value is None else round(min(max(value, 0.0), 1.0) * 100.0, 2)

    def _remaining_minutes(self, filename: str | None, progress: float | None) -> int | None:
        stats = self._objects.get("print_stats", {})
        if stats.get("state") == "complete":
            return 0
        duration = _as_float(stats.get("print_duration")) or 0.0
        estimate = self._estimated_time.get(filename) if filename else None
        if estimate:
            return max(0, round((estimate - duration) / 60))
        if progress and duration > 0:
            return max(0, round((duration / (progress / 100.0) - duration) / 60))
        return None

    async def _fetch_estimate(self, filename: str) -> None:
        try:
            metadata = await self._call("server.files.metadata", {"filename": filename})
        except DriverError:
            return
        if isinstance(metadata, Mapping):
            self._estimated_time[filename] = _as_float(metadata.get("estimated_time"))
            self._recompute()

    # --- JSON-RPC -----------------------------------------------------------------
    async def _call(
        self,
        method: str,
        params: Mapping[str, Any] | None = None,
        *,
        reply_within: float | None = None,
    ) -> Any:
        ws = self._ws
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

    async def _ready_call(self, method: str, params: Mapping[str, Any] | None = None) -> Any:
        if self._ws is None:
            raise PrinterUnreachable("not connected to moonraker")
        if not self._klippy_ready.is_set():
            raise PrinterUnreachable("klippy is not ready")
        return await self._call(method, params)

    # --- job control -----------------------------------------------------------
    async def start_print(
        self, path: Path, filename: str, options: StartOptions | None = None
    ) -> None:
        if not self._klippy_ready.is_set():
            raise PrinterUnreachable("klippy is not ready")
        await self.upload(path, filename)
        await self.start_file(filename)

    async def start_file(self, filename: str) -> None:
        """Start a file that is already in Moonraker's ``gcodes`` root."""
        await self._ready_call("printer.print.start", {"filename": filename})

    async def upload(self, path: Path, filename: str) -> None:
        """POST the file to ``/server/files/upload`` with its SHA-256 (Moonraker verifies it)."""
        if self._session is None:
            raise PrinterUnreachable("driver is not connected")
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
                async with self._session.post(
                    f"{self._base_url}/server/files/upload",
                    data=form,
                    headers=self._auth_headers(),
                    timeout=aiohttp.ClientTimeout(total=None, sock_connect=self._connect_timeout),
                ) as response:
                    if response.status in (401, 403):
                        raise AuthenticationFailed("moonraker rejected the credentials")
                    if response.status >= 400:
                        text = (await response.text())[:200]
                        raise DriverError(f"upload failed with HTTP {response.status}: {text}")
        except aiohttp.ClientError as err:
            raise PrinterUnreachable(f"upload to moonraker failed: {err}") from err
        self._estimated_time.pop(filename, None)

    async def pause(self) -> None:
        await self._ready_call("printer.print.pause")

    async def resume(self) -> None:
        await self._ready_call("printer.print.resume")

    async def stop(self) -> None:
        await self._ready_call("printer.print.cancel")

    # --- hardware ---------------------------------------------------------------
    async def send_gcode(self, script: str) -> None:
        await self._ready_call("printer.gcode.script", {"script": script})

    async def set_temperature(self, heater: str, target: float) -> None:
        klipper_heater = HEATER_NAMES.get(heater)
        if klipper_heater is None:
            raise DriverError(f"unknown heater: {heater}")
        if heater == "chamber" and "heater_generic chamber" not in self._available:
            raise CapabilityNotSupported(Capability.CHAMBER_TEMP)
        if target < 0:
            raise DriverError("target temperature must not be negative")
        await self.send_gcode(f"SET_HEATER_TEMPERATURE HEATER={klipper_heater} TARGET={target:g}")

    async def home(self) -> None:
        await self.send_gcode("G28")

    async def set_light(self, on: bool) -> None:
        if not self._light_pin:
            raise CapabilityNotSupported(Capability.LIGHT)
        kind, _, name = self._light_object.partition(" ")
        if kind == "output_pin":
            await self.send_gcode(f"SET_PIN PIN={name} VALUE={1 if on else 0}")
        else:  # led, neopixel, dotstar, pca9533...: white on or all off
            value = 1 if on else 0
            await self.send_gcode(
                f"SET_LED LED={name} RED={value} GREEN={value} BLUE={value} WHITE={value}"
            )

    def clear_result(self) -> None:
        """``print_stats`` keeps complete/cancelled/error until the next file is loaded."""
        stats = self._objects.get("print_stats", {})
        raw = str(stats.get("state", ""))
        if raw in ("complete", "cancelled", "error"):
            self._cleared = (raw, stats.get("filename"))
            self._recompute()

    async def set_speed(self, level: str) -> None:
        if level not in SPEED_LEVELS:
            raise DriverError(f"unknown speed level: {level} (use {', '.join(SPEED_LEVELS)})")
        await self.send_gcode(f"M220 S{SPEED_LEVELS[level]}")

    async def power_devices(self) -> list[PowerDevice]:
        self.require(Capability.POWER)
        found = await self._call("machine.device_power.devices", reply_within=5.0)
        devices = found.get("devices") if isinstance(found, Mapping) else None
        return [
            PowerDevice(
                name=str(d.get("device")),
                on={"on": True, "off": False}.get(str(d.get("status"))),
                locked_while_printing=bool(d.get("locked_while_printing")),
            )
            for d in devices or ()
            if isinstance(d, Mapping)
        ]

    async def set_power(self, device: str, on: bool) -> None:
        self.require(Capability.POWER)
        if device not in self._power_names:
            raise DriverError(f"no power device named {device!r}", code="INVALID_DEVICE")
        await self._call(
            "machine.device_power.post_device",
            {"device": device, "action": "on" if on else "off"},
            reply_within=10.0,
        )

    async def snapshot(self) -> bytes:
        cams = [c for c in self._webcams if c.get("enabled", True) and c.get("snapshot_url")]
        if not cams:
            raise CapabilityNotSupported(Capability.CAMERA, "Moonraker lists no webcam")
        return await fetch_snapshot(self._base_url, str(cams[0]["snapshot_url"]))

    async def load_filament(self, tray_id: int, temperature: float) -> None:
        self._require_macro(self._load_macro)
        await self.send_gcode(f"{self._load_macro} TEMP={temperature:g}")

    async def unload_filament(self) -> None:
        self._require_macro(self._unload_macro)
        await self.send_gcode(self._unload_macro)

    def _has_macro(self, macro: str) -> bool:
        return f"gcode_macro {macro}" in self._available or (
            f"gcode_macro {macro.lower()}" in self._available
        )

    def _require_macro(self, macro: str) -> None:
        if not self._has_macro(macro):
            raise CapabilityNotSupported(Capability.FILAMENT_LOAD)

    @property
    def available_objects(self) -> frozenset[str]:
        """Klipper objects seen at the last subscription (``printer.objects.list``)."""
        return frozenset(self._available)


DRIVER = MoonrakerDriver
