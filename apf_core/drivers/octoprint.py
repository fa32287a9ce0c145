"""OctoPrint driver: REST with an API key, live state over the SockJS push socket.

Connection options:

``url``            base URL, e.g. ``http://octopi.local`` (or ``host`` and ``port``, default 80)
``api_key``        a user API key (sent as ``X-Api-Key``)
``use_push``       follow the push socket (default true); polling is the fallback
``poll_interval``  seconds between polls without the push socket (default 5)
``timeout``        seconds to wait for a command's answer (default 10)
``upload_timeout`` seconds to wait for an upload (default 600)
``reconnect_max``  longest pause between reconnect attempts in seconds (default 60)
``connect_serial`` ask OctoPrint to reconnect its serial port when it reports the
                   printer offline (default false; at most every 30 s)

OctoPrint has no light, filament or layer API. The state mapping (and the layer estimate)
is in :mod:`.octoprint_state`, the REST request in :mod:`.octoprint_http`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import aiohttp

from ..aio import cancel_and_wait
from ..net.session import guarded_session
from ..net.urls import printer_url_from_options
from .base import (
    SPEED_LEVELS,
    AuthenticationFailed,
    Backoff,
    Capability,
    CapabilityNotSupported,
    ConnectionConfig,
    DriverError,
    PrinterDriver,
    PrinterMessage,
    PrinterUnreachable,
    Severity,
    StartOptions,
    Status,
    http_base_url,
)
from .camera import fetch_snapshot
from .octoprint_http import AUTH_MESSAGE, HttpError, PushUnavailable, read_push, request
from .octoprint_state import (
    ACTIVE,
    layer_offsets,
    map_state,
    number,
    progress_fields,
    temperatures,
    webcam_snapshot_url,
)

_LOGGER = logging.getLogger(__name__)

_PUSH_RETRY_S = 60.0  # while polling, try the push socket again this often
_MAX_REMEMBERED_FILES = 32
_SERIAL_RETRY_S = 30.0


class OctoPrintDriver(PrinterDriver):
    protocol = "octoprint"
    capabilities = frozenset(
        {
            Capability.PAUSE_RESUME,
            Capability.HEATERS,
            Capability.HOME,
            Capability.GCODE,
            Capability.SPEED,
        }
    )

    def __init__(self, config: ConnectionConfig) -> None:
        super().__init__(config)
        options = config.options
        self.base_url = http_base_url("octoprint", options)
        self._api_key = str(options.get("api_key", ""))
        self._use_push = bool(options.get("use_push", True))
        self._poll_interval = float(options.get("poll_interval", 5.0))
        self._timeout = float(options.get("timeout", 10.0))
        self._upload_timeout = float(options.get("upload_timeout", 600.0))
        self._reconnect_max = float(options.get("reconnect_max", 60.0))
        self._connect_serial = bool(options.get("connect_serial", False))
        self._serial_attempt_at: float | None = None
        self._serial_task: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None
        self._task: asyncio.Task[None] | None = None
        self._online = False
        # what the last snapshot said, to tell "finished" from "cancelled"
        self._result: Status | None = None  # FINISHED / CANCELLED / ERROR after a job
        self._result_error: str | None = None
        self._layers: dict[str, list[int]] = {}  # file name -> layer marker offsets
        self._last_text = ""
        self._temps: dict[str, Any] = {}

    # --- lifecycle -------------------------------------------------------------
    async def connect(self) -> None:
        if self._task is not None:
            return
        self._session = guarded_session(
            headers={"X-Api-Key": self._api_key},
            auth=printer_url_from_options("octoprint", self.config.options).auth,
            cookie_jar=aiohttp.DummyCookieJar(),  # API-key requests need no CSRF cookie
        )
        try:
            await self._check_key()
            await self._detect_profile()
            await self._refresh()
        except AuthenticationFailed:
            await self.close()
            raise
        except DriverError as err:
            self._go_offline(str(err))
        self._task = asyncio.create_task(self._run(), name=f"octoprint {self.base_url}")

    async def close(self) -> None:
        tasks = (self._task, self._serial_task)
        self._task = self._serial_task = None
        await cancel_and_wait(*tasks)
        session, self._session = self._session, None
        if session is not None:
            await session.close()
        self._go_offline(None)

    # --- background loop -------------------------------------------------------------
    async def _run(self) -> None:
        backoff = Backoff(initial=1.0, maximum=self._reconnect_max)
        while True:
            try:
                if not self._online:
                    await self._check_key()
                    await self._detect_profile()
                    await self._refresh()
                backoff.reset()
                if self._use_push:
                    try:
                        await self._follow_push()
                        continue
                    except PushUnavailable as err:
                        _LOGGER.debug(
                            "%s: push socket unavailable (%s), polling", self.base_url, err
                        )
                await self._poll(_PUSH_RETRY_S if self._use_push else math.inf)
            except DriverError as err:  # unreachable, rejected key, timeout, garbage
                self._go_offline(str(err))
                await asyncio.sleep(backoff.next_delay())

    async def _poll(self, duration: float) -> None:
        loop = asyncio.get_running_loop()
        until = loop.time() + duration
        while loop.time() < until:
            await asyncio.sleep(self._poll_interval)
            await self._refresh()

    async def _follow_push(self) -> None:
        session = self._require_session()
        try:
            login = await self._request("POST", "/api/login", json={"passive": True})
        except HttpError as err:
            raise PushUnavailable(str(err)) from err
        if not isinstance(login, dict) or not login.get("session"):
            raise PushUnavailable("passive login returned no session")
        try:
            async with asyncio.timeout(self._timeout):
                socket = await session.ws_connect(
                    self.base_url + "/sockjs/websocket", heartbeat=20.0
                )
            async with socket:
                await socket.send_str(json.dumps({"auth": f"{login['name']}:{login['session']}"}))
                await socket.send_str(json.dumps({"throttle": 2}))  # one update a second
                snapshots = await read_push(socket, self._on_push)
        except (aiohttp.ClientError, TimeoutError) as err:
            raise PushUnavailable(str(err) or type(err).__name__) from err
        if snapshots == 0:
            raise PushUnavailable("the push socket closed without sending a status")
        # the socket closed: make sure the server is still there before re-opening it
        await self._refresh()

    def _on_push(self, payload: Mapping[str, Any]) -> bool:
        """Apply one pushed message; True when it carried a status snapshot."""
        event = payload.get("event")
        if isinstance(event, Mapping):
            details = event.get("payload")
            self._on_event(str(event.get("type")), details if isinstance(details, Mapping) else {})
        applied = False
        for key in ("history", "current"):
            data = payload.get(key)
            if isinstance(data, Mapping) and isinstance(data.get("state"), Mapping):
                temps = data.get("temps")
                latest = temps[-1] if isinstance(temps, list) and temps else None
                self._apply(data["state"], data.get("job"), data.get("progress"), latest)
                applied = True
        return applied

    def _on_event(self, kind: str, payload: Mapping[str, Any]) -> None:
        if kind in ("PrintStarted", "PrintResumed"):
            self._result, self._result_error = None, None
        elif kind == "PrintDone":
            self._result, self._result_error = Status.FINISHED, None
        elif kind == "PrintCancelled":
            self._result, self._result_error = Status.CANCELLED, None
        elif kind == "PrintFailed" and payload.get("reason") == "error":
            self._result = Status.ERROR
            self._result_error = str(payload.get("error") or "print failed")

    # --- reading state -------------------------------------------------------------
    async def _check_key(self) -> None:
        user = await self._request("GET", "/api/currentuser")
        if not isinstance(user, dict) or not user.get("name"):
            raise AuthenticationFailed(AUTH_MESSAGE)

    async def _detect_profile(self) -> None:
        """A heated chamber in the current printer profile enables chamber control."""
        try:
            answer = await self._request("GET", "/api/printerprofiles")
        except HttpError:
            return
        profiles = answer.get("profiles") if isinstance(answer, dict) else None
        if not isinstance(profiles, Mapping):
            return
        for profile in profiles.values():
            if isinstance(profile, Mapping) and profile.get("current"):
                capabilities = set(type(self).capabilities)
                if profile.get("heatedChamber"):
                    capabilities.add(Capability.CHAMBER_TEMP)
                if await self._webcam_url():
                    capabilities.add(Capability.CAMERA)
                self.capabilities = frozenset(capabilities)

    async def _refresh(self) -> None:
        job = await self._request("GET", "/api/job")
        if not isinstance(job, dict):
            raise PrinterUnreachable("OctoPrint sent a malformed job status")
        text = str(job.get("state") or "Unknown")
        try:
            printer = await self._request("GET", "/api/printer", expect_json=True)
        except HttpError as err:  # 409: the printer is not connected to OctoPrint
            if err.status != 409:
                raise
            printer = None
        if isinstance(printer, dict) and isinstance(printer.get("state"), Mapping):
            state = printer["state"]
            temperature = printer.get("temperature")
        else:
            state = {"text": text, "flags": {"operational": False}, "error": ""}
            temperature = None
        self._apply(state, job.get("job"), job.get("progress"), temperature)

    def _apply(
        self,
        state: Mapping[str, Any],
        job: Any,
        progress: Any,
        temperature: Any,
    ) -> None:
        """Merge one snapshot (from REST or the push socket) into the state."""
        self._online = True
        text = str(state.get("text") or "")
        job = job if isinstance(job, Mapping) else {}
        progress = progress if isinstance(progress, Mapping) else {}
        file_info = job.get("file") if isinstance(job.get("file"), Mapping) else {}
        file_name = file_info.get("name")
        status = self._job_status(state, text, number(progress.get("completion")))
        self._last_text = text
        error = str(state.get("error") or "") or None
        if status is Status.ERROR:
            error = self._result_error or error or text
        if status is Status.OFFLINE:
            error = f"OctoPrint is not connected to the printer ({error or text or 'unknown'})"
            self._maybe_connect_serial()
        else:
            self._back_online()
        changes: dict[str, Any] = {
            "status": status,
            "offline_reason": error if status is Status.OFFLINE else None,
            "messages": (
                (PrinterMessage("FIRMWARE_ERROR", Severity.SERIOUS, error or text),)
                if status is Status.ERROR
                else ()
            ),
            "error": error if status in (Status.ERROR, Status.OFFLINE) else None,
            "current_file": file_name if status in ACTIVE or self._result else None,
        }
        if status in ACTIVE or status is Status.FINISHED:
            changes.update(progress_fields(status, progress, self._layers.get(str(file_name))))
        elif status is not Status.CANCELLED:
            changes.update(
                progress=None, remaining_time_minutes=None, layer_num=None, total_layers=None
            )
        changes.update(temperatures(temperature))
        self._update(**changes)

    def _job_status(self, state: Mapping[str, Any], text: str, completion: float | None) -> Status:
        """The mapped status, replaced by the remembered result of the last job when idle."""
        raw_flags = state.get("flags")
        flags: Mapping[str, Any] = raw_flags if isinstance(raw_flags, Mapping) else {}
        status = map_state(text, flags)
        previous = self._state.status
        failed_here = status is Status.ERROR or self._result is Status.ERROR
        if text.startswith("Offline after error") and (previous in ACTIVE or failed_here):
            # a firmware error mid-print: OctoPrint fires PrintFailed(reason=error) and drops
            # the serial link; the job failed, the printer is not merely offline
            self._result = Status.ERROR
        if status not in ACTIVE and (self._result is Status.ERROR or status is Status.ERROR):
            self._result = Status.ERROR
            self._result_error = self._result_error or str(state.get("error") or text)
            return Status.ERROR
        if status in ACTIVE:
            self._result, self._result_error = None, None
        elif status is Status.IDLE:
            if previous in ACTIVE and self._result is None:
                finished = completion is not None and completion >= 99.99
                self._result = Status.FINISHED if finished else Status.CANCELLED
            if self._result is None and completion is not None and completion >= 99.99:
                self._result = Status.FINISHED  # the last job, e.g. after a restart
            if self._result is not None:
                status = self._result
        return status

    def _maybe_connect_serial(self) -> None:
        if not self._connect_serial or self._session is None:
            return
        if self._serial_task is not None and not self._serial_task.done():
            return
        now = asyncio.get_running_loop().time()
        if self._serial_attempt_at is not None and now - self._serial_attempt_at < _SERIAL_RETRY_S:
            return
        self._serial_attempt_at = now
        self._serial_task = asyncio.create_task(self._reconnect_serial())

    async def _reconnect_serial(self) -> None:
        """Connect OctoPrint to the printer with its saved port settings."""
        try:
            await self._request("POST", "/api/connection", json={"command": "connect"})
        except DriverError as err:
            _LOGGER.info("%s: serial reconnect failed: %s", self.base_url, err)

    def _go_offline(self, reason: str | None, *, keep: bool = False) -> None:
        self._online = False
        super()._go_offline(reason, keep=keep)

    # --- job control -------------------------------------------------------------
    async def start_print(
        self, path: Path, filename: str, options: StartOptions | None = None
    ) -> None:
        path = Path(path)
        try:
            offsets = await asyncio.to_thread(layer_offsets, path)
            handle = await asyncio.to_thread(path.open, "rb")
        except OSError as err:
            raise DriverError(f"cannot read the print file: {err.strerror or err}") from err
        with handle:
            form = aiohttp.FormData()
            form.add_field(
                "file", handle, filename=filename, content_type="application/octet-stream"
            )
            form.add_field("select", "true")
            form.add_field("print", "true")
            answer = await self._request(
                "POST", "/api/files/local", data=form, wait_s=self._upload_timeout
            )
        stored = filename
        if isinstance(answer, dict):
            local = (answer.get("files") or {}).get("local") or {}
            stored = str(local.get("name") or filename)
            self._layers.pop(stored, None)
            self._layers[stored] = offsets
            while len(self._layers) > _MAX_REMEMBERED_FILES:
                self._layers.pop(next(iter(self._layers)))
            if not answer.get("effectivePrint", False):
                raise DriverError("OctoPrint stored the file but did not start the print")
        self._result, self._result_error = None, None
        await self._refresh_quietly()

    async def pause(self) -> None:
        await self._request("POST", "/api/job", json={"command": "pause", "action": "pause"})
        await self._refresh_quietly()

    async def resume(self) -> None:
        await self._request("POST", "/api/job", json={"command": "pause", "action": "resume"})
        await self._refresh_quietly()

    async def stop(self) -> None:
        await self._request("POST", "/api/job", json={"command": "cancel"})
        self._result = Status.CANCELLED
        await self._refresh_quietly()

    def clear_result(self) -> None:
        """The stored finished/cancelled/failed result stops counting after a bed clear."""
        if self._result is None:
            return
        self._result, self._result_error = None, None
        if self._last_text.startswith(("Offline", "Error")):
            self._go_offline(
                f"OctoPrint is not connected to the printer ({self._last_text})", keep=True
            )
        else:
            self._update(status=Status.IDLE, error=None, current_file=None, progress=None)

    async def _webcam_url(self) -> str | None:
        """The snapshot URL from OctoPrint's settings (classic webcam plugin, or the old key)."""
        try:
            settings = await self._request("GET", "/api/settings")
        except HttpError:
            return None
        return webcam_snapshot_url(settings)

    async def snapshot(self) -> bytes:
        url = await self._webcam_url()
        if url is None:
            raise CapabilityNotSupported(
                Capability.CAMERA, "OctoPrint has no webcam snapshot URL in its settings"
            )
        return await fetch_snapshot(self.base_url, url)

    async def set_speed(self, level: str) -> None:
        if level not in SPEED_LEVELS:
            raise DriverError(f"unknown speed level: {level} (use {', '.join(SPEED_LEVELS)})")
        await self.send_gcode(f"M220 S{SPEED_LEVELS[level]}")
        self._update(speed_percent=SPEED_LEVELS[level])  # OctoPrint does not report it

    async def _refresh_quietly(self) -> None:
        """Show a command's effect at once; the next push or poll corrects any miss."""
        with contextlib.suppress(DriverError):
            await self._refresh()

    # --- hardware ----------------------------------------------------------------
    async def set_temperature(self, heater: str, target: float) -> None:
        if target < 0:
            raise DriverError("target temperature must not be negative")
        if heater == "nozzle":
            body: dict[str, Any] = {"command": "target", "targets": {"tool0": target}}
            await self._request("POST", "/api/printer/tool", json=body)
        elif heater == "bed":
            await self._request(
                "POST", "/api/printer/bed", json={"command": "target", "target": target}
            )
        elif heater == "chamber":
            self.require(Capability.CHAMBER_TEMP)
            await self._request(
                "POST", "/api/printer/chamber", json={"command": "target", "target": target}
            )
        else:
            raise DriverError(f"unknown heater: {heater}")

    async def home(self) -> None:
        body = {"command": "home", "axes": ["x", "y", "z"]}
        await self._request("POST", "/api/printer/printhead", json=body)

    async def send_gcode(self, script: str) -> None:
        commands = [line.strip() for line in script.splitlines() if line.strip()]
        if not commands:
            raise DriverError("no G-code to send")
        await self._request("POST", "/api/printer/command", json={"commands": commands})

    # --- HTTP ----------------------------------------------------------------------
    def _require_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise PrinterUnreachable("OctoPrint driver is not connected")
        return self._session

    async def _request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        data: Any = None,
        wait_s: float | None = None,
        expect_json: bool = False,
    ) -> Any:
        return await request(
            self._require_session(),
            self.base_url,
            method,
            path,
            timeout=wait_s or self._timeout,
            json=json,
            data=data,
            expect_json=expect_json,
        )


DRIVER = OctoPrintDriver
