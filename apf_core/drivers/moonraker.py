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
import logging
import random
from collections.abc import Coroutine, Mapping
from pathlib import Path
from typing import Any

import aiohttp

from ..aio import cancel_and_wait
from ..net.session import guarded_session
from ..net.urls import parse_printer_url
from .base import (
    SPEED_LEVELS,
    AuthenticationFailed,
    Capability,
    CapabilityNotSupported,
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
from .moonraker_rpc import RpcChannel, open_socket, upload_gcode
from .moonraker_status import (
    BASE_OBJECTS,
    CHAMBER_OBJECTS,
    JOB_STATES,
    RESULT_STATES,
    as_float,
    has_macro,
    job_fields,
    klippy_status,
    light_gcode,
    listed,
    merge_objects,
    readings,
)

_LOGGER = logging.getLogger(__name__)

HEATER_NAMES = {"nozzle": "extruder", "bed": "heater_bed", "chamber": "chamber"}


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
        self._rpc = RpcChannel(self._command_timeout)
        self._runner: asyncio.Task[None] | None = None
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
        await cancel_and_wait(runner)
        if self._rpc.ws is not None:
            await self._rpc.ws.close()
            self._rpc.ws = None
        if self._session is not None:
            await self._session.close()
            self._session = None
        for task in tuple(self._background):
            task.cancel()
        self._rpc.fail_pending(PrinterUnreachable("driver closed"))
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

    async def _session_once(self) -> None:
        assert self._session is not None
        ws = await open_socket(
            self._session,
            self._base_url,
            self._ws_url,
            self._api_key,
            use_oneshot=self._use_oneshot,
            connect_timeout=self._connect_timeout,
        )
        self._rpc.ws = ws
        self.connections += 1
        reader = asyncio.create_task(self._rpc.read_loop(ws, self._on_notification))
        try:
            sent_key = self._api_key if not self._use_oneshot else None
            await self._rpc.identify(sent_key, reply_within=self._connect_timeout)
            info = await self._rpc.call("server.info", reply_within=self._connect_timeout)
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
            await cancel_and_wait(reader)
            self._rpc.ws = None
            if not ws.closed:
                await ws.close()

    async def _klippy_message(self, klippy_state: Any) -> str:
        with contextlib.suppress(DriverError):
            info = await self._rpc.call(
                "printer.info", reply_within=min(3.0, self._connect_timeout)
            )
            if isinstance(info, Mapping) and info.get("state_message"):
                return f"Klipper is not ready: {str(info['state_message']).strip()}"
        return f"Klipper is not ready ({klippy_state})"

    async def _probe_extras(self) -> None:
        """Moonraker ``[power]`` devices and webcams, when configured."""
        self._power_names = []
        with contextlib.suppress(DriverError):
            found = await self._rpc.call("machine.device_power.devices", reply_within=5.0)
            self._power_names = [
                str(d["device"]) for d in listed(found, "devices") if "device" in d
            ]
        self._webcams = []
        with contextlib.suppress(DriverError):
            found = await self._rpc.call("server.webcams.list", reply_within=5.0)
            self._webcams = listed(found, "webcams")
        self._refresh_capabilities()

    def _on_notification(self, payload: Mapping[str, Any]) -> None:
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
        self._rpc.fail_pending(PrinterUnreachable("connection to moonraker lost"))
        self._update(status=Status.OFFLINE)

    # --- subscription and state -----------------------------------------------
    async def _subscribe(self) -> None:
        listed = await self._rpc.call("printer.objects.list", reply_within=self._connect_timeout)
        self._available = set(listed.get("objects", ())) if isinstance(listed, Mapping) else set()
        wanted: dict[str, None] = dict.fromkeys(BASE_OBJECTS)
        wanted.update(dict.fromkeys(name for name in CHAMBER_OBJECTS if name in self._available))
        if self._light_pin:
            wanted[self._light_object] = None
        result = await self._rpc.call(
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
        merge_objects(self._objects, changes)
        self._recompute()

    def _recompute(self) -> None:
        status, raw, error = klippy_status(self._objects, self._klippy_ready.is_set())
        stats = self._objects.get("print_stats", {})
        if raw in RESULT_STATES:
            if self._cleared == (raw, stats.get("filename")):  # the operator cleared the bed
                status, error, raw = Status.IDLE, None, "standby"
        else:
            self._cleared = None
        in_job = raw in JOB_STATES
        filename = str(stats.get("filename") or "") or None
        estimate = self._estimated_time.get(filename) if filename else None
        self._update(
            status=status,
            error=error,
            offline_reason=error if status is Status.OFFLINE else None,
            messages=(PrinterMessage("KLIPPER", Severity.SERIOUS, error),) if error else (),
            **readings(self._objects, self._light_object if self._light_pin else None),
            **job_fields(self._objects, in_job, estimate),
        )
        if in_job and filename and filename not in self._estimated_time:
            self._estimated_time[filename] = None
            self._spawn(self._fetch_estimate(filename))

    async def _fetch_estimate(self, filename: str) -> None:
        try:
            metadata = await self._rpc.call("server.files.metadata", {"filename": filename})
        except DriverError:
            return
        if isinstance(metadata, Mapping):
            self._estimated_time[filename] = as_float(metadata.get("estimated_time"))
            self._recompute()

    # --- JSON-RPC -----------------------------------------------------------------
    async def _ready_call(self, method: str, params: Mapping[str, Any] | None = None) -> Any:
        if self._rpc.ws is None:
            raise PrinterUnreachable("not connected to moonraker")
        if not self._klippy_ready.is_set():
            raise PrinterUnreachable("klippy is not ready")
        return await self._rpc.call(method, params)

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
        await upload_gcode(
            self._session,
            self._base_url,
            self._auth_headers(),
            path,
            filename,
            self._connect_timeout,
        )
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
        await self.send_gcode(light_gcode(self._light_object, on))

    def clear_result(self) -> None:
        """``print_stats`` keeps complete/cancelled/error until the next file is loaded."""
        stats = self._objects.get("print_stats", {})
        raw = str(stats.get("state", ""))
        if raw in RESULT_STATES:
            self._cleared = (raw, stats.get("filename"))
            self._recompute()

    async def set_speed(self, level: str) -> None:
        if level not in SPEED_LEVELS:
            raise DriverError(f"unknown speed level: {level} (use {', '.join(SPEED_LEVELS)})")
        await self.send_gcode(f"M220 S{SPEED_LEVELS[level]}")

    async def power_devices(self) -> list[PowerDevice]:
        self.require(Capability.POWER)
        found = await self._rpc.call("machine.device_power.devices", reply_within=5.0)
        return [
            PowerDevice(
                name=str(d.get("device")),
                on={"on": True, "off": False}.get(str(d.get("status"))),
                locked_while_printing=bool(d.get("locked_while_printing")),
            )
            for d in listed(found, "devices")
        ]

    async def set_power(self, device: str, on: bool) -> None:
        self.require(Capability.POWER)
        if device not in self._power_names:
            raise DriverError(f"no power device named {device!r}", code="INVALID_DEVICE")
        await self._rpc.call(
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
        return has_macro(self._available, macro)

    def _require_macro(self, macro: str) -> None:
        if not self._has_macro(macro):
            raise CapabilityNotSupported(Capability.FILAMENT_LOAD)

    @property
    def available_objects(self) -> frozenset[str]:
        """Klipper objects seen at the last subscription (``printer.objects.list``)."""
        return frozenset(self._available)


DRIVER = MoonrakerDriver
